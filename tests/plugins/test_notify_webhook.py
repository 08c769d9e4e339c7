"""The `webhook` and `slack` notifiers against a real HTTP receiver on 127.0.0.1: what arrives
(body, headers, a signature the receiver verifies from the raw bytes), and what a failure says
(the status, never a secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from plugins._notify import delivery_id
from plugins._summary import render_text
from plugins.slack import SlackNotifier
from plugins.webhook import WebhookNotifier
from runner import ConfigError, DeliveryError, JobStatus, PluginContext
from tests.conftest import ReceivedWebhook, WebhookReceiver
from tests.support.notifications import finished_run, job, job_event
from tests.support.outputs import serve_http
from tests.support.ports import free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifiers.md"
SECRET = "whsec-7c1e9a55d0"
TOKEN = "Bearer tok-31337"
CLOCK = 1_764_691_213.9


def context(*secrets: str) -> PluginContext:
    return PluginContext(
        manifest=Path("/work/podcast.toml"),
        manifest_dir=Path("/work"),
        index=0,
        secrets=frozenset(secrets),
    )


def webhook(url: str, **config: Any) -> WebhookNotifier:
    notifier = WebhookNotifier.from_config({"url": url, **config}, context())
    return replace(notifier, clock=lambda: CLOCK)


def headers_of(received: ReceivedWebhook) -> dict[str, str]:
    return {name.lower(): value for name, value in received.headers.items()}


def documented_verify() -> Callable[..., bool]:
    """The `verify` function docs/notifiers.md tells receivers to use, as written there."""
    (snippet,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", DOCS.read_text(), re.S | re.M)
        if "def verify(" in block
    ]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def closed_port_url(path: str) -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}{path}"


@pytest.fixture
def echoing_server() -> Iterator[str]:
    """A server on 127.0.0.1 that refuses every POST with 403 and an answer that quotes the
    request (its path and two headers): what a careless proxy or API gateway does."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen = {name: self.headers[name] for name in ("Authorization", "X-Sievefile-Event")}
            quoted = f"forbidden: {self.path} {seen}".encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(quoted)))
            self.end_headers()
            self.wfile.write(quoted)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_http(Handler) as url:
        yield url


def test_webhook_posts_the_notification_json_with_its_headers(
    webhook_receiver: WebhookReceiver,
) -> None:
    notification = finished_run()
    webhook(f"{webhook_receiver.url}/hooks/sievefile").notify(notification)

    (received,) = webhook_receiver.received
    assert received.path == "/hooks/sievefile"
    assert received.body == json.loads(json.dumps(notification.to_json()))
    headers = headers_of(received)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("sievefile/")
    assert headers["x-sievefile-event"] == "run.finished"
    assert headers["x-sievefile-delivery"] == delivery_id(notification)
    assert headers["x-sievefile-timestamp"] == "1764691213"
    assert "x-sievefile-signature" not in headers  # no secret, no signature


def test_the_receiver_verifies_the_signature_from_the_raw_body(
    webhook_receiver: WebhookReceiver,
) -> None:
    error = job_event(job("transcribe[lang=fr]", JobStatus.ERROR, error="élan: ✗ failed"))
    webhook(webhook_receiver.url, secret=SECRET).notify(error)

    (received,) = webhook_receiver.received
    headers = headers_of(received)
    timestamp = headers["x-sievefile-timestamp"]
    # What a receiver does: HMAC-SHA256 under the shared secret of "<timestamp>.<raw body>".
    material = timestamp.encode() + b"." + received.raw
    expected = "sha256=" + hmac.new(SECRET.encode(), material, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-sievefile-signature"], expected)
    assert received.body["job"]["error"] == "élan: ✗ failed"
    assert headers["x-sievefile-event"] == "job.error"
    # The signature covers the timestamp and the body: change either and it no longer matches.
    for forged in (str(int(timestamp) + 1).encode() + b"." + received.raw, material + b" "):
        wrong = "sha256=" + hmac.new(SECRET.encode(), forged, hashlib.sha256).hexdigest()
        assert wrong != headers["x-sievefile-signature"]


def test_the_documented_verifier_accepts_a_fresh_request_and_refuses_forgeries(
    webhook_receiver: WebhookReceiver,
) -> None:
    verify = documented_verify()
    # The real clock here: the documented check compares the timestamp with now.
    WebhookNotifier.from_config(
        {"url": webhook_receiver.url, "secret": SECRET}, context(SECRET)
    ).notify(finished_run())
    webhook(webhook_receiver.url, secret=SECRET).notify(finished_run())  # signed long ago

    fresh, stale = webhook_receiver.received
    fresh_headers, stale_headers = headers_of(fresh), headers_of(stale)
    timestamp, signature = (
        fresh_headers["x-sievefile-timestamp"],
        fresh_headers["x-sievefile-signature"],
    )
    assert verify(SECRET, fresh.raw, timestamp, signature)
    assert not verify("another secret", fresh.raw, timestamp, signature)
    assert not verify(SECRET, fresh.raw.replace(b"failed", b"finished"), timestamp, signature)
    assert not verify(
        SECRET,
        stale.raw,
        stale_headers["x-sievefile-timestamp"],
        stale_headers["x-sievefile-signature"],
    )


def test_extra_headers_are_sent_but_cannot_replace_sievefiles_own(
    webhook_receiver: WebhookReceiver,
) -> None:
    extra = {"Authorization": TOKEN, "x-sievefile-event": "forged", "Content-Type": "text/plain"}
    webhook(webhook_receiver.url, headers=extra).notify(job_event(job("a")))

    headers = headers_of(webhook_receiver.received[0])
    assert headers["authorization"] == TOKEN
    assert headers["x-sievefile-event"] == "job.finished"
    assert headers["content-type"] == "application/json"


def test_a_failing_receiver_raises_with_its_status_and_no_secret(
    webhook_receiver: WebhookReceiver,
) -> None:
    url = f"{webhook_receiver.url}/hook/{SECRET}-in-path"
    notifier = webhook(url, secret=SECRET, headers={"Authorization": TOKEN})
    notification = job_event(job("a", JobStatus.ERROR, error="boom"))
    webhook_receiver.fail_first(1)

    with pytest.raises(DeliveryError) as raised:
        notifier.notify(notification)
    message = str(raised.value)
    assert message == f"webhook: {webhook_receiver.url} answered 500 Internal Server Error"
    for secret in (SECRET, TOKEN, "/hook/"):
        assert secret not in message
        assert secret not in repr(raised.value)
    assert raised.value.__cause__ is None

    notifier.notify(notification)  # what the framework's retry does
    assert webhook_receiver.attempts == 2
    (received,) = webhook_receiver.received
    assert headers_of(received)["x-sievefile-delivery"] == delivery_id(notification)


def test_an_answer_that_quotes_the_request_is_shown_with_its_secrets_masked(
    echoing_server: str,
) -> None:
    url = f"{echoing_server}/hook/{SECRET}?token=q-31337"
    notifier = webhook(url, headers={"Authorization": TOKEN})
    with pytest.raises(DeliveryError) as raised:
        notifier.notify(finished_run())
    message = str(raised.value)
    assert message.startswith(f"webhook: {echoing_server} answered 403 Forbidden: forbidden: ***")
    assert "'Authorization': '***'" in message
    assert "'X-Sievefile-Event': 'run.finished'" in message  # the rest is quoted as it came
    for secret in (SECRET, TOKEN, "tok-31337", "q-31337", "/hook"):
        assert secret not in message


def test_an_unreachable_receiver_raises_without_the_url_path() -> None:
    url = closed_port_url(f"/hook/{SECRET}")
    with pytest.raises(DeliveryError) as raised:
        webhook(url, secret=SECRET).notify(finished_run())
    message = str(raised.value)
    assert message.startswith(f"webhook: POST to {url.split('/hook')[0]} failed: ConnectError")
    assert SECRET not in message
    assert "/hook" not in message


def test_slack_posts_the_summary_with_channel_and_username(
    webhook_receiver: WebhookReceiver,
) -> None:
    url = f"{webhook_receiver.url}/services/T0001/B0001/XXXXXXXX"
    notifier = SlackNotifier.from_config(
        {"webhook_url": url, "channel": "#media", "username": "sievefile"}, context(url)
    )
    notification = finished_run()
    notifier.notify(notification)

    (received,) = webhook_receiver.received
    assert received.path == "/services/T0001/B0001/XXXXXXXX"
    assert headers_of(received)["content-type"] == "application/json"
    body = received.body
    assert body["channel"] == "#media"
    assert body["username"] == "sievefile"
    assert body["text"] == render_text(notification)
    shown = json.dumps(body["blocks"])
    for expected in (
        "podcast: run failed (1 of 4 jobs failed, 1h30m12s)",
        "Jobs: 1 finished, 1 error, 0 cancelled, 1 cached, 1 skipped",
        "job transcribe[lang=fr] (sieve/whisper) error: model crashed: CUDA out of memory",
        "s3: s3://media/podcast/",
    ):
        assert expected in shown


def test_slack_job_events_are_one_line(webhook_receiver: WebhookReceiver) -> None:
    url = f"{webhook_receiver.url}/services/T/B/X"
    notifier = SlackNotifier.from_config({"webhook_url": url}, context())
    notifier.notify(job_event(job("dub", JobStatus.SKIPPED, job_id=None)))

    body = webhook_receiver.received[0].body
    assert body["text"] == "podcast: job dub (sieve/whisper) skipped\n"
    assert [block["text"]["text"] for block in body["blocks"]] == [
        "podcast: job dub (sieve/whisper) skipped"
    ]
    assert "channel" not in body


def test_slack_failures_hide_the_webhook_token(webhook_receiver: WebhookReceiver) -> None:
    token_path = "/services/T0001/B0001/s3cr3tT0k3n"
    notifier = SlackNotifier.from_config(
        {"webhook_url": f"{webhook_receiver.url}{token_path}"}, context()
    )
    webhook_receiver.fail_first(1)
    with pytest.raises(
        DeliveryError, match=r"^slack: http://127\.0\.0\.1:\d+ answered 500"
    ) as raised:
        notifier.notify(finished_run())
    assert "s3cr3tT0k3n" not in str(raised.value)
    assert "/services" not in str(raised.value)

    unreachable = SlackNotifier.from_config({"webhook_url": closed_port_url(token_path)}, context())
    with pytest.raises(
        DeliveryError, match=r"^slack: POST to http://127\.0\.0\.1:\d+ failed"
    ) as raised:
        unreachable.notify(finished_run())
    assert "s3cr3tT0k3n" not in str(raised.value)
    assert "s3cr3tT0k3n" not in repr(unreachable)


@pytest.fixture
def answering_server() -> Iterator[Callable[[int, dict[str, str]], str]]:
    """`answer(status, headers)`: the URL of a server on 127.0.0.1 that answers every POST so."""
    answers: list[tuple[int, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, headers = answers[-1]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_http(Handler) as url:

        def answer(status: int, headers: dict[str, str]) -> str:
            answers.append((status, headers))
            return f"{url}/hook"

        yield answer


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "retry_after"),
    [
        (404, {}, True, None),  # Slack: channel_not_found; the same POST is refused again
        (403, {}, True, None),
        (302, {"Location": "http://127.0.0.1:9/elsewhere"}, True, None),
        (429, {"Retry-After": "7"}, False, 7.0),  # rate limited: wait as long as it says
        (503, {"Retry-After": "2"}, False, 2.0),
        (429, {}, False, None),
        (500, {}, False, None),  # the receiver's trouble: tried again as usual
        (408, {}, False, None),
    ],
)
@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_an_answer_says_whether_and_when_to_try_again(
    answering_server: Callable[[int, dict[str, str]], str],
    kind: str,
    status: int,
    headers: dict[str, str],
    permanent: bool,
    retry_after: float | None,
) -> None:
    url = answering_server(status, headers)
    notifier = (
        webhook(url)
        if kind == "webhook"
        else SlackNotifier.from_config({"webhook_url": url}, context())
    )
    with pytest.raises(DeliveryError, match=f"answered {status}") as raised:
        notifier.notify(finished_run())
    assert raised.value.permanent is permanent
    assert raised.value.retry_after == retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer literal-token-zzz999\n"}, "'Authorization' holds a line break"),
        ({"Bad Name": "x"}, "'Bad Name' is not a header name"),
    ],
)
def test_headers_http_cannot_send_are_refused_at_the_check(
    headers: dict[str, str], expected: str
) -> None:
    # They were refused by httpx at each of four tries, the value printed in every error.
    with pytest.raises(ConfigError, match=expected) as caught:
        WebhookNotifier.from_config(
            {"url": "http://127.0.0.1:9/hook", "headers": headers}, context()
        )
    assert "zzz999" not in str(caught.value)
