"""Function schemas: Sieve metadata to JSON Schema, the cache on disk, the lock file, validation.

The flow: `pull_schemas` resolves a manifest's function references (pin, lock, cache, service)
to `FunctionSchema`s; `write_lock` records their versions and digests; `check_lock` refuses
drift; `validate_job_inputs` checks a job's inputs with validators compiled once per schema.
References are the manifest's `runner.manifest.model.FunctionRef`.

Submodules not imported here (they bring in the manifest loader and the API client):
`runner.schemas.jobs` (a loaded manifest's functions, schemas and input checks),
`runner.schemas.actions` (`lock_manifest`, `pull_manifests`, `schema_problems`: what the
commands call) and `runner.schemas.service` (`backend_fetcher`: metadata over
`SieveClient.get_function`).
"""

from runner.schemas.cache import SchemaCache, default_schemas_dir, read_schema_file
from runner.schemas.derive import derive_schema
from runner.schemas.lock import (
    Drift,
    LockEntry,
    Lockfile,
    build_lock,
    check_lock,
    find_drift,
    lock_path_for,
    read_lock,
    write_lock,
)
from runner.schemas.model import FunctionSchema, OutputSpec
from runner.schemas.project import lock_functions, resolve_schemas
from runner.schemas.pull import FetchMetadata, fetch_latest, latest_metadata, pull_schemas
from runner.schemas.refs import Locations, parse_ref
from runner.schemas.validate import (
    InputProblem,
    check_inputs,
    compile_schema,
    ensure_valid_inputs,
    format_input_path,
    validate_job_inputs,
)

__all__ = [
    "Drift",
    "FetchMetadata",
    "FunctionSchema",
    "InputProblem",
    "Locations",
    "LockEntry",
    "Lockfile",
    "OutputSpec",
    "SchemaCache",
    "build_lock",
    "check_inputs",
    "check_lock",
    "compile_schema",
    "default_schemas_dir",
    "derive_schema",
    "ensure_valid_inputs",
    "fetch_latest",
    "find_drift",
    "format_input_path",
    "latest_metadata",
    "lock_functions",
    "lock_path_for",
    "parse_ref",
    "pull_schemas",
    "read_lock",
    "read_schema_file",
    "resolve_schemas",
    "validate_job_inputs",
    "write_lock",
]
