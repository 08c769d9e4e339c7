"""The manifest language: load a TOML manifest, check it, expand it, plan it, resolve it.

```python
from runner.manifest import load_manifest, build_plan

manifest = load_manifest("manifests/podcast.toml", variables={"language": "french"})
plan = build_plan(manifest, select=["+summary"])
```
See docs/manifest.md for the language and `runner.manifest.plan` for the executor's API.
"""

from runner.manifest.loader import check_manifest, load_manifest, load_manifest_text
from runner.manifest.matrix import JobInstance
from runner.manifest.model import Defaults, FunctionRef, JobSpec, Manifest, Matrix, RunSettings
from runner.manifest.plan import Plan, build_plan, load_plan
from runner.manifest.references import Reference, Template, parse_reference, parse_template
from runner.manifest.resolve import ResolvedJob, Results
from runner.manifest.selection import select_jobs
from runner.manifest.structure import MANIFEST_SCHEMA, manifest_schema
from runner.manifest.variables import collect_variables, parse_var_options, read_vars_file

__all__ = [
    "MANIFEST_SCHEMA",
    "Defaults",
    "FunctionRef",
    "JobInstance",
    "JobSpec",
    "Manifest",
    "Matrix",
    "Plan",
    "Reference",
    "ResolvedJob",
    "Results",
    "RunSettings",
    "Template",
    "build_plan",
    "check_manifest",
    "collect_variables",
    "load_manifest",
    "load_manifest_text",
    "load_plan",
    "manifest_schema",
    "parse_reference",
    "parse_template",
    "parse_var_options",
    "read_vars_file",
    "select_jobs",
]
