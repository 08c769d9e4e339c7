"""`sievefile init`: a commented starter manifest that loads as it is; with `--from DATA`, one
for a batch over the rows of a data file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from runner.errors import ConfigError
from runner.manifest.model import DEFAULT_MAX_INSTANCES, FunctionRef

if TYPE_CHECKING:
    from runner.schemas.model import FunctionSchema

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
    _refuse_to_overwrite(path, force)
    return _write_manifest(path, starter_manifest(name or path.stem, path.name))


def _refuse_to_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")


def _write_manifest(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None
    return path


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Columns that name a row by convention; the first one present becomes `matrix.key`.
_KEY_COLUMNS = ("id", "key", "name", "slug")
#: Columns that hold a media URL by convention: they feed a function's one file input.
_URL_COLUMNS = ("url", "file", "link", "video", "audio", "media", "source")

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
    data: Path,
    function: str,
    manifest: Path,
    *,
    name: str | None = None,
    schema: FunctionSchema | None = None,
) -> str:
    """The text of a manifest at `manifest` running `function` once per row of `data`.

    With the function's `schema`, a column named like an input feeds it (a URL column feeds the
    one file input), a column close to an input's name is suggested in a comment, and required
    inputs left without a column are listed; without it, each column becomes an input of the
    same name. A column called id, key, name or slug names the instances. Raises ConfigError
    when the file cannot be read as a table or `function` is not a reference.
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
    if table.problems:  # rows that are not objects, a missing key, ...: the manifest would fail
        raise ConfigError("\n".join(str(problem) for problem in table.all_problems()))
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
    columns = [column for column in usable if column != key]
    if schema is None:
        lines.append(
            f"# One input per column: rename them to {ref.slug}'s inputs (its schema was not "
            "found offline: `sievefile schemas pull` caches it)."
        )
        lines.extend(f'inputs.{column} = "${{{{ matrix.{column} }}}}"' for column in columns)
    else:
        lines.extend(_mapped_inputs(schema, columns))
    for column in table.columns:
        if column not in usable:
            lines.append(
                f"# column {column!r} cannot be referenced: rename it in the header "
                "(letters, digits, '_' and '-')"
            )
    return "\n".join(lines) + "\n"


def _mapped_inputs(schema: FunctionSchema, columns: list[str]) -> list[str]:
    """Input lines for the columns that match `schema`'s inputs, and comments for the rest."""
    from runner.schemas.describe import describe_schema
    from runner.schemas.typestrings import is_file_schema
    from runner.suggest import close_matches

    properties = schema.properties
    names = schema.ordered_input_names()
    free = [column for column in columns if column not in properties]
    files = [name for name in names if is_file_schema(properties[name])]
    lines = [f"# {schema.slug}'s inputs, fed by the columns of the same name."]
    for name in names:
        wanted = properties[name]
        column = name if name in columns else None
        if column is None and name in files and len(files) == 1:
            column = next((c for c in free if c.lower() in _URL_COLUMNS), None)
        if column is not None:
            if column in free:
                free.remove(column)
            value = f"${{{{ matrix.{column} }}}}"
            text = f'{{ url = "{value}" }}' if is_file_schema(wanted) else f'"{value}"'
            lines.append(f"inputs.{name} = {text}")
            continue
        guess = close_matches(name, free, limit=1)
        required = name in schema.required
        if guess:
            lines.append(
                f'# inputs.{name} = "${{{{ matrix.{guess[0]} }}}}"   # column {guess[0]!r}? '
                f"{'required' if required else 'optional'}: {describe_schema(wanted)}"
            )
        elif required:
            lines.append(f"# inputs.{name} = ...   # required: {describe_schema(wanted)}")
    for column in free:
        if not any(f"matrix.{column} " in line for line in lines):
            lines.append(f"# column {column!r} feeds no input (inputs: {', '.join(names)})")
    return lines


def find_schema(function: str, near: Path) -> FunctionSchema | None:
    """`function`'s schema without the Sieve API: the schema cache that belongs with `near`,
    else, for a `local/` function, the embedded local backend; None when neither has it."""
    import asyncio

    from runner.errors import SievefileError
    from runner.schemas.cache import SchemaCache, default_schemas_dir

    try:
        ref = FunctionRef.parse(function)
        return SchemaCache(default_schemas_dir(near)).find(ref)
    except (ValueError, SievefileError):
        pass
    if not ref.is_local:
        return None
    from runner.backend import Backend
    from runner.schemas.derive import derive_schema
    from runner.schemas.service import backend_fetcher

    async def fetch() -> dict[str, Any]:
        async with backend_fetcher(Backend(kind="embedded")) as fetcher:
            return await fetcher(ref.owner, ref.name)

    try:
        return derive_schema(asyncio.run(fetch()))
    except SievefileError:
        return None


def write_rows_starter(
    data: Path,
    function: str,
    path: Path | None = None,
    *,
    name: str | None = None,
    force: bool = False,
) -> Path:
    """Write `rows_starter_manifest` to `path` (default: DATA's name with .toml, next to it;
    a folder gets that name inside it), with the function's schema when `find_schema` has it.
    Refuses to overwrite unless `force`."""
    if path is None:
        path = data.with_suffix(".toml")
    elif path.is_dir():
        path = path / data.with_suffix(".toml").name
    _refuse_to_overwrite(path, force)
    schema = find_schema(function, path)
    return _write_manifest(
        path, rows_starter_manifest(data, function, path, name=name, schema=schema)
    )


def _toml_string(text: str) -> str:
    return tomli_w.dumps({"x": text}).split("=", 1)[1].strip()
