"""The built-in `webhook`, `slack` and `email` notifiers in a real run: configured from the
manifest with `${{ env.* }}` secrets, called by the framework (which retries them), received by
real servers on 127.0.0.1; and checkable without the secrets (`--allow-missing-env`)."""

from __future__ import annotations

import hashlib
import hmac
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from runner.execute.delivery import DeliveryPolicy, delivery_problems
from runner.manifest import load_manifest_text
from runner.plugins import build_plugin_manager
from tests.conftest import WebhookReceiver
from tests.support.smtp import SmtpServer

NOTIFIERS = ("plugins.webhook", "plugins.slack", "plugins.email")
FAST = DeliveryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)
SECRET = "hook-secret-5f1d"
SLACK_TOKEN = "T01/B02/slacktoken77"

MANIFEST = """
version = 1
[run]
fail_fast = false  # the job that fails must not cancel the one that finishes

[jobs.greet]
function = "exec/write"
inputs = {{ text = "hello", name = "hi.txt" }}

[jobs.broken]
function = "exec/fail"
inputs = {{ message = "the model fell over" }}

[[notify]]
use = "webhook"
url = "${{{{ env.HOOK_URL }}}}"
secret = "${{{{ env.HOOK_SECRET }}}}"
on = ["run.started", "job.error", "run.finished"]

[[notify]]
use = "slack"
webhook_url = "${{{{ env.SLACK_WEBHOOK_URL }}}}"

[[notify]]
use = "email"
to = "ops@example.com"
from = "bot@example.com"
host = "127.0.0.1"
port = {smtp_port}
starttls = false
"""


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer.start()
    yield server
    server.stop()


@pytest.fixture
def notifiers() -> pluggy.PluginManager:
    return build_plugin_manager(NOTIFIERS, load_entry_points=False)


def environment(receiver: WebhookReceiver) -> dict[str, str]:
    return {
        "HOOK_URL": f"{receiver.url}/hook",
        "HOOK_SECRET": SECRET,
        "SLACK_WEBHOOK_URL": f"{receiver.url}/services/{SLACK_TOKEN}",
    }


def test_a_run_tells_the_webhook_slack_and_email(
    run_text: Any,
    notifiers: pluggy.PluginManager,
    webhook_receiver: WebhookReceiver,
    smtp_server: SmtpServer,
) -> None:
    webhook_receiver.fail_first(1)  # the framework retries, the notifier does not
    run = run_text(
        MANIFEST.format(smtp_port=smtp_server.port),
        plugins=notifiers,
        delivery=FAST,
        environ=environment(webhook_receiver),
    )

    assert run.summary.deliveries.notified == 5
    assert run.summary.deliveries.notify_failed == 0
    hooks = [r for r in webhook_receiver.received if r.path == "/hook"]
    assert sorted(r.body["event"] for r in hooks) == ["job.error", "run.finished", "run.started"]
    for received in hooks:
        headers = {name.lower(): value for name, value in received.headers.items()}
        material = headers["x-sievefile-timestamp"].encode() + b"." + received.raw
        signature = hmac.new(SECRET.encode(), material, hashlib.sha256).hexdigest()
        assert headers["x-sievefile-signature"] == f"sha256={signature}"
        assert headers["x-sievefile-event"] == received.body["event"]
    assert len({r.headers["X-Sievefile-Delivery"] for r in hooks}) == 3
    (error,) = [r.body for r in hooks if r.body["event"] == "job.error"]
    assert error["job"]["key"] == "broken"
    assert "the model fell over" in error["job"]["error"]
    (finished,) = [r.body for r in hooks if r.body["event"] == "run.finished"]
    assert finished["summary"]["counts"]["finished"] == 1
    assert [job["key"] for job in finished["summary"]["failed"]] == ["broken"]

    (slack,) = [r.body for r in webhook_receiver.received if r.path.startswith("/services/")]
    assert slack["text"].startswith("manifest: run failed (1 of 2 jobs failed, ")
    assert "Failed jobs (1):\n  job broken (exec/fail) error: " in slack["text"]
    assert "the model fell over" in slack["text"]

    (mail,) = smtp_server.messages
    assert mail.recipients == ["ops@example.com"]
    assert mail.message["Subject"] == "[sievefile] manifest: failed"
    assert mail.message.get_content() == slack["text"]
    shown = " ".join(event.message for event in run.events)
    assert "retrying" in [event.kind for event in run.events]
    assert SECRET not in shown
    assert SLACK_TOKEN not in shown


def test_validate_without_the_secrets_passes_and_with_them_builds_the_notifiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sievefile validate --allow-missing-env` in CI: an unset variable is checked as the text
    # of its reference, and the entry that holds it is not built (its factory would take
    # "${{ env.SLACK_WEBHOOK_URL }}" for the URL).
    for name in ("HOOK_URL", "HOOK_SECRET", "SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    text = textwrap.dedent(MANIFEST.format(smtp_port=2525))
    path = tmp_path / "manifest.toml"
    manifest = load_manifest_text(text, path, environ={}, require_env=False)
    assert delivery_problems(manifest, require_env=False) == []

    # With every variable set, each notifier is built, and its own checks run.
    monkeypatch.setenv("HOOK_URL", "ftp://hooks.example.com/sievefile")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"https://hooks.slack.com/services/{SLACK_TOKEN}")
    manifest = load_manifest_text(text, path)
    (problem,) = delivery_problems(manifest)
    assert "webhook: `url` must be an http:// or https:// URL with a host" in str(problem)
    assert f"{path}:" in str(problem)
