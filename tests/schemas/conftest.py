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


def http_fetcher(base_url: str):
    """`fetch_metadata(owner, name)` over real HTTP: `GET {base_url}/v2/functions/...`.

    Stands in for the API client (runner/client.py) until it is merged: any async callable
    with this signature plugs into `pull_schemas`.
    """
    import httpx

    from runner.errors import ApiError, BackendError

    async def fetch(owner: str, name: str) -> dict[str, Any]:
        url = f"{base_url}/v2/functions/{owner}/{name}"
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(url)
        except httpx.TransportError as error:
            raise BackendError(f"cannot reach {base_url}: {error}") from None
        if response.status_code != 200:
            raise ApiError(response.status_code, response.json().get("detail"), url=url)
        return response.json()

    return fetch
