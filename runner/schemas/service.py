"""Function metadata from the backend a command talks to: the `fetch_metadata` of the schema code.

`backend_fetcher(backend)` gives an async `fetch(owner, name)` calling
`SieveClient.get_function`, and `fetch.fetch_version(owner, name, version)` for a version other
than the latest (None when the backend does not serve the versions endpoint). The client (and
an embedded backend) is opened on the first fetch only, so a manifest whose schemas are all
locked and cached needs no backend at all. A run starts its fetches early
(`fetch_early`), while its manifest is still being checked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from runner.backend import KEY_ENV, Backend, open_client
from runner.client import SieveClient


class BackendFetcher:
    """`await fetcher(owner, name)`: `GET /v2/functions/{owner}/{name}` on `backend`.

    `name` and `not_found_hint` are what the schema code puts in "not known to ..." errors.
    Use through `backend_fetcher`, which closes it.
    """

    def __init__(self, backend: Backend, client: SieveClient | None = None) -> None:
        """`client`: an open client for `backend` to use (a run's own); None opens one on the
        first fetch and closes it with `aclose`."""
        self.backend = backend
        self.fetches = 0
        self._stack = contextlib.AsyncExitStack()
        self._client: SieveClient | None = client
        self._early: dict[tuple[str, str], asyncio.Task[Any]] = {}

    @property
    def name(self) -> str:
        if self.backend.kind == "embedded":
            return "the embedded local backend"
        return f"the Sieve API at {self.backend.url}"

    @property
    def not_found_hint(self) -> str:
        if self.backend.kind != "embedded":
            return ""
        return (
            "it serves only local functions and installed plugins; to run Sieve's functions, "
            f"pass --api-key KEY or set {KEY_ENV}"
        )

    async def __call__(self, owner: str, name: str) -> dict[str, Any]:
        early = self._early.pop((owner, name), None)
        if early is not None:
            return dict(await early)
        client = await self._open()
        self.fetches += 1
        return dict(await client.get_function(owner, name))

    def fetch_early(self, owner: str, name: str) -> None:
        """Start fetching `owner/name` now (on the client given at creation); the next
        `fetcher(owner, name)` takes its answer, or its error."""
        if self._client is None:
            raise RuntimeError("fetch_early needs the client the fetcher was created with")
        if (owner, name) not in self._early:
            self.fetches += 1
            self._early[owner, name] = asyncio.ensure_future(self._client.get_function(owner, name))

    async def discard_early(self) -> None:
        """Cancel the early fetches nobody took (the manifest turned out broken), quietly."""
        early, self._early = list(self._early.values()), {}
        for task in early:
            task.cancel()
        await asyncio.gather(*early, return_exceptions=True)

    async def fetch_version(self, owner: str, name: str, version: str) -> dict[str, Any] | None:
        """`GET /v2/functions/{owner}/{name}/versions/{version}`; None when not served."""
        client = await self._open()
        self.fetches += 1
        body = await client.get_function_version(owner, name, version)
        return None if body is None else dict(body)

    async def _open(self) -> SieveClient:
        if self._client is None:
            self._client = await self._stack.enter_async_context(open_client(self.backend))
        return self._client

    async def aclose(self) -> None:
        await self._stack.aclose()


@contextlib.asynccontextmanager
async def backend_fetcher(backend: Backend) -> AsyncIterator[BackendFetcher]:
    """A `BackendFetcher` for `backend`, its client closed on exit."""
    fetcher = BackendFetcher(backend)
    try:
        yield fetcher
    finally:
        await fetcher.aclose()
