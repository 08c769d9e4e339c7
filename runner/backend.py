"""Which Sieve API a command talks to: a remote service, or the embedded local backend.

`resolve_backend` reads the flags, then the environment, then the official SDK's config file:

- `--local`: the embedded local backend (in-process, no port), whatever else is configured.
- `--api-url` / `SIEVE_API_URL` and `--api-key` / `SIEVE_API_KEY` (else the raw key in
  `~/.config/.sieve/config`): a remote service, `https://mango.sievedata.com` unless a URL
  is given.
- neither a URL nor a key anywhere: the embedded local backend.

`open_client` turns the choice into a ready `SieveClient`. `Backend.describe()` is the one-line
description a command prints first; like every other output it never contains the key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlparse

from runner.client import DEFAULT_API_URL, SieveClient, normalize_base_url
from runner.errors import ConfigError
from runner.resources import STATE_DIR

if TYPE_CHECKING:
    import pluggy

    from runner.local.backend import LocalBackend

T = TypeVar("T")

URL_ENV = "SIEVE_API_URL"
KEY_ENV = "SIEVE_API_KEY"
#: Where commands keep the embedded backend's output files, under the working directory: the
#: backend stops when the command ends, its files must not vanish with it.
EMBEDDED_FILES_DIR = Path(STATE_DIR) / "files"


def sdk_config_path() -> Path:
    """Where the official Sieve SDK keeps the API key: `~/.config/.sieve/config`."""
    return Path.home() / ".config" / ".sieve" / "config"


@dataclass(frozen=True)
class Backend:
    """A chosen backend. `url` and `api_key` are None for the embedded one."""

    kind: Literal["remote", "embedded"]
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    #: Where the URL and the key came from (a flag, a variable, the config file), for messages.
    url_source: str | None = None
    key_source: str | None = None

    def describe(self) -> str:
        """One line saying which backend is used (never the key itself)."""
        if self.kind == "embedded":
            return "backend: embedded local backend (in-process)"
        key = f"key from {self.key_source}" if self.api_key else "no API key"
        origin = f"from {self.url_source}" if self.url_source else "default"
        return f"backend: {self.url} ({origin}; {key})"


def resolve_backend(
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    local: bool = False,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Backend:
    """The backend the flags (`api_url`, `api_key`, `local`), the environment and the SDK
    config file select; see the module docstring for the order. Raises `ConfigError` for
    flags that contradict each other, a malformed URL or an unreadable config file."""
    if local:
        if api_url or api_key:
            raise ConfigError("--local cannot be combined with --api-url or --api-key")
        return Backend(kind="embedded")
    env = os.environ if environ is None else environ
    url, url_source = _first((api_url, "--api-url"), (env.get(URL_ENV), URL_ENV))
    key, key_source = _first((api_key, "--api-key"), (env.get(KEY_ENV), KEY_ENV))
    if key is None:
        path = config_path or sdk_config_path()
        key = _read_key_file(path)
        key_source = str(path).replace(str(Path.home()), "~", 1) if key else None
    if url is None and key is None:
        return Backend(kind="embedded")
    if url is not None:
        check_http_url(url, url_source or "")
    return Backend(
        kind="remote",
        url=normalize_base_url(url or DEFAULT_API_URL),
        api_key=key,
        url_source=url_source,
        key_source=key_source,
    )


@dataclass
class Connection:
    """An open backend: the client, and the local backend itself when it is embedded."""

    client: SieveClient
    local: LocalBackend | None = None


@asynccontextmanager
async def open_connection(
    backend: Backend,
    *,
    files_dir: Path | None = None,
    input_roots: Sequence[Path] | None = None,
    plugins: pluggy.PluginManager | None = None,
    **client_options: Any,
) -> AsyncIterator[Connection]:
    """A `Connection` to `backend`, closed (and an embedded backend stopped) on exit.

    `files_dir` is where an embedded backend keeps output files (None: a temporary folder
    removed on exit); `input_roots` the folders its functions may read input files from
    (None: the working directory); `plugins` fill its function registry (None: the
    process-wide plugins). `client_options` go to `SieveClient` (retry policy, sleep,
    jitter, timeout).
    """
    if backend.kind == "remote":
        assert backend.url is not None
        async with SieveClient(
            backend.url, backend.api_key, key_source=backend.key_source, **client_options
        ) as client:
            yield Connection(client)
        return
    from runner.local.backend import EMBEDDED_BASE_URL, LocalBackend

    async with (
        LocalBackend(files_dir=files_dir, input_roots=input_roots, plugin_manager=plugins) as local,
        SieveClient(EMBEDDED_BASE_URL, transport=local.transport(), **client_options) as client,
    ):
        yield Connection(client, local)


@asynccontextmanager
async def open_client(
    backend: Backend, *, files_dir: Path | None = None, **client_options: Any
) -> AsyncIterator[SieveClient]:
    """Like `open_connection`, for callers that need only the client."""
    async with open_connection(backend, files_dir=files_dir, **client_options) as connection:
        yield connection.client


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str | None]:
    for value, source in candidates:
        if value is not None and value.strip():
            return value.strip(), source
    return None, None


def _read_key_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"cannot read the Sieve API key file {path}: {error.strerror}") from None
    return text.strip() or None


def check_http_url(url: str, source: str) -> None:
    """A ConfigError naming `source` (a flag or variable) unless `url` is an http(s) URL
    without a user or password in it (they would be shown wherever the URL is; the API's key
    has its own flag). The error never repeats a password."""
    parsed = urlparse(url)
    _, at, host = parsed.netloc.rpartition("@")
    shown = url.replace(parsed.netloc, f"***@{host}", 1) if at else url
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"{source} must be an http:// or https:// URL such as {DEFAULT_API_URL}, got {shown!r}"
        )
    if at:  # a user or password, even an empty one
        raise ConfigError(
            f"{source} must not carry a user or password ({shown}): the Sieve API key goes in "
            "--api-key or SIEVE_API_KEY"
        )


def call_backend(
    backend: Backend,
    operation: Callable[[SieveClient], Awaitable[T]],
    *,
    files_dir: Path | None = None,
    **client_options: Any,
) -> T:
    """Run `operation(client)` to completion on a client for `backend` (for sync callers such
    as the CLI), opening and closing the client (and an embedded backend) around it."""

    async def run() -> T:
        async with open_client(backend, files_dir=files_dir, **client_options) as client:
            return await operation(client)

    return asyncio.run(run())
