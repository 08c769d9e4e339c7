"""Built-in plugin: the `email` notifier, a plain-text mail through an SMTP server.

```toml
[[notify]]
use = "email"
to = ["team@example.com"]
from = "sievefile@example.com"
host = "smtp.example.com"
username = "sievefile@example.com"
password = "${{ env.SMTP_PASSWORD }}"
```

The body is the text the `slack` notifier sends (`plugins._summary`). The connection is
encrypted by default: STARTTLS (port 587) unless `ssl = true` (implicit TLS, port 465), with the
server's certificate checked against the system's authorities (or `ca_file`); `starttls = false`
without `ssl` sends in the clear (port 25, for a relay on the same machine). The Message-ID is
built from the event's delivery id, so a re-sent event is the same message to mail servers.
"""

from __future__ import annotations

import socket
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins._notify import SMTP_TIMEOUT, Redactor, delivery_id, timeout_schema
from plugins._summary import render_text, status_word
from runner import (
    ConfigError,
    DeliveryError,
    Notification,
    NotifierKind,
    PluginContext,
    RegisterNotifier,
    hookimpl,
)

if TYPE_CHECKING:
    import smtplib
    import ssl
    from email.message import EmailMessage

DEFAULT_SUBJECT = "[sievefile] {name}: {status}"
#: The placeholders a `subject` may use.
SUBJECT_FIELDS = ("name", "status", "event", "run", "job", "function")

# One line: an address goes into a header, where a line break would start another header.
_ADDRESS: dict[str, Any] = {"type": "string", "minLength": 3, "pattern": r"^[^\r\n]+$"}
_ADDRESSES: dict[str, Any] = {
    "oneOf": [_ADDRESS, {"type": "array", "items": _ADDRESS, "minItems": 1}]
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to", "host"],
    "properties": {
        "to": {**_ADDRESSES, "description": "Who gets the mail: an address or a list."},
        "from": {
            **_ADDRESS,
            "description": "The sender (default: `username` if it is an address).",
        },
        "host": {"type": "string", "minLength": 1, "description": "The SMTP server."},
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": "Default 465 with `ssl`, 587 with STARTTLS, else 25.",
        },
        "starttls": {
            "type": "boolean",
            "description": "Upgrade the connection with STARTTLS (default unless `ssl`).",
        },
        "ssl": {"type": "boolean", "default": False, "description": "Implicit TLS (SMTPS)."},
        "ca_file": {
            "type": "string",
            "minLength": 1,
            "description": "PEM file of the authorities to trust (relative to the manifest).",
        },
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1},
        "subject": {
            "type": "string",
            "minLength": 1,
            "default": DEFAULT_SUBJECT,
            "description": "Subject template; placeholders " + ", ".join(SUBJECT_FIELDS) + ".",
        },
        "timeout": timeout_schema(SMTP_TIMEOUT),
    },
    "dependentRequired": {"username": ["password"], "password": ["username"]},
}


@dataclass(frozen=True)
class Security:
    """How the connection is protected: implicit TLS (`ssl`), STARTTLS, or neither."""

    implicit_tls: bool = False
    starttls: bool = True
    ca_file: Path | None = None

    @property
    def mode(self) -> str:
        return "ssl" if self.implicit_tls else "starttls" if self.starttls else "plain"

    @property
    def default_port(self) -> int:
        return 465 if self.implicit_tls else 587 if self.starttls else 25

    def context(self) -> ssl.SSLContext:
        """A client TLS context that checks the server's certificate and name."""
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


@dataclass(frozen=True, repr=False)
class EmailNotifier:
    """Sends `render_text(notification)` to `to` through `host:port`."""

    to: tuple[str, ...]
    from_: str
    host: str
    port: int
    security: Security = field(default_factory=Security)
    username: str | None = None
    password: str | None = None
    subject: str = DEFAULT_SUBJECT
    timeout: float = SMTP_TIMEOUT
    redact: Redactor = field(default_factory=Redactor)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: PluginContext) -> EmailNotifier:
        security = _security(config, context)
        to = config["to"]
        username = config.get("username")
        subject = config.get("subject", DEFAULT_SUBJECT)
        _check_subject(subject)
        return cls(
            to=(to,) if isinstance(to, str) else tuple(to),
            from_=config.get("from") or _default_sender(username),
            host=config["host"],
            port=config.get("port", security.default_port),
            security=security,
            username=username,
            password=config.get("password"),
            subject=subject,
            timeout=float(config.get("timeout", SMTP_TIMEOUT)),
            redact=Redactor([config.get("password"), *context.secrets]),
        )

    def __repr__(self) -> str:
        login = f", login={self.username!r}" if self.username else ""
        where = f"{self.host}:{self.port}, {self.security.mode}"
        return f"EmailNotifier({where}{login}, to={list(self.to)!r})"

    def build(self, notification: Notification) -> EmailMessage:
        """The message for `notification`: headers and the plain-text summary."""
        from email.message import EmailMessage
        from email.utils import formatdate

        message = EmailMessage()
        message["Subject"] = render_subject(self.subject, notification)
        message["From"] = self.from_
        message["To"] = ", ".join(self.to)
        message["Message-ID"] = f"<{delivery_id(notification)}@sievefile>"
        # When the event happened: a re-sent event is the same message, headers included.
        message["Date"] = formatdate(notification.time, usegmt=True)
        message.set_content(render_text(notification))
        return message

    def notify(self, notification: Notification) -> None:
        import smtplib

        message = self.build(notification)
        try:
            with self._connect() as smtp:
                if self.security.starttls:
                    smtp.starttls(context=self.security.context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            # OSError covers refused connections, timeouts and certificate failures.
            raise DeliveryError(
                self.redact(f"{self._failed()}: {type(error).__name__}: {error}"),
                permanent=_refused_for_good(error),
            ) from None
        if refused:
            # Some got it, some did not: fail, so that it is retried and then reported. The
            # others may get it twice, with the same Message-ID (mail clients drop the copy).
            reasons = "; ".join(
                f"{address}: {code} {reply.decode(errors='replace')}"
                for address, (code, reply) in refused.items()
            )
            raise DeliveryError(
                self.redact(f"{self._failed()}: recipients refused: {reasons}"),
                permanent=all(_permanent_reply(code) for code, _ in refused.values()),
            )

    def _failed(self) -> str:
        return f"email: sending through {self.host}:{self.port} failed"

    def _connect(self) -> smtplib.SMTP:
        import smtplib

        if self.security.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.security.context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def render_subject(template: str, notification: Notification) -> str:
    """`template` filled in for `notification`, on one line (a header cannot hold a newline)."""
    job = notification.job
    values = {
        "name": notification.run.name,
        "status": status_word(notification),
        "event": notification.event,
        "run": notification.run.run_id or "",
        "job": job.key if job is not None else "",
        "function": job.function if job is not None else "",
    }
    return " ".join(template.format(**values).split())


def _check_subject(template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ConfigError(f"email: subject {template!r} is not a valid template: {error}") from None
    unknown = sorted(names - set(SUBJECT_FIELDS))
    if unknown:
        raise ConfigError(
            f"email: subject uses unknown placeholder(s) {_braced(unknown)}; "
            f"available: {_braced(SUBJECT_FIELDS)}"
        )
    try:  # a conversion or format spec that cannot apply to text (`{name!x}`, `{name:d}`)
        template.format(**dict.fromkeys(SUBJECT_FIELDS, ""))
    except ValueError as error:
        raise ConfigError(f"email: subject {template!r} is not a valid template: {error}") from None


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + name + "}" for name in names)


def _security(config: Mapping[str, Any], context: PluginContext) -> Security:
    use_ssl = bool(config.get("ssl", False))
    starttls = bool(config.get("starttls", not use_ssl))
    if use_ssl and starttls:
        raise ConfigError(
            "email: `ssl` and `starttls` cannot both be true (ssl is TLS from the first byte, "
            "starttls upgrades a plain connection): choose one"
        )
    ca_file = (context.manifest_dir / config["ca_file"]) if config.get("ca_file") else None
    if ca_file is not None and not ca_file.is_file():
        # Now rather than at the first event, where it would only be a failed delivery.
        raise ConfigError(f"email: ca_file {str(ca_file)!r} is not a file")
    return Security(implicit_tls=use_ssl, starttls=starttls, ca_file=ca_file)


def _default_sender(username: str | None) -> str:
    if username and "@" in username:
        return username
    return f"sievefile@{socket.gethostname()}"


@hookimpl
def register_notifiers(register: RegisterNotifier) -> None:
    register(
        NotifierKind(
            name="email",
            config_schema=CONFIG_SCHEMA,
            factory=EmailNotifier.from_config,
            description="Mail a plain-text summary through an SMTP server (STARTTLS or TLS).",
        )
    )


def _permanent_reply(code: int) -> bool:
    """An SMTP reply code that sending again cannot change (5xx: a bad login, a mailbox that
    does not exist); 4xx replies are temporary."""
    return 500 <= code < 600


def _refused_for_good(error: Exception) -> bool:
    import smtplib

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(_permanent_reply(code) for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and _permanent_reply(error.smtp_code)
