"""Built-in plugin: the `slack` notifier, a readable message through a Slack incoming webhook.

```toml
[[notify]]
use = "slack"
webhook_url = "${{ env.SLACK_WEBHOOK_URL }}"
```

`run.finished` becomes a summary (status, counts, duration, failed jobs with their errors,
where the outputs went, delivery errors); every other event one line. The text is the one the
`email` notifier sends (`plugins._summary`); `message(notification)` lays it out as Slack blocks
and is a pure function. The webhook URL is a credential (its path is the token): errors and
reprs show only its host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins._notify import HTTP_TIMEOUT, Redactor, check_url, origin, post_json, timeout_schema
from plugins._summary import Section, headline, render_text, sections
from runner import Notification, NotifierKind, PluginContext, RegisterNotifier, hookimpl

#: Slack's limits: a header block's text, a section block's text.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["webhook_url"],
    "properties": {
        "webhook_url": {
            "type": "string",
            "minLength": 1,
            "description": "The incoming webhook's URL (a secret: use ${{ env.NAME }}).",
        },
        "channel": {
            "type": "string",
            "minLength": 1,
            "description": "Post to this channel instead (legacy webhooks only).",
        },
        "username": {
            "type": "string",
            "minLength": 1,
            "description": "Post under this name (legacy webhooks only).",
        },
        "timeout": timeout_schema(HTTP_TIMEOUT),
    },
}


def message(notification: Notification) -> dict[str, Any]:
    """The JSON Slack receives: `text` (the plain summary, shown in notifications and by
    clients without blocks) and `blocks` (the same content laid out). `<`, `>` and `&` are
    escaped in both, so that a job's error cannot mention `@channel` or make a link."""
    details = sections(notification)
    title = headline(notification)
    # A run summary gets a header; a one-line event one section (a header holds 150 characters,
    # too few for a job's error).
    first = (
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, _HEADER_LIMIT)}}
        if details
        else _section_block(Section("", (title,)))
    )
    blocks = [first, *(_section_block(section) for section in details)]
    return {"text": _escape(render_text(notification)), "blocks": blocks}


def _section_block(section: Section) -> dict[str, Any]:
    lines = [_escape(line) for line in section.lines]
    if section.title:
        lines = [f"*{_escape(section.title)}*", *(f"• {line}" for line in lines)]
    text = _cut("\n".join(lines), _SECTION_LIMIT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _escape(text: str) -> str:
    # Slack's mrkdwn reads <...> as links and mentions; job errors must show as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, repr=False)
class SlackNotifier:
    """Posts `message(notification)` to a Slack incoming webhook."""

    webhook_url: str
    channel: str | None = None
    username: str | None = None
    timeout: float = HTTP_TIMEOUT
    redact: Redactor = field(default_factory=Redactor)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: PluginContext) -> SlackNotifier:
        return cls(
            webhook_url=check_url(config["webhook_url"], key="webhook_url", label="slack"),
            channel=config.get("channel"),
            username=config.get("username"),
            timeout=float(config.get("timeout", HTTP_TIMEOUT)),
            redact=Redactor(context.secrets, urls=[config["webhook_url"]]),
        )

    def __repr__(self) -> str:
        return f"SlackNotifier({origin(self.webhook_url)}, timeout={self.timeout:g})"

    def payload(self, notification: Notification) -> dict[str, Any]:
        """`message(notification)` with this entry's channel and username."""
        document = message(notification)
        if self.channel:
            document["channel"] = self.channel
        if self.username:
            document["username"] = self.username
        return document

    def notify(self, notification: Notification) -> None:
        body = json.dumps(self.payload(notification), ensure_ascii=False).encode()
        post_json(
            self.webhook_url,
            body,
            {"Content-Type": "application/json"},
            timeout=self.timeout,
            label="slack",
            redact=self.redact,
        )


@hookimpl
def register_notifiers(register: RegisterNotifier) -> None:
    register(
        NotifierKind(
            name="slack",
            config_schema=CONFIG_SCHEMA,
            factory=SlackNotifier.from_config,
            description="Post a readable summary to a Slack incoming webhook.",
        )
    )
