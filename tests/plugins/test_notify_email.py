"""The `email` notifier against a real SMTP server on 127.0.0.1 (aiosmtpd): recipients, subject
and body; STARTTLS and implicit TLS with a checked certificate; AUTH over TLS; failures that
never show the password."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugins._notify import delivery_id
from plugins._summary import render_text
from plugins.email import EmailNotifier
from runner import DeliveryError, JobStatus, PluginContext
from tests.support.notifications import finished_run, job, job_event
from tests.support.ports import free_port
from tests.support.smtp import Certificate, SmtpServer

PASSWORD = "smtp-pa55-9f2c"
USER = "bot@example.com"

StartSmtp = Callable[..., SmtpServer]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return Certificate.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def start_smtp() -> Iterator[StartSmtp]:
    servers: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        servers.append(SmtpServer.start(**options))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def notifier(port: int, certificate: Certificate | None = None, **config: Any) -> EmailNotifier:
    """An email notifier for 127.0.0.1:port; `ca_file` is given relative to the manifest."""
    folder = certificate.cert.parent if certificate else Path("/work")
    context = PluginContext(
        manifest=folder / "m.toml", manifest_dir=folder, index=0, secrets=frozenset({PASSWORD})
    )
    if certificate is not None:
        config.setdefault("ca_file", certificate.cert.name)
    base = {"to": "ops@example.com", "from": USER, "host": "127.0.0.1", "port": port}
    return EmailNotifier.from_config({**base, **config}, context)


def test_a_run_summary_arrives_as_plain_text(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    failures = tuple(
        job(f"clip[n={n}]", JobStatus.ERROR, error=f"bad frame {n}") for n in range(12)
    )
    notification = finished_run((job("intro"), *failures))
    notifier(server.port, starttls=False, to=["ops@example.com", "Lead <lead@example.com>"]).notify(
        notification
    )

    (mail,) = server.messages
    assert mail.sender == USER
    assert mail.recipients == ["ops@example.com", "lead@example.com"]
    assert not mail.encrypted
    message = mail.message
    assert message["Subject"] == "[sievefile] podcast: failed"
    assert message["To"] == "ops@example.com, Lead <lead@example.com>"
    # 88 characters: folded onto a second line, hence the strip
    assert message["Message-ID"].strip() == f"<{delivery_id(notification)}@sievefile>"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert body == render_text(notification)
    assert "Jobs: 1 finished, 12 error, 0 cancelled, 0 cached, 0 skipped" in body
    assert "Failed jobs (12):\n  job clip[n=0] (sieve/whisper) error: bad frame 0\n" in body
    assert "  job clip[n=9] (sieve/whisper) error: bad frame 9\n  and 2 more\n" in body
    assert "clip[n=10]" not in body


def test_starttls_and_login_with_a_checked_certificate(
    start_smtp: StartSmtp, certificate: Certificate
) -> None:
    server = start_smtp(tls=certificate, require_starttls=True, logins={USER: PASSWORD})
    email = notifier(
        server.port, certificate, username=USER, password=PASSWORD, subject="{event} {job}"
    )
    email.notify(job_event(job("dub", JobStatus.ERROR, error="voice model timed out")))

    (mail,) = server.messages
    assert mail.encrypted
    assert mail.login == USER
    assert mail.recipients == ["ops@example.com"]
    assert mail.message["Subject"] == "job.error dub"
    assert mail.message.get_content() == (
        "podcast: job dub (sieve/whisper) error: voice model timed out\n"
    )


# aiosmtpd counts only STARTTLS as TLS, so this server requires AUTH "without TLS" (it is TLS).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls(start_smtp: StartSmtp, certificate: Certificate) -> None:
    server = start_smtp(tls=certificate, implicit_tls=True, logins={USER: PASSWORD})
    notifier(server.port, certificate, ssl=True, username=USER, password=PASSWORD).notify(
        finished_run()
    )

    (mail,) = server.messages
    assert mail.encrypted
    assert mail.login == USER


def test_a_wrong_password_fails_without_showing_it(
    start_smtp: StartSmtp, certificate: Certificate
) -> None:
    server = start_smtp(tls=certificate, require_starttls=True, logins={USER: "the-right-one"})
    email = notifier(server.port, certificate, username=USER, password=PASSWORD)
    with pytest.raises(DeliveryError) as raised:
        email.notify(finished_run())

    message = str(raised.value)
    assert message.startswith(
        f"email: sending through 127.0.0.1:{server.port} failed: SMTPAuthenticationError: (535"
    )
    assert set(server.refused_logins) == {USER}  # smtplib tries PLAIN, then LOGIN
    assert server.messages == []
    for shown in (message, repr(raised.value), repr(email)):
        assert PASSWORD not in shown
    assert raised.value.__cause__ is None
    assert raised.value.permanent  # 535: the same password will be refused again


def test_an_untrusted_certificate_is_refused(
    start_smtp: StartSmtp, certificate: Certificate, tmp_path: Path
) -> None:
    server = start_smtp(tls=certificate, require_starttls=True, logins={USER: PASSWORD})
    stranger = Certificate.create(tmp_path)  # trusting another certificate is not trusting this
    email = notifier(
        server.port, certificate, ca_file=str(stranger.cert), username=USER, password=PASSWORD
    )
    with pytest.raises(DeliveryError, match="SSLCertVerificationError") as raised:
        email.notify(finished_run())
    assert PASSWORD not in str(raised.value)
    assert server.messages == []
    assert server.refused_logins == []  # the password never left


def test_the_server_refuses_login_without_tls(
    start_smtp: StartSmtp, certificate: Certificate
) -> None:
    # A server that requires STARTTLS, a notifier told not to use it: nothing is sent.
    server = start_smtp(tls=certificate, require_starttls=True, logins={USER: PASSWORD})
    email = notifier(server.port, starttls=False, username=USER, password=PASSWORD)
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{server.port} failed") as raised:
        email.notify(finished_run())
    assert PASSWORD not in str(raised.value)
    assert server.messages == []


def test_an_unreachable_server_raises() -> None:
    port = free_port()
    with pytest.raises(
        DeliveryError, match=f"127.0.0.1:{port} failed: ConnectionRefusedError"
    ) as raised:
        notifier(port, starttls=False).notify(finished_run())
    assert not raised.value.permanent  # the server may be back for the next try


def test_a_refused_recipient_fails_the_notification(start_smtp: StartSmtp) -> None:
    server = start_smtp(unknown=frozenset({"ghost@example.com"}))
    email = notifier(server.port, starttls=False, to=["ops@example.com", "ghost@example.com"])
    with pytest.raises(DeliveryError) as raised:
        email.notify(finished_run())
    assert str(raised.value) == (
        f"email: sending through 127.0.0.1:{server.port} failed: recipients refused: "
        "ghost@example.com: 550 5.1.1 no such mailbox"
    )
    (mail,) = server.messages  # the others got it: a retry may send them a copy
    assert mail.recipients == ["ops@example.com"]
    assert raised.value.permanent  # 550: no such mailbox, whatever the next try
