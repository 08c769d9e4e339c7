"""Fixtures for the run views: a local server with the executor's test functions, and a
manifest that exercises every kind of event (retries, a failure, a skip, a matrix, a sink, a
secret)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "execute"))

import exec_functions

from tests.support.views import MIXED


@pytest.fixture
def exec_server(start_local_server: Any) -> Any:
    """A local server with the built-in functions and the `exec/*` test functions."""
    return start_local_server(plugins=[exec_functions], workers=4)


@pytest.fixture
def mixed_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.toml"
    path.write_text(textwrap.dedent(MIXED).replace("TOKEN", uuid.uuid4().hex))
    return path
