"""A local server serving only the sample functions (owner `test`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sample_functions


@pytest.fixture
def server(start_local_server: Any) -> Any:
    """A threaded local server with the sample functions, 2 workers and an API key."""
    return start_local_server(plugins=[sample_functions], builtins=())


@pytest.fixture
def api(server: Any) -> Iterator[httpx.Client]:
    """An httpx client for the server's /v2, sending its API key."""
    with server.client(timeout=10) as client:
        yield client
