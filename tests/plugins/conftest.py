"""A clean plugin state per test, and `install_distribution` (tests/support/distributions.py):
real distributions on disk, in a folder on `sys.path`, found by `importlib.metadata`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import cli
from runner.plugins import ALLOW_LIST_ENV, DISABLE_LIST_ENV, get_plugin_manager
from tests.support.distributions import DistributionSite, InstallDistribution


@pytest.fixture(autouse=True)
def clean_plugin_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No allow or disable list from the outside; no plugin manager or commands cached."""
    monkeypatch.delenv(ALLOW_LIST_ENV, raising=False)
    monkeypatch.delenv(DISABLE_LIST_ENV, raising=False)
    get_plugin_manager.cache_clear()
    cli.forget_plugin_commands()
    yield
    get_plugin_manager.cache_clear()
    cli.forget_plugin_commands()


@pytest.fixture
def install_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InstallDistribution]:
    """`install_distribution(name, version, {entry point: module source})`, for this test."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    site = DistributionSite(folder)
    yield site.install
    site.forget_modules()
