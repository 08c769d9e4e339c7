"""`sievefile init`: a commented starter manifest that loads as it is; with `--from DATA`, one
for a batch over the rows of a data file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import tomli_w

from runner.errors import ConfigError
from runner.manifest.model import DEFAULT_MAX_INSTANCES, FunctionRef

DEFAULT_FILENAME = "sievefile.toml"

_STARTER = """\
# A sievefile manifest: Sieve jobs, their inputs and the order they run in.
# Reference: docs/manifest.md. Check it with `sievefile validate {filename}`,
# see what would run with `sievefile plan {filename}`,
# run it with `sievefile run {filename}`.
# Editors that read `#:schema` comments (Taplo, VS Code's Even Better TOML) validate as you type
# when the first line is `#:schema <path to sievefile's schemas/manifest.schema.json>`.
version = 1
{name_line}
description = "Download a video, transcribe it, translate the transcript"

# Values used below as ${{{{ vars.NAME }}}}; override with --var NAME=VALUE or --vars-file.
[vars]
video = "https://www.youtube.com/watch?v=AKJfakEsgy0"
languages = ["es", "fr"]

# Every job inherits these unless it sets its own.
[defaults]
retries = 1           # resubmissions after a job ends in error
timeout = "30m"       # cancel a job and fail it after this long

# How the run behaves as a whole.
[run]
max_parallel = 8      # jobs in flight at once
fail_fast = true      # on the first failure, cancel in-flight jobs and stop

[jobs.download]
function = "sieve/youtube_to_mp4"          # owner/name, or owner/name:version to pin it
inputs = {{ url = "${{{{ vars.video }}}}", resolution = "720p" }}

[jobs.transcribe]
function = "sieve/speech_transcriber"
# A string that is exactly one reference keeps the value's type: here the downloaded file.
inputs.file = "${{{{ jobs.download.outputs[0] }}}}"

[jobs.translate]
function = "sieve/translate"
# One instance per language (a matrix); instances are named translate[language=es], ...
matrix = {{ language = "${{{{ vars.languages }}}}" }}
# `.text` steps into the transcript; inside a longer string a reference is interpolated as text.
inputs.text = "${{{{ jobs.transcribe.outputs[0].text }}}}"
inputs.target = "${{{{ matrix.language }}}}"
"""


def starter_manifest(name: str, filename: str = DEFAULT_FILENAME) -> str:
    """The starter manifest's text for a manifest called `name`."""
    name_line = tomli_w.dumps({"name": name}).strip()
    return _STARTER.format(name_line=name_line, filename=filename)


def write_starter(path: Path, *, name: str | None = None, force: bool = False) -> Path:
    """Write the starter manifest to `path` (a file, or a folder to put sievefile.toml in).

    Refuses (ConfigError) to overwrite an existing file unless `force`.
    """
    if path.is_dir():
        path = path / DEFAULT_FILENAME
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    text = starter_manifest(name or path.stem, path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None
    return path


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Columns that name a row by convention; the first one present becomes `matrix.key`.
_KEY_COLUMNS = ("id", "key", "name", "slug")

_ROWS_HEADER = """\
# A batch: one {function} job per row of {data}.
# Reference: docs/manifest.md, "Batches from a spreadsheet". Check it with
# `sievefile validate {filename}` (with --local or an API key every row is checked against the
# function's inputs), see the instances with `sievefile plan {filename}`, run it with
# `sievefile run {filename}`; rows added to {data} later run on their own, the others come
# from the cache.
version = 1
{name_line}

[jobs.{job}]
function = {function_value}
matrix.rows = {data_value}
"""


def rows_starter_manifest(
    data: Path, function: str, manifest: Path, *, name: str | None = None
) -> str:
    """The text of a manifest at `manifest` running `function` once per row of `data`.

    Each column that can be referenced becomes an input of the same name (rename them to the
    function's inputs); a column called id, key, name or slug names the instances. Raises
    ConfigError when the file cannot be read as a table or `function` is not a reference.
    """
    from runner.manifest.rows import RowFileError, read_rows

    try:
        ref = FunctionRef.parse(function)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        table = read_rows(data, str(data))
    except RowFileError as error:
        raise ConfigError(str(error)) from None
    relative = Path(os.path.relpath(data.resolve(), manifest.resolve().parent)).as_posix()
    job = re.sub(r"[^A-Za-z0-9_-]", "_", ref.name)
    if not _NAME.match(job):
        job = f"_{job}"
    lines = [
        _ROWS_HEADER.format(
            function=ref,
            data=relative,
            filename=manifest.name,
            name_line=tomli_w.dumps({"name": name or manifest.stem}).strip(),
            job=job,
            function_value=_toml_string(str(ref)),
            data_value=_toml_string(relative),
        ).rstrip("\n")
    ]
    usable = [column for column in table.columns if _NAME.match(column)]
    key = next((column for column in _KEY_COLUMNS if column in usable), None)
    if key is not None:
        lines.append(f'matrix.key = "{key}"{" " * 8}# instances are named {job}[{key}=...]')
    else:
        lines.append(f"# without matrix.key, instances are named by row: {job}[row=1], ...")
    if data.suffix.lower() in (".csv", ".tsv"):
        lines.append(
            "# CSV cells are text; a number or boolean input takes them as such when the text is "
            'one.\n# Declare a column to be sure: matrix.columns = { duration = "number" }'
        )
    if len(table.rows) > DEFAULT_MAX_INSTANCES:
        lines.append(f"max_instances = {len(table.rows):_}  # the rows in {relative} today")
    lines.append("# One input per column: rename them to the function's inputs.")
    for column in usable:
        if column != key:
            lines.append(f'inputs.{column} = "${{{{ matrix.{column} }}}}"')
    for column in table.columns:
        if column not in usable:
            lines.append(
                f"# column {column!r} cannot be referenced: rename it in the header "
                "(letters, digits, '_' and '-')"
            )
    return "\n".join(lines) + "\n"


def write_rows_starter(
    data: Path,
    function: str,
    path: Path | None = None,
    *,
    name: str | None = None,
    force: bool = False,
) -> Path:
    """Write `rows_starter_manifest` to `path` (default: DATA's name with .toml, next to it;
    a folder gets that name inside it). Refuses to overwrite unless `force`."""
    if path is None:
        path = data.with_suffix(".toml")
    elif path.is_dir():
        path = path / data.with_suffix(".toml").name
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    text = rows_starter_manifest(data, function, path, name=name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _toml_string(text: str) -> str:
    return tomli_w.dumps({"x": text}).split("=", 1)[1].strip()
