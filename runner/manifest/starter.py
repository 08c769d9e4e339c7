"""`sievefile init`: a commented starter manifest that loads as it is."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from runner.errors import ConfigError

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
