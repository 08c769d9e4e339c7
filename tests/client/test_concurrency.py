"""The organisation's concurrency report and the default parallelism it gives a run; which
API errors mean "this backend has no such endpoint"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.client import endpoint_missing
from runner.concurrency import Concurrency, configured_parallelism, default_parallelism
from runner.errors import ApiError
from runner.manifest.loader import load_manifest
from runner.manifest.model import DEFAULT_MAX_PARALLEL


def test_a_full_report() -> None:
    body = {"max_concurrency": 10, "num_current": 4, "num_processing": 3, "num_queued": 1,
            "num_limited": 0, "extra": "ignored"}  # fmt: skip
    report = Concurrency.from_json(body)
    assert report == Concurrency(10, 4, 3, 1, 0)
    assert report.describe() == "max_concurrency 10 (3 processing, 1 queued)"
    assert report.to_json() == {key: body[key] for key in report.to_json()}


@pytest.mark.parametrize(
    "body",
    [None, [], {}, {"max_concurrency": 0}, {"max_concurrency": -3}, {"max_concurrency": "10"},
     {"max_concurrency": True}, {"max_concurrency": 2.5}],
)  # fmt: skip
def test_a_report_without_a_usable_limit_is_none(body: Any) -> None:
    assert Concurrency.from_json(body) is None


def test_bad_counts_are_left_at_zero() -> None:
    report = Concurrency.from_json({"max_concurrency": 3, "num_processing": "x", "num_queued": -1})
    assert report == Concurrency(3)


def test_default_parallelism() -> None:
    assert default_parallelism(None, None) == DEFAULT_MAX_PARALLEL
    assert default_parallelism(None, Concurrency(4)) == 4
    assert default_parallelism(None, Concurrency(100)) == 100
    assert default_parallelism(None, Concurrency(5000)) == DEFAULT_MAX_PARALLEL
    # What is running now is not subtracted: it ends while the run goes on.
    assert default_parallelism(None, Concurrency(4, num_processing=4)) == 4
    # What the user sets is kept, above the limit too.
    assert default_parallelism(32, Concurrency(4)) == 32
    assert default_parallelism(2, None) == 2


def test_configured_parallelism(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text('version = 1\n[jobs.a]\nfunction = "a/b"\n')
    set_ = tmp_path / "set.toml"
    set_.write_text('version = 1\n[run]\nmax_parallel = 5\n[jobs.a]\nfunction = "a/b"\n')
    assert configured_parallelism(load_manifest(plain)) is None
    assert configured_parallelism(load_manifest(plain), 3) == 3
    assert configured_parallelism(load_manifest(set_)) == 5
    assert configured_parallelism(load_manifest(set_), 7) == 7


@pytest.mark.parametrize(
    ("status", "detail", "missing"),
    [
        (404, "Not Found", True),
        (404, "Not Found (an HTML page, not the Sieve API's JSON: is the URL a Sieve API?)", True),
        (405, "Method Not Allowed", True),
        (404, "Function not found.", False),
        (404, "Version not found.", False),
        (401, "Unauthorized - valid API Key required.", False),
        (500, "Not Found", False),
    ],
)
def test_endpoint_missing(status: int, detail: str, missing: bool) -> None:
    assert endpoint_missing(ApiError(status, detail)) is missing
