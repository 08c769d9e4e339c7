"""Built-in plugin: the `webhook` notifier, a signed JSON POST for each event.

```toml
[[notify]]
use = "webhook"
url = "https://hooks.example.com/sievefile"
on = ["run.finished", "job.error"]
secret = "${{ env.HOOK_SECRET }}"
```

The body is `Notification.to_json()` as compact UTF-8 JSON. Headers: `X-Sievefile-Event`,
`X-Sievefile-Delivery` (the event's stable id: the same on every retry and re-send, for
receivers to drop duplicates), `X-Sievefile-Timestamp` (Unix seconds of this attempt) and, with a
`secret`, `X-Sievefile-Signature: sha256=<hex>`, the HMAC-SHA256 under the secret of
`<timestamp>.<body>` (Stripe's scheme: a captured request cannot be replayed later with a new
timestamp). docs/notifiers.md shows how a receiver verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins._notify import (
    HTTP_TIMEOUT,
    Redactor,
    check_headers,
    check_url,
    delivery_id,
    origin,
    post_json,
    timeout_schema,
)
from runner import Notification, NotifierKind, PluginContext, RegisterNotifier, hookimpl

SIGNATURE_HEADER = "X-Sievefile-Signature"
TIMESTAMP_HEADER = "X-Sievefile-Timestamp"
EVENT_HEADER = "X-Sievefile-Event"
DELIVERY_HEADER = "X-Sievefile-Delivery"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {
            "type": "string",
            "minLength": 1,
            "description": "The http(s) URL each event is POSTed to.",
        },
        "secret": {
            "type": "string",
            "minLength": 1,
            "description": "Signs each request (HMAC-SHA256) in X-Sievefile-Signature.",
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Extra request headers (sievefile's own X-Sievefile-* headers win).",
        },
        "timeout": timeout_schema(HTTP_TIMEOUT),
    },
}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Sievefile-Signature` value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    material = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()


def encode(notification: Notification) -> bytes:
    """The exact body bytes: compact UTF-8 JSON (the bytes that are signed)."""
    document = notification.to_json()
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, repr=False)
class WebhookNotifier:
    """POSTs each event to `url`; `clock` gives the timestamp (a test fixes it)."""

    url: str
    secret: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = HTTP_TIMEOUT
    redact: Redactor = field(default_factory=Redactor)
    clock: Callable[[], float] = time.time

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: PluginContext) -> WebhookNotifier:
        headers = check_headers(config.get("headers", {}), label="webhook")
        secret = config.get("secret")
        return cls(
            url=check_url(config["url"], key="url", label="webhook"),
            secret=secret,
            headers=headers,
            timeout=float(config.get("timeout", HTTP_TIMEOUT)),
            # Header values often hold a token (Authorization), so they are masked too.
            redact=Redactor([secret, *headers.values(), *context.secrets], urls=[config["url"]]),
        )

    def __repr__(self) -> str:
        signed = "signed" if self.secret else "unsigned"
        return f"WebhookNotifier({origin(self.url)}, {signed}, timeout={self.timeout:g})"

    def request_headers(self, notification: Notification, body: bytes) -> dict[str, str]:
        """Every header of the POST for `notification` with this `body`."""
        timestamp = str(int(self.clock()))
        ours = {
            "Content-Type": "application/json",
            EVENT_HEADER: notification.event,
            DELIVERY_HEADER: delivery_id(notification),
            TIMESTAMP_HEADER: timestamp,
        }
        if self.secret:
            ours[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        # Case-insensitively: a user's "content-type" must not ride along with ours.
        extra = {k: v for k, v in self.headers.items() if k.lower() not in _lower(ours)}
        return {**extra, **ours}

    def notify(self, notification: Notification) -> None:
        body = encode(notification)
        post_json(
            self.url,
            body,
            self.request_headers(notification, body),
            timeout=self.timeout,
            label="webhook",
            redact=self.redact,
        )


def _lower(headers: Mapping[str, str]) -> set[str]:
    return {name.lower() for name in headers}


@hookimpl
def register_notifiers(register: RegisterNotifier) -> None:
    register(
        NotifierKind(
            name="webhook",
            config_schema=CONFIG_SCHEMA,
            factory=WebhookNotifier.from_config,
            description="POST each event as JSON to a URL, optionally signed (HMAC-SHA256).",
        )
    )
