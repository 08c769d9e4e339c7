"""Fixtures that run the local backend on a real socket (uvicorn on 127.0.0.1, a free port).

Import them into an area's conftest.py: `from tests.support.servers import local_server`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runner.local.backend import LocalBackend
from runner.local.server import ServerThread

API_KEY = "sk-local-test-key-5f3c9a"


@pytest.fixture
def local_server() -> Iterator[ServerThread]:
    """The local backend with the built-in functions, without an API key."""
    with ServerThread(LocalBackend(workers=2)) as server:
        yield server


@pytest.fixture
def keyed_server() -> Iterator[ServerThread]:
    """The local backend, requiring `API_KEY` in `X-API-Key`."""
    with ServerThread(LocalBackend(workers=2, api_key=API_KEY)) as server:
        yield server
