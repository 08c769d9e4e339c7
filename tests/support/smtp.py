"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), and a self-signed certificate for it.

```python
server = SmtpServer.start(tls=certificate, require_starttls=True, logins={"me": "pw"})
...                      # send mail to 127.0.0.1:server.port
server.messages          # every message received: envelope sender, recipients, parsed message
server.stop()
```
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.ports import free_port


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and `localhost`: `cert` (PEM, also what a client
    trusts) and `key` (PEM)."""

    cert: Path
    key: Path

    @classmethod
    def create(cls, folder: Path) -> Certificate:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sievefile test SMTP")])
        now = datetime.datetime.now(datetime.timezone.utc)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(cert_path, key_path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    #: Whether the session was encrypted (STARTTLS or implicit TLS) when the mail came.
    encrypted: bool
    #: The user the session logged in as (None without AUTH).
    login: str | None


@dataclass
class _Recorder:
    logins: dict[str, str]
    unknown: frozenset[str] = frozenset()
    messages: list[ReceivedMail] = field(default_factory=list)
    refused_logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # As a mailbox stores it: the wire's CRLF line ends become "\n".
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        mail = ReceivedMail(
            sender=str(envelope.mail_from),
            recipients=list(envelope.rcpt_tos),
            message=parsed,
            # session.ssl is STARTTLS's; an implicit TLS connection shows in its transport
            encrypted=session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            login=login,
        )
        with self.lock:
            self.messages.append(mail)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        if self.logins.get(user) == password:
            return AuthResult(success=True, auth_data=data)
        with self.lock:
            self.refused_logins.append(user)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 recording what it receives. With `tls` it offers STARTTLS (or, with
    `implicit_tls`, speaks TLS from the first byte); with `logins` it requires AUTH, which it
    allows only over TLS; it refuses the `unknown` recipients (550)."""

    def __init__(self, controller: Controller, recorder: _Recorder) -> None:
        self._controller = controller
        self._recorder = recorder
        self.port: int = controller.port

    @classmethod
    def start(
        cls,
        *,
        tls: Certificate | None = None,
        implicit_tls: bool = False,
        require_starttls: bool = False,
        logins: dict[str, str] | None = None,
        unknown: frozenset[str] = frozenset(),
    ) -> SmtpServer:
        recorder = _Recorder(dict(logins or {}), unknown)
        options: dict[str, Any] = {}
        if tls is not None and implicit_tls:
            options["ssl_context"] = tls.server_context()
        elif tls is not None:
            options["tls_context"] = tls.server_context()
            options["require_starttls"] = require_starttls
        if logins:
            options.update(authenticator=recorder.authenticate, auth_required=True)
        controller = Controller(
            recorder,
            hostname="127.0.0.1",
            # aiosmtpd needs its port up front (it connects to it to check it is up)
            port=free_port(),
            server_hostname="localhost",  # no DNS lookup of this machine's name
            # aiosmtpd counts only STARTTLS as TLS; an implicit TLS session is encrypted too.
            auth_require_tls=not implicit_tls,
            **options,
        )
        controller.start()
        return cls(controller, recorder)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._recorder.lock:
            return list(self._recorder.messages)

    @property
    def refused_logins(self) -> list[str]:
        with self._recorder.lock:
            return list(self._recorder.refused_logins)

    def stop(self) -> None:
        self._controller.stop()
