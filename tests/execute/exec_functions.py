"""Local functions (owner `exec`) for the executor's tests.

Importable as `exec_functions` by the tests and by a `sievefile serve --plugin exec_functions`
subprocess (tests/execute is put on PYTHONPATH for it).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner import RegisterFunction, hookimpl
from runner.local import types

_calls: dict[str, int] = {}
_calls_lock = threading.Lock()


def flaky(token: str, failures: int = 1, value: Any = None) -> Any:
    """Fail the first `failures` calls made with `token`, then return `value`."""
    with _calls_lock:
        _calls[token] = _calls.get(token, 0) + 1
        call = _calls[token]
    if call <= failures:
        raise RuntimeError(f"flaky failure {call} of {failures}")
    return value


def fail(message: str = "this job always fails") -> str:
    """Raise RuntimeError(message)."""
    raise RuntimeError(message)


def nap(seconds: float, value: Any = None, fail: bool = False) -> Any:
    """Sleep cooperatively (a DELETE stops it), then return `value` (or raise, with `fail`)."""
    types.sleep(seconds)
    if fail:
        raise RuntimeError(f"failed after {seconds:g}s, as asked")
    return value


def items(count: int, prefix: str = "item") -> list[str]:
    """A list of `count` strings, for run-time matrices."""
    return [f"{prefix}-{index}" for index in range(count)]


def write(text: str, name: str = "out.txt") -> Iterator[Any]:
    """Two outputs: a file holding `text` (named `name`), then JSON describing it."""
    folder = Path(tempfile.mkdtemp(prefix="exec-write-"))
    path = folder / name
    path.write_text(text, encoding="utf-8")
    yield types.File(path=path)
    yield {"name": name, "length": len(text)}


def link(url: str) -> types.File:
    """A file output that is only a URL, whatever the URL says (for hostile-output tests)."""
    return types.File(url=url)


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    register(flaky, name="exec/flaky")
    register(fail, name="exec/fail")
    register(nap, name="exec/nap")
    register(items, name="exec/items")
    register(write, name="exec/write")
    register(link, name="exec/link")
