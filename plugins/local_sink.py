"""Built-in plugin: the `local` sink writes job outputs into a folder.

```toml
[[sinks]]
use = "local"
path = "out/{run}/{job}"    # relative to the manifest's folder
```

The rendered `path` is a folder holding `output_0.mp4`, `output_1.json`, ... unless it contains
`{output}`, in which case it names the file itself (the suffix is appended). Naming rules live
in `plugins._sinks`. Nothing is written outside the template's fixed leading folder (`out`
above): placeholder values are sanitised, and the final path is resolved and checked as well.
A file is streamed to a temporary file beside its target, hashed (SHA-256) on the way, and
renamed over the target; a target that already holds the same bytes is left untouched, so a
redelivery changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from plugins._sinks import PLACEHOLDERS, PathTemplate, open_output, sink_label
from runner import (
    Delivery,
    PluginContext,
    RegisterSink,
    SievefileError,
    SinkKind,
    hookimpl,
)

KIND = "local"
_CHUNK = 1024 * 1024

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "Folder (or, with {output}, file) for each output, relative to the "
            "manifest's folder; placeholders: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
        },
    },
}


@dataclass(frozen=True)
class LocalSink:
    """Writes each output under `root` (the template's fixed leading folder)."""

    template: PathTemplate
    root: Path
    label: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: PluginContext) -> LocalSink:
        """A LocalSink for one `[[sinks]]` entry; ConfigError for a bad `path` template."""
        where = f"sinks[{context.index}].path"
        template = PathTemplate.parse(str(config["path"]), where=where)
        fixed = os.path.expanduser("/".join(template.fixed)) if template.fixed else "."
        return cls(template, context.manifest_dir / fixed, sink_label(KIND, context))

    def target(self, delivery: Delivery) -> Path:
        """Where `delivery` goes; SievefileError if it would resolve outside the root (a
        symbolic link inside the folder pointing out, say)."""
        root = Path(os.path.realpath(self.root))
        target = root.joinpath(*self.template.render(delivery))
        resolved = Path(os.path.realpath(target))
        if resolved == root or not resolved.is_relative_to(root):
            raise SievefileError(
                f"{self.label}: refusing to write {target}: it resolves to {resolved}, "
                f"outside the sink's folder {root}"
            )
        return target

    def deliver(self, delivery: Delivery) -> str:
        """Store one output; returns the file's path."""
        target = self.target(delivery)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._write_error(target.parent, error) from error
        with open_output(delivery.output) as source:
            self._write(source, target)
        return str(target)

    def _write(self, source: IO[bytes], target: Path) -> None:
        """Stream `source` into a temporary file beside `target`, then rename it over `target`
        unless `target` already holds the same bytes."""
        _remove_orphaned_parts(target.parent)
        temporary = target.parent / f".sievefile-{os.getpid()}-{secrets.token_hex(8)}.part"
        try:
            # not mkstemp: its files are 0600, and an output should get the umask's permissions
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            handle = os.open(temporary, flags, 0o666)
        except OSError as error:
            raise self._write_error(target.parent, error) from error
        try:
            size, digest = self._fill(handle, source, target)
            try:
                if not _holds(target, size, digest):
                    os.replace(temporary, target)
            except OSError as error:
                raise self._write_error(target, error) from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def _fill(self, handle: int, source: IO[bytes], target: Path) -> tuple[int, str]:
        """Copy `source` into the open file `handle` in chunks; the size and SHA-256 copied.
        A read error is the source's and propagates as it is; a write error names `target`."""
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                try:
                    out.write(chunk)
                except OSError as error:
                    raise self._write_error(target, error) from error
            try:
                out.flush()
                # the run ledger records the delivery as done: the bytes must be on disk first
                os.fsync(out.fileno())
            except OSError as error:
                raise self._write_error(target, error) from error
        return size, digest.hexdigest()

    def _write_error(self, path: Path, error: OSError) -> SievefileError:
        reason = error.strerror or type(error).__name__
        return SievefileError(f"{self.label}: cannot write {path}: {reason}")


def _remove_orphaned_parts(folder: Path) -> None:
    """Delete the temporary files that a killed sievefile left in `folder` (their writer's
    pid is no longer running), so a resume leaves only whole outputs behind."""
    for part in folder.glob(".sievefile-*-*.part"):
        pid = part.name.split("-")[1]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                part.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _holds(path: Path, size: int, digest: str) -> bool:
    """Whether `path` is a file of `size` bytes whose SHA-256 is `digest`."""
    try:
        if not path.is_file() or path.stat().st_size != size:
            return False
        existing = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                existing.update(chunk)
    except OSError:
        return False
    return existing.hexdigest() == digest


def _destination(config: Mapping[str, Any]) -> str:
    return str(config["path"])


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register(
        SinkKind(
            name=KIND,
            config_schema=CONFIG_SCHEMA,
            factory=LocalSink.from_config,
            description="Write outputs into a folder (files streamed, JSON outputs as .json).",
            destination=_destination,
        )
    )
