"""What the built-in notifiers (`webhook`, `slack`, `email`) share; not a plugin itself.

- Every notifier raises `runner.DeliveryError` when an event could not be sent. Its message
  says what failed and where (scheme, host and port only: a webhook URL's path and query often
  carry its token) and never holds a secret.
- `Redactor`: the secret strings of one notifier, masked out of any text that goes into an error.
- `delivery_id(notification)`: the stable id of an event, the same every time it is sent again.
- `post_json(...)`: one POST with a timeout, no redirects, a `DeliveryError` for anything but
  2xx (permanent for a 3xx or a 4xx, honouring a 429's or 503's `Retry-After`).
- `check_url(url, key=, label=)`: a ConfigError unless `url` is an http(s) URL.
- `timeout_schema(default)`: the `timeout` key of each notifier's configuration schema, and the
  defaults `HTTP_TIMEOUT` and `SMTP_TIMEOUT`.

httpx is imported inside `post_json`: plugin modules load whenever the plugin manager is built
(even for `sievefile --help`), and that must stay light.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from runner import ConfigError, DeliveryError, Notification, Secrets, __version__

USER_AGENT = f"sievefile/{__version__}"
#: Default seconds each network operation may take: an HTTP POST, an SMTP exchange (SMTP
#: servers may delay their greeting on purpose, to slow spammers down).
HTTP_TIMEOUT = 10.0
SMTP_TIMEOUT = 30.0
#: How much of a failed response's body an error message quotes (Slack says why in it).
_BODY_SNIPPET = 200


class Redactor:
    """The secrets of one notifier: `redact(text)` masks each of them as `***`.

    For a URL it also hides the path and query on their own, which is where webhook services
    put the token (`https://hooks.slack.com/services/T0/B0/XXXX`).
    """

    def __init__(self, values: Iterable[str | None] = (), *, urls: Iterable[str] = ()) -> None:
        self._secrets = Secrets(value for value in values if value)
        for url in urls:
            self._secrets.add(url)
            parts = urlsplit(url)
            if parts.path not in ("", "/"):
                self._secrets.add(parts.path)
            self._secrets.add(parts.query)

    def __call__(self, text: str) -> str:
        return self._secrets.mask(text)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} hidden>)"


def check_url(url: str, *, key: str, label: str) -> str:
    """`url` when it is an http(s) URL with a host, else a ConfigError naming `key`.

    Checked here rather than by a schema `pattern`: `validate --allow-missing-env` checks an
    unset `${{ env.NAME }}` as the text of its reference, and a URL is usually one. The message
    does not repeat the URL, which may be a secret.
    """
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        valid = False
    else:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    if not valid:
        raise ConfigError(f"{label}: `{key}` must be an http:// or https:// URL with a host")
    return url


def check_headers(headers: Mapping[str, str], *, label: str) -> dict[str, str]:
    """`headers` when HTTP can send them, else a ConfigError at the check (not an error from
    each try). The message names the header, never its value (often a key)."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigError(f"{label}: `headers`: {name!r} is not a header name")
        if _CONTROL.search(value):
            raise ConfigError(
                f"{label}: `headers`: the value of {name!r} holds a line break or another "
                "control character (the value is not shown)"
            )
    return dict(headers)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: what messages and reprs show of a secret-bearing URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def delivery_id(notification: Notification) -> str:
    """A stable id of the event `notification` reports (hex SHA-256), for receivers to drop
    duplicates of an at-least-once delivery.

    A retry, or the same event sent again after `sievefile run --resume`, has the same id: a job
    event is named by the run, the event, the job instance and the service's job id (a job
    pushed again on resume is a new event); a run event by the run, the event, when that run
    (or resumed run) started, and for `run.finished` how it ended.
    """
    run = notification.run
    # Without a ledger a run has no id (and cannot be resumed): its manifest and start name it.
    parts = [run.run_id or f"{run.manifest}@{run.started_at!r}", notification.event]
    if notification.job is not None:
        parts += [notification.job.key, notification.job.job_id or ""]
    else:
        parts += [repr(run.started_at), str(run.resumed)]
        if notification.summary is not None:
            parts.append(notification.summary.status)
    # The unit separator cannot occur in names, so different parts never join to the same text.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def timeout_schema(default: float) -> dict[str, Any]:
    """The `timeout` key: seconds each network operation may take."""
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 600,
        "default": default,
        "description": f"Seconds each network operation may take (default {default:g}).",
    }


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    label: str,
    redact: Redactor,
) -> None:
    """POST `body` (JSON bytes) to `url`; a `DeliveryError` unless the answer is 2xx.

    Redirects are not followed: a 3xx is an error (a signed body must reach the URL the user
    wrote). The error names the status and quotes the start of the answer, secrets masked; it
    is permanent for a 3xx or a 4xx (the same event would be refused again) and carries a
    429's or 503's `Retry-After` (`DeliveryError.for_http_answer`).
    """
    import httpx

    where = origin(url)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers={"User-Agent": USER_AGENT, **headers})
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        # `from None`: the httpx error holds the request, and with it the whole URL.
        raise DeliveryError(
            redact(f"{label}: POST to {where} failed: {type(error).__name__}: {error}")
        ) from None
    if not response.is_success:
        snippet = " ".join(response.text[:_BODY_SNIPPET].split())
        message = f"{label}: {where} answered {response.status_code} {response.reason_phrase}"
        raise DeliveryError.for_http_answer(
            redact(f"{message}: {snippet}" if snippet else message),
            response.status_code,
            response.headers.get("Retry-After"),
        )
