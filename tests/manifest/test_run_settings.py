"""`[run]`'s retry settings: durations with documented defaults, located errors when wrong."""

from __future__ import annotations

import pytest

from runner.client import RetryPolicy
from runner.errors import ManifestError
from runner.manifest.loader import load_manifest_text

JOB = '[jobs.a]\nfunction = "local/echo"\n'


def test_the_defaults_are_the_clients() -> None:
    run = load_manifest_text("version = 1\n" + JOB).run
    policy = RetryPolicy()
    assert (run.retry_budget, run.retry_delay, run.retry_max_delay) == (120.0, 0.25, 15.0)
    assert (policy.budget, policy.base_delay, policy.max_delay) == (120.0, 0.25, 15.0)


def test_durations_and_seconds_are_accepted() -> None:
    text = 'version = 1\n[run]\nretry_budget = "10m"\nretry_delay = 0.5\nretry_max_delay = "1m"\n'
    run = load_manifest_text(text + JOB).run
    assert (run.retry_budget, run.retry_delay, run.retry_max_delay) == (600.0, 0.5, 60.0)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('retry_budget = "soon"', "run.retry_budget"),
        ("retry_delay = -1", "run.retry_delay"),
        ("retry_max_delay = true", "run.retry_max_delay"),
        ("retries = 3", "run.retries: unknown key 'retries'"),
    ],
)
def test_a_wrong_setting_is_a_located_error(setting: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest_text(f"version = 1\n[run]\n{setting}\n" + JOB, "m.toml")
    assert "m.toml:3:" in str(caught.value)
    assert message in str(caught.value)
