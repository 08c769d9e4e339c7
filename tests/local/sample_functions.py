"""A plugin of small local functions (owner `test`) for the local backend's tests.

Importable as `sample_functions` both by the tests (pytest puts this folder on sys.path) and
by a `sievefile serve --plugin sample_functions` subprocess (the fixture sets PYTHONPATH).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from runner import RegisterFunction, hookimpl
from runner.local import types
from runner.local.types import File, Video


def kinds(
    text: str,
    count: int = 1,
    ratio: float = 0.5,
    flag: bool = False,
    mode: Literal["fast", "slow"] = "fast",
    tags: list[str] | None = None,
    extra: dict | None = None,
) -> dict:
    """Return every input, so a test sees what the function received.

    :param text: any text
    :param count: how many times to repeat `text`
    :returns: the inputs, with `text` repeated
    """
    return {
        "text": text * count,
        "ratio": ratio,
        "ratio_type": type(ratio).__name__,
        "flag": flag,
        "mode": mode,
        "tags": tags,
        "extra": extra,
    }


def nap(seconds: float, payload: str = "done") -> str:
    """Sleep cooperatively (a DELETE stops it at once), then return `payload`."""
    types.sleep(seconds)
    return payload


def spin(seconds: float) -> str:
    """Busy-wait, checking for cancellation every few milliseconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        types.check_cancelled()
        time.sleep(0.005)
    return "spun"


def stubborn(seconds: float) -> str:
    """Sleep without ever looking at the cancel event."""
    time.sleep(seconds)
    return "ignored the cancel"


def count(n: int, pause: float = 0.0) -> Iterator[int]:
    """Yield 0 .. n-1, one output each, waiting `pause` seconds between them."""
    for index in range(n):
        if pause:
            types.sleep(pause)
        yield index


def fail(message: str) -> str:
    """Raise RuntimeError(message)."""
    raise RuntimeError(message)


def write_text(text: str, name: str = "out.txt") -> File:
    """Write `text` to a new file called `name` and return it."""
    path = Path(tempfile.mkdtemp(prefix="sample-")) / name
    path.write_text(text, encoding="utf-8")
    return File(path=path)


def read_text(file: File) -> dict:
    """The text of `file`, with where the function saw it."""
    assert file.path is not None
    return {"text": Path(file.path).read_text(encoding="utf-8"), "path": str(file.path)}


def bundle(video: Video, copies: int = 2) -> dict:
    """A dict holding `copies` file outputs (a list of Files) and the input's size."""
    assert video.path is not None
    data = Path(video.path).read_bytes()
    outputs = []
    for index in range(copies):
        path = Path(tempfile.mkdtemp(prefix="sample-")) / f"copy{index}.bin"
        path.write_bytes(data)
        outputs.append(File(path=path))
    return {"copies": outputs, "size": len(data), "kind": type(video).__name__}


def nothing() -> None:
    """Return nothing (no outputs)."""


def quit_early() -> str:
    """Call sys.exit(3), as a careless script might."""
    sys.exit(3)


def lost_file() -> File:
    """Return a File whose path does not exist."""
    return File(path="/no/such/output.bin")


def bad_output() -> object:
    """Return a value JSON cannot carry."""
    return object()


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    register(kinds, name="test/kinds")
    register(nap, name="test/nap")
    register(spin, name="test/spin")
    register(stubborn, name="test/stubborn")
    register(count, name="test/count")
    register(fail, name="test/fail")
    register(write_text, name="test/write-text")
    register(read_text, name="test/read-text")
    register(bundle, name="test/bundle")
    register(nothing, name="test/nothing")
    register(bad_output, name="test/bad-output")
    register(lost_file, name="test/lost-file")
    register(quit_early, name="test/quit-early")
