"""The local backend: the Sieve API served by sievefile itself.

- `LocalBackend` (runner.local.backend): jobs, functions, files, webhooks, in process.
- `create_app` (runner.local.app): the Starlette app serving a backend under `/v2`.
- `ServerThread` / `serve` (runner.local.server): that app on a real socket with uvicorn.
- `runner.local.types`: what a local function sees (`File`, `check_cancelled`, ...).

The names are imported lazily so that `import runner.local.types` (every local function
plugin does it) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LocalBackend": "runner.local.backend",
    "EMBEDDED_BASE_URL": "runner.local.backend",
    "create_app": "runner.local.app",
    "ServerThread": "runner.local.server",
    "serve": "runner.local.server",
    "FunctionRegistry": "runner.local.registry",
    "build_registry": "runner.local.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner.local' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
