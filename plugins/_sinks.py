"""What the built-in sinks share: path templates, output file names, an output's bytes.

Not a plugin (it registers nothing): `plugins.local_sink` and `plugins.s3` import it so that a
file delivered to a folder and the same file delivered to a bucket get the same name.

A template such as `out/{run}/{job}` is split into segments at `/` (and `\\`). Each placeholder
value is made safe with `runner.safe_path_part` before it is put in, so a value can never add a
separator or climb with `..`; each finished segment is made safe again (literal text included)
and shortened to a length every file system accepts, with a hash of what was cut so that two
long names stay apart. The file name is `<output name><suffix>`: `output_0.mp4` for a file
whose URL path ends in `.mp4`, `output_1.json` for a JSON output.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import unquote, urlsplit

from runner import ConfigError, Delivery, OutputRecord, PluginContext, safe_path_part

#: The placeholders a path template or key prefix may use (`Delivery.placeholders()`).
PLACEHOLDERS: tuple[str, ...] = ("run", "name", "job", "instance", "key", "function", "output")

_FIELD = re.compile(r"\{([^{}]*)\}")
_SEPARATORS = re.compile(r"[\\/]")
# Only a short alphanumeric suffix of a URL path is kept: anything else is the server's to
# choose, and a server is not trusted with our file names.
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")
# Most file systems allow 255 bytes per name; this leaves room for a suffix and a temporary
# name's decoration.
_MAX_SEGMENT_BYTES = 200
_HASH_LENGTH = 12


def sink_label(kind: str, context: PluginContext) -> str:
    """How a sink names itself in errors: `sinks[0] (local)`."""
    return f"sinks[{context.index}] ({kind})"


@dataclass(frozen=True)
class PathTemplate:
    """A path template parsed once, rendered per delivery.

    `fixed` holds the leading segments without placeholders as written (for the local sink,
    the folder nothing may be written outside of); `dynamic` the rest. With `anchored=False`
    every segment is dynamic (an S3 key has no folder to anchor to).
    """

    text: str
    fixed: tuple[str, ...]
    dynamic: tuple[str, ...]
    names_output: bool
    names_instance: bool

    @classmethod
    def parse(cls, text: str, *, where: str, anchored: bool = True) -> PathTemplate:
        """Parse `text`; ConfigError (naming `where`, e.g. `sinks[0].path`) for an unknown
        placeholder, a stray brace, or a `.`/`..` segment among the rendered ones."""
        segments = _SEPARATORS.split(text)
        used: set[str] = set()
        for segment in segments:
            used.update(_fields(segment, where))
        split = 0
        if anchored:
            while split < len(segments) and not _FIELD.search(segments[split]):
                split += 1
        dynamic = tuple(segments[split:])
        if any(segment in (".", "..") for segment in dynamic):
            advice = "only before the first placeholder" if anchored else "nowhere in a key"
            raise ConfigError(
                f"{where}: {text!r} has a '.' or '..' segment where it could climb out of its "
                f"folder; such segments may appear {advice}"
            )
        return cls(
            text=text,
            fixed=tuple(segments[:split]),
            dynamic=dynamic,
            names_output="output" in used,
            names_instance=bool(used & {"instance", "key"}),
        )

    def render(self, delivery: Delivery) -> tuple[str, ...]:
        """The safe segments below the fixed folder for `delivery`, the file name last.

        Without `{output}` in the template, the file `<output name><suffix>` goes in the
        rendered folder; with it, the last segment gets the suffix. A template that names
        neither `{instance}` nor `{key}` gets the instance as a folder above the file, so the
        instances of a matrix job never overwrite each other.
        """
        values = {name: _safe_value(value) for name, value in delivery.placeholders().items()}
        parts = [_FIELD.sub(lambda match: values[match.group(1)], s) for s in self.dynamic]
        parts = [part for part in parts if part]
        if not self.names_output:
            parts.append(delivery.output.name)
        if not self.names_instance and values["instance"]:
            parts.insert(len(parts) - 1, values["instance"])
        folders = [fit(_clean(part)) for part in parts[:-1]]
        return (*folders, fit(_clean(parts[-1])) + output_suffix(delivery.output))


def _fields(segment: str, where: str) -> set[str]:
    names = set(_FIELD.findall(segment))
    unknown = sorted(names - set(PLACEHOLDERS))
    known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    if unknown:
        raise ConfigError(f"{where}: unknown placeholder {{{unknown[0]}}}; use one of {known}")
    if set(_FIELD.sub("", segment)) & set("{}"):
        raise ConfigError(f"{where}: a '{{' or '}}' that is not part of a placeholder ({known})")
    return names


def _safe_value(value: str) -> str:
    """One placeholder value as one safe segment part ("" stays "": no instance, no folder)."""
    if not value:
        return ""
    # A lone surrogate (a JSON "\ud800" escape) cannot be a file name in any encoding.
    return _clean(value.encode("utf-8", "replace").decode("utf-8"))


def _clean(text: str) -> str:
    # No cut here (safe_path_part cuts characters, blindly, and may add a `_`): `fit` cuts
    # bytes, and marks the cut with a hash so that two long names stay apart.
    return safe_path_part(text, max_length=len(text) + 1)


def fit(text: str, max_bytes: int = _MAX_SEGMENT_BYTES) -> str:
    """`text` shortened to `max_bytes` of UTF-8, a hash of the whole marking the cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    digest = hashlib.sha256(data).hexdigest()[:_HASH_LENGTH]
    head = data[: max_bytes - _HASH_LENGTH - 1].decode("utf-8", "ignore").rstrip(". ")
    return f"{head}~{digest}"


def output_suffix(output: OutputRecord) -> str:
    """`.json` for a JSON output; for a file, the suffix of its URL's path when it is short and
    alphanumeric (`.mp4`), else none."""
    if not output.is_file:
        return ".json"
    path = unquote(urlsplit(output.url or "").path)
    suffix = PurePosixPath(_SEPARATORS.split(path)[-1]).suffix
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def json_bytes(data: object) -> bytes:
    """A JSON output as stored: indented UTF-8 with a final newline, the same bytes each time."""
    try:
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate has no UTF-8 form; JSON's \u escapes keep it
        return (json.dumps(data, indent=2) + "\n").encode("ascii")


@contextlib.contextmanager
def open_output(output: OutputRecord) -> Iterator[IO[bytes]]:
    """A binary stream of what a sink stores for `output`: the file's bytes, or its JSON."""
    if output.is_file:
        with output.open() as stream:
            yield stream
    else:
        yield io.BytesIO(json_bytes(output.data))
