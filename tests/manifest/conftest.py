"""Helpers for manifest tests: write a manifest to a temporary file and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.errors import ManifestError
from runner.manifest import Manifest, load_manifest

HEADER = "version = 1\n"


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[..., Path]:
    def write(body: str, name: str = "m.toml") -> Path:
        path = tmp_path / name
        path.write_text(HEADER + textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(write_manifest: Callable[..., Path]) -> Callable[..., Manifest]:
    def load_text(body: str, **options: Any) -> Manifest:
        options.setdefault("environ", {})
        return load_manifest(write_manifest(body), **options)

    return load_text


@pytest.fixture
def problems(write_manifest: Callable[..., Path]) -> Callable[..., list[str]]:
    """The rendered problems of a manifest that must fail to load."""

    def collect(body: str, **options: Any) -> list[str]:
        options.setdefault("environ", {})
        path = write_manifest(body)
        with pytest.raises(ManifestError) as caught:
            load_manifest(path, **options)
        return [str(problem).replace(str(path), "m.toml") for problem in caught.value.problems]

    return collect
