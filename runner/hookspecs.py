"""The hooks sievefile calls, with what each may return.

Plugins implement them with `@runner.hookimpl`. Every hook here is documented in
docs/plugins.md and has a test in tests/plugins/.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("sievefile")
hookimpl = pluggy.HookimplMarker("sievefile")

#: `register(function, name="owner/name")` adds a Python callable to the local backend.
RegisterFunction = Callable[..., None]


@hookspec
def register_functions(register: RegisterFunction) -> None:
    """Add local functions to the local backend.

    Called once when a local backend (embedded or `sievefile serve`) builds its function
    registry. Call `register(callable, name="owner/name")` for each function; the callable's
    signature, annotations and docstring become its Sieve metadata (see docs/local-backend.md).
    Returns nothing.
    """


def _all_hook_names() -> list[str]:
    return [name for name, value in globals().items() if hasattr(value, "sievefile_spec")]


HOOK_NAMES: tuple[str, ...] = tuple(_all_hook_names())
__all__ = ["HOOK_NAMES", "RegisterFunction", "hookimpl", "hookspec", "register_functions"]
