"""A sample plugin that cannot be imported: it needs a package that is not installed."""

import sievefile_sample_missing_dependency  # noqa: F401
