"""`DeliveryError`, the public way a sink or notifier says "wait" or "do not try again", and the
`Retry-After` reading it shares with the API client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from runner import DeliveryError, SievefileError
from runner.errors import parse_retry_after


def test_it_is_a_sievefile_error_whose_message_is_what_the_run_reports() -> None:
    error = DeliveryError("slack: 127.0.0.1:9 answered 404 Not Found", permanent=True)
    assert isinstance(error, SievefileError)
    assert str(error) == "slack: 127.0.0.1:9 answered 404 Not Found"
    assert (error.permanent, error.retry_after) == (True, None)
    assert DeliveryError("x", retry_after=-3).retry_after == 0.0


@pytest.mark.parametrize(
    ("status", "header", "permanent", "retry_after"),
    [
        (400, None, True, None),
        (401, None, True, None),
        (404, "30", True, None),  # a Retry-After on a refusal changes nothing
        (301, None, True, None),
        (408, None, False, None),
        (425, None, False, None),
        (429, "12", False, 12.0),
        (429, "soon", False, None),
        (503, "0.5", False, 0.5),
        (500, None, False, None),
        (502, None, False, None),
    ],
)
def test_an_http_answer_decides(
    status: int, header: str | None, permanent: bool, retry_after: float | None
) -> None:
    error = DeliveryError.for_http_answer("answered", status, header)
    assert (error.permanent, error.retry_after) == (permanent, retry_after)


def test_retry_after_may_be_an_http_date() -> None:
    later = datetime.now(timezone.utc) + timedelta(seconds=90)
    seconds = parse_retry_after(format_datetime(later, usegmt=True))
    assert seconds is not None
    assert 85 <= seconds <= 90
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert parse_retry_after(format_datetime(past, usegmt=True)) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("-4") == 0.0
