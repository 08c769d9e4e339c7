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
