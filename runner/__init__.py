"""sievefile: declarative job manifests for the Sieve media-AI API.

The public API is what this module exports; everything else is internal and may change.
"""

from runner.errors import (
    ApiError,
    BackendError,
    ConfigError,
    Interrupted,
    ManifestError,
    RunError,
    SievefileError,
    SourceLocation,
    ValidationError,
)
from runner.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "BackendError",
    "ConfigError",
    "Interrupted",
    "ManifestError",
    "RunError",
    "SievefileError",
    "SourceLocation",
    "ValidationError",
    "__version__",
    "hookimpl",
]
