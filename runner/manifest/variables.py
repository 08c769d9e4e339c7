"""`--var NAME=VALUE` and `--vars-file FILE`: values that override a manifest's `[vars]`.

A `--var` value is JSON when it parses as JSON (`--var n=3`, `--var 'langs=["fr","de"]'`),
else the text as it is (`--var language=french`). A vars file is a TOML table or a JSON object
(by its extension: `.json` is JSON, anything else TOML). `--var` wins over the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner._toml import TOMLDecodeError, toml_loads
from runner.errors import ConfigError
from runner.manifest.values import TOO_DEEP, TOO_DEEP_TO_READ, too_deep

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_var_options(options: Iterable[str]) -> dict[str, Any]:
    """`["language=french", "n=3"]` -> `{"language": "french", "n": 3}`."""
    values: dict[str, Any] = {}
    for option in options:
        name, sep, text = option.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise ConfigError(
                f"--var {option!r}: expected NAME=VALUE, with NAME made of letters, digits, "
                "'_' and '-' (e.g. --var language=french)"
            )
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
        except RecursionError:
            raise ConfigError(f"--var {name}: {TOO_DEEP_TO_READ}") from None
        if too_deep(values[name]) is not None:
            raise ConfigError(f"--var {name}: {TOO_DEEP}")
    return values


def read_vars_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The table in a TOML (or `.json`) vars file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--vars-file {path}: cannot read it ({error})") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else toml_loads(text)
    except (ValueError, TOMLDecodeError) as error:
        raise ConfigError(f"--vars-file {path}: not valid {_format(path)}: {error}") from None
    except RecursionError:
        raise ConfigError(f"--vars-file {path}: {TOO_DEEP_TO_READ}") from None
    deep = too_deep(data)
    if deep is not None:
        where = ".".join(str(part) for part in deep[:4])
        raise ConfigError(f"--vars-file {path}: {where}: {TOO_DEEP}")
    if not isinstance(data, dict):
        raise ConfigError(f"--vars-file {path}: expected a JSON object of vars")
    # a vars file may be a whole manifest-like document with a [vars] table
    if set(data) == {"vars"} and isinstance(data["vars"], dict):
        data = data["vars"]
    for name in data:
        if not _NAME.fullmatch(name):
            raise ConfigError(f"--vars-file {path}: {name!r} is not a valid var name")
    return dict(data)


def collect_variables(
    var_options: Iterable[str] = (), vars_files: Iterable[str | os.PathLike[str]] = ()
) -> dict[str, Any]:
    """The overrides from vars files (in order) then `--var` options, later ones winning."""
    values: dict[str, Any] = {}
    for path in vars_files:
        values.update(read_vars_file(path))
    values.update(parse_var_options(var_options))
    return values


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "TOML"


__all__ = ["collect_variables", "parse_var_options", "read_vars_file"]
