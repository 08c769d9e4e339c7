"""Choosing the backend from flags, environment and the SDK's key file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.backend import Backend, resolve_backend
from runner.errors import ConfigError

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def no_key_file(tmp_path: Path) -> Path:
    return tmp_path / "absent" / "config"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / ".sieve" / "config"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\n")
    return path


def test_nothing_configured_means_the_embedded_backend(no_key_file: Path) -> None:
    backend = resolve_backend(environ={}, config_path=no_key_file)
    assert backend == Backend(kind="embedded")
    assert backend.describe() == "backend: embedded local backend (in-process)"


def test_local_flag_wins_over_the_environment(key_file: Path) -> None:
    environ = {"SIEVE_API_URL": "https://example.test", "SIEVE_API_KEY": SECRET}
    backend = resolve_backend(local=True, environ=environ, config_path=key_file)
    assert backend.kind == "embedded"


def test_local_flag_with_remote_flags_is_a_usage_error(no_key_file: Path) -> None:
    with pytest.raises(ConfigError, match="--local cannot be combined with --api-url"):
        resolve_backend(local=True, api_key=SECRET, environ={}, config_path=no_key_file)


def test_a_key_alone_selects_the_real_service(no_key_file: Path) -> None:
    backend = resolve_backend(environ={"SIEVE_API_KEY": SECRET}, config_path=no_key_file)
    assert (backend.kind, backend.url, backend.api_key) == (
        "remote",
        "https://mango.sievedata.com",
        SECRET,
    )
    assert backend.describe() == (
        "backend: https://mango.sievedata.com (default; key from SIEVE_API_KEY)"
    )


def test_the_sdk_key_file_is_read_when_no_key_is_given(key_file: Path) -> None:
    backend = resolve_backend(environ={}, config_path=key_file)
    assert (backend.kind, backend.api_key, backend.key_source) == ("remote", SECRET, str(key_file))


def test_flags_win_over_environment_and_the_trailing_v2_is_dropped(key_file: Path) -> None:
    environ = {"SIEVE_API_URL": "https://env.test", "SIEVE_API_KEY": "env-key"}
    backend = resolve_backend(
        api_url="http://127.0.0.1:8000/v2/", api_key=SECRET, environ=environ, config_path=key_file
    )
    assert (backend.url, backend.api_key) == ("http://127.0.0.1:8000", SECRET)
    assert (
        backend.describe() == "backend: http://127.0.0.1:8000 (from --api-url; key from --api-key)"
    )


def test_a_url_alone_is_a_keyless_remote(no_key_file: Path) -> None:
    backend = resolve_backend(
        environ={"SIEVE_API_URL": "http://127.0.0.1:8000"}, config_path=no_key_file
    )
    assert (backend.kind, backend.api_key) == ("remote", None)
    assert backend.describe().endswith("(from SIEVE_API_URL; no API key)")


def test_a_malformed_url_names_where_it_came_from(no_key_file: Path) -> None:
    with pytest.raises(ConfigError, match="SIEVE_API_URL must be an http:// or https:// URL"):
        resolve_backend(environ={"SIEVE_API_URL": "mango.sievedata.com"}, config_path=no_key_file)


def test_a_url_with_a_password_is_refused_without_repeating_it(no_key_file: Path) -> None:
    # It was printed on the `backend:` line and in every "cannot reach" error.
    for url in ("http://user:hunter2pass@127.0.0.1:1", "ftp://user:hunter2pass@host"):
        with pytest.raises(ConfigError) as caught:
            resolve_backend(api_url=url, environ={}, config_path=no_key_file)
        assert "hunter2pass" not in str(caught.value)
        assert "--api-url" in str(caught.value)


def test_the_key_never_appears_in_the_description_or_repr(key_file: Path) -> None:
    backend = resolve_backend(environ={}, config_path=key_file)
    assert SECRET not in backend.describe()
    assert SECRET not in repr(backend)
