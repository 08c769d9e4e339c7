"""Files in and out of local functions: the output store and the input resolver.

Output files are copied (hard-linked when possible) into the store as `<root>/<token>/<name>`,
where `token` is a random 128-bit hex string, and served back by URL:

- by `sievefile serve` as `<public url>/v2/files/<token>/<name>` (no API key needed: the token
  is the capability, like the signed URLs the live service returns);
- by the embedded backend as `file://<root>/<token>/<name>`, which a user can open directly.

Input files may be `{"url": "http(s)://..."}` (downloaded with httpx into the job's scratch
folder), `{"url": "file://..."}`, `{"url": "<plain path>"}` or `{"path": "..."}`. A URL of this
store's own files (either form) resolves to the stored file without a network round trip.
A local path is opened only when it lies under one of the backend's `InputRoots` (after
following symlinks): whoever can push cannot make a function read the host's other files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse
from urllib.request import pathname2url, url2pathname

import httpx

from runner.errors import BackendError, ValidationError
from runner.local.types import File, JobCancelled

_STORE_PATH = re.compile(r"/v2/files/([0-9a-f]{32})/([^/]+)$")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 16


class FileStore:
    """Where output files live and how their URLs look."""

    def __init__(self, root: str | Path | None = None, public_url: str | None = None) -> None:
        """`root` None makes a temporary folder removed by `close()`.

        `public_url` (e.g. `http://127.0.0.1:8000`) makes URLs served by this server's
        `/v2/files/` route; None makes `file://` URLs.
        """
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="sievefile-files-") if root is None else root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(
                f"cannot use {self.root} as the output files folder: {exc.strerror or exc}"
            ) from None
        self.root = self.root.resolve()
        # "http://host:8000/v2" is a natural thing to type; the routes add /v2 themselves.
        self.public_url = public_url.rstrip("/").removesuffix("/v2") if public_url else None

    def close(self) -> None:
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def url_for(self, token: str, name: str) -> str:
        if self.public_url is not None:
            return f"{self.public_url}/v2/files/{token}/{quote(name)}"
        return "file://" + pathname2url(str(self.root / token / name))

    def put(self, source: str | Path) -> str:
        """Store a copy of `source` and return its URL (a stored file keeps its URL)."""
        path = Path(source).resolve()
        if not path.is_file():
            problem = "is not a file" if path.exists() else "does not exist"
            raise ValidationError(f"returned file {str(source)!r} {problem}")
        if path.parent.parent == self.root and _TOKEN.match(path.parent.name):
            return self.url_for(path.parent.name, path.name)
        token = uuid.uuid4().hex
        target = self.root / token / (path.name or "file")
        target.parent.mkdir()
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        return self.url_for(token, target.name)

    def stored_path(self, token: str, name: str) -> Path | None:
        """The stored file for a `/v2/files/<token>/<name>` request, or None."""
        if not _TOKEN.match(token) or name in ("", ".", "..") or "/" in name or "\\" in name:
            return None
        path = self.root / token / name
        return path if path.is_file() else None

    def own_file(self, url: str) -> Path | None:
        """The stored file a URL of this store points at (http or file form), or None."""
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            match = _STORE_PATH.search(parsed.path)
            return self.stored_path(match.group(1), unquote(match.group(2))) if match else None
        return None


class InputRoots:
    """The folders local input files may come from (the output store always may).

    `folders` None means the current working directory (where `sievefile serve` was started).
    """

    def __init__(self, folders: Sequence[str | Path] | None = None) -> None:
        chosen = [Path.cwd()] if folders is None else [Path(f) for f in folders]
        self.folders = tuple(folder.expanduser().resolve() for folder in chosen)

    def check(self, path: Path, shown: str, store: FileStore) -> Path:
        """`path` resolved, if it lies under a root or the store; a ValidationError if not."""
        real = path.resolve()
        for folder in (*self.folders, store.root):
            if real == folder or real.is_relative_to(folder):
                return real
        raise ValidationError(
            f"input file {shown!r} is outside the folders this local backend reads input "
            "files from (sievefile serve --input-root DIR adds one)"
        )


class InputResolver:
    """Turns a job's file values into `File`s with local paths; one per job run."""

    def __init__(
        self,
        store: FileStore,
        scratch: Path,
        cancel_event: threading.Event,
        http: httpx.Client,
        *,
        roots: InputRoots | None = None,
    ) -> None:
        self.store = store
        self.scratch = scratch
        self.cancel_event = cancel_event
        self.http = http
        self.roots = roots if roots is not None else InputRoots()
        self._count = 0

    def __call__(self, value: dict[str, Any], file_class: type[File]) -> File:
        url = value.get("url")
        path = value.get("path")
        if isinstance(path, str) and path:
            return file_class(url=url, path=self._local(Path(path).expanduser(), path))
        assert isinstance(url, str)
        return file_class(url=url, path=self.local_path(url))

    def _local(self, path: Path, shown: str) -> Path:
        """A local input file: it must exist and lie under an input root."""
        # the roots first: a refused path must not tell whether it exists
        return _existing(self.roots.check(path, shown, self.store), shown)

    def local_path(self, url: str) -> Path:
        parsed = urlparse(url)
        scheme = parsed.scheme.lower()
        if scheme in ("http", "https"):
            stored = self.store.own_file(url)
            return stored if stored is not None else self._download(url, parsed.path)
        if scheme == "file":
            return self._local(Path(url2pathname(unquote(parsed.path))), url)
        if len(scheme) <= 1:  # a plain path (a one-letter "scheme" is a Windows drive)
            return self._local(Path(url).expanduser(), url)
        raise ValidationError(
            f"cannot open {url!r}: unsupported URL scheme {scheme!r} (use http, https, file "
            "or a plain path)"
        )

    def _download(self, url: str, url_path: str) -> Path:
        self._count += 1
        name = Path(unquote(url_path)).name or "download"
        target = self.scratch / f"{self._count}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.http.stream("GET", url) as response, target.open("wb") as out:
                if response.status_code >= 400:
                    raise ValidationError(f"downloading {url}: HTTP {response.status_code}")
                for chunk in response.iter_bytes(_CHUNK):
                    if self.cancel_event.is_set():
                        raise JobCancelled("job was cancelled")
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise ValidationError(f"downloading {url}: {exc}") from exc
        return target


def _existing(path: Path, shown: str) -> Path:
    if not path.is_file():
        raise ValidationError(f"input file {shown!r} does not exist")
    return path
