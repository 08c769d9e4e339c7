"""What a local function sees: file values and cooperative cancellation.

A local function is a plain Python callable registered through the `register_functions` hook.
Parameters annotated `File` (or `Video`, `Audio`, `Image`) receive a `File` whose `path` is a
local file the server prepared (downloaded from `http(s)://`, or taken from `file://` or a
plain path). Returning a `File(path=...)` makes the server store that file and serve it back by
URL. Long-running functions call `check_cancelled()` or `sleep()` so a `DELETE` can stop them.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class File:
    """A file value: `{"url": ...}` or `{"path": ...}` on the wire (Sieve's `sieve.File`)."""

    url: str | None = None
    path: str | Path | None = None

    #: The Sieve type string for this class in function metadata.
    sieve_type = "sieve.File"

    def __post_init__(self) -> None:
        if self.url is None and self.path is None:
            raise ValueError("a File needs a url or a path")


class Video(File):
    sieve_type = "sieve.Video"


class Audio(File):
    sieve_type = "sieve.Audio"


class Image(File):
    sieve_type = "sieve.Image"


class JobCancelled(Exception):
    """Raised inside a local function when its job was cancelled."""


_cancel_event: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "sievefile_cancel_event", default=None
)


def bind_cancel_event(event: threading.Event) -> contextvars.Token[threading.Event | None]:
    """Used by the worker that runs a job: binds the job's cancel event to this context."""
    return _cancel_event.set(event)


def cancellation_requested() -> bool:
    event = _cancel_event.get()
    return event is not None and event.is_set()


def check_cancelled() -> None:
    """Raise JobCancelled if the running job was cancelled."""
    if cancellation_requested():
        raise JobCancelled("job was cancelled")


def sleep(seconds: float) -> None:
    """Sleep like time.sleep, but wake up and raise JobCancelled as soon as the job is cancelled."""
    event = _cancel_event.get()
    if event is None:
        threading.Event().wait(seconds)
        return
    if event.wait(seconds):
        raise JobCancelled("job was cancelled")
