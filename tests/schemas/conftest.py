"""Fixtures for the schema tests: the public functions' metadata in the live service's shape."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runner.schemas import FunctionSchema, derive_schema

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "functions"
PUBLIC_FUNCTIONS = sorted(path.stem.replace("__", "/") for path in FIXTURES.glob("*.json"))


def load_metadata(slug: str) -> dict[str, Any]:
    """A fresh copy of the fixture metadata of `owner/name` (tests may change it)."""
    path = FIXTURES / f"{slug.replace('/', '__')}.json"
    return copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))


def schema_of(slug: str) -> FunctionSchema:
    return derive_schema(load_metadata(slug))


@pytest.fixture
def metadata_fetcher():
    """`fetch_metadata(owner, name)` over a dict of metadata, counting calls per function."""

    class Fetcher:
        def __init__(self) -> None:
            self.metadata = {slug: load_metadata(slug) for slug in PUBLIC_FUNCTIONS}
            self.calls: list[str] = []

        def __call__(self, owner: str, name: str) -> dict[str, Any]:
            from runner.errors import ApiError

            slug = f"{owner}/{name}"
            self.calls.append(slug)
            if slug not in self.metadata:
                raise ApiError(
                    404, "Function not found.", method="GET", url=f"/v2/functions/{slug}"
                )
            return copy.deepcopy(self.metadata[slug])

    return Fetcher()


PUBLIC_PLUGIN = "tests.support.public_functions"


@pytest.fixture
def start_public_server(start_local_server):
    """`start_public_server(*plugins)`: a local server on 127.0.0.1 serving the public
    functions' test plugin (plus `plugins`), without an API key, stopped after the test."""

    def start(*plugins: Any):
        return start_local_server(builtins=(), plugins=[PUBLIC_PLUGIN, *plugins], api_key=None)

    return start


@pytest.fixture
def public_server(start_public_server):
    return start_public_server()


def client_fetcher(base_url: str, api_key: str | None = None):
    """`fetch_metadata(owner, name)` over real HTTP with the API client: each call opens a
    `SieveClient` on `base_url` (so it works across `asyncio.run` calls) and calls
    `get_function`. Retries are off, so a stopped server fails at once."""
    from runner.client import RetryPolicy, SieveClient

    async def fetch(owner: str, name: str) -> dict[str, Any]:
        async with SieveClient(base_url, api_key, retry=RetryPolicy(max_attempts=1)) as client:
            return await client.get_function(owner, name)

    return fetch
