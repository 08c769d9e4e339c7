"""The result cache key: when two job instances would do the same work.

`cache_key = sha256(function version, canonical JSON of the resolved inputs, env names)`.
The function version is the manifest's pin, else the lock file's version, else the reference
text itself (an unpinned, unlocked function may change under the same key: lock the manifest
to make its cache exact). Secret values are never part of the key: every `${{ env.* }}` value
inside the inputs is replaced by its variable's name, and of the job's `env` only the names
count. Webhooks are not part of the key (they do not change what a job computes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from runner.manifest.resolve import ResolvedJob


def function_version(job: ResolvedJob, locked: Mapping[str, str]) -> str:
    """The version the key is about: pin, else `locked[str(function)]`, else the reference."""
    function = job.function
    if function.version:
        return f"{function.slug}:{function.version}"
    version = locked.get(str(function))
    return f"{function.slug}:{version}" if version else str(function)


def cache_key(job: ResolvedJob, locked: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """The key of `job`; see the module docstring. `environ` names the secrets it used."""
    names = _secret_names(job.secrets, environ)
    document = {
        "function": function_version(job, locked),
        "inputs": _replace_secrets(job.inputs, names),
        "env": sorted(job.env),
        "secret_names": sorted(set(names.values())),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _secret_names(secrets: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """`{secret value: variable name}` for the secrets a job used."""
    values = set(secrets)
    if not values:
        return {}
    return {value: name for name, value in sorted(environ.items()) if value in values}


def _replace_secrets(value: Any, names: Mapping[str, str]) -> Any:
    if not names:
        return value
    if isinstance(value, str):
        for secret in sorted(names, key=len, reverse=True):
            value = value.replace(secret, "${{ env." + names[secret] + " }}")
        return value
    if isinstance(value, dict):
        return {key: _replace_secrets(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_secrets(item, names) for item in value]
    return value
