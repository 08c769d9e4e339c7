"""The built-in notifier kinds are registered, their schemas accept what docs/notifiers.md shows
and refuse the rest, their factories check what a schema cannot, and importing them is light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from plugins.email import EmailNotifier
from plugins.slack import SlackNotifier
from plugins.webhook import WebhookNotifier
from runner import ConfigError, PluginContext
from runner.plugins import build_plugin_manager, notifier_kinds

CONTEXT = PluginContext(
    manifest=Path("/work/podcast.toml"),
    manifest_dir=Path("/work"),
    index=0,
    secrets=frozenset({"s3cr3t-from-env"}),
)

VALID: dict[str, dict[str, Any]] = {
    "webhook": {
        "url": "https://hooks.example.com/sievefile",
        "secret": "s3cr3t-from-env",
        "headers": {"Authorization": "Bearer t0ken"},
        "timeout": 5,
    },
    "slack": {
        "webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX",
        "channel": "#media",
        "username": "sievefile",
    },
    "email": {
        "to": ["a@example.com", "b@example.com"],
        "from": "bot@example.com",
        "host": "smtp.example.com",
        "port": 2525,
        "starttls": True,
        "username": "bot@example.com",
        "password": "s3cr3t-from-env",
        "subject": "{name} {status}",
        "timeout": 30,
    },
}

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("webhook", {}, "'url' is a required property"),
    ("webhook", {"url": "https://x.example", "sercet": "typo"}, "'sercet' was unexpected"),
    ("webhook", {"url": "https://x.example", "timeout": 0}, "less than or equal to the minimum"),
    ("webhook", {"url": "https://x.example", "headers": {"X-N": 1}}, "is not of type 'string'"),
    ("email", {"to": "a@example.com"}, "'host' is a required property"),
    ("email", {"to": [], "host": "h"}, "is not valid under any of the given schemas"),
    ("email", {"to": "a@example.com", "host": "h", "username": "u"}, "'password' is a dep"),
    ("email", {"to": "a@example.com", "host": "h", "port": 70000}, "is greater than"),
    ("email", {"to": "a@example.com", "host": "h", "from": "a@x.org\nBcc: b@x.org"}, "match"),
    ("email", {"to": ["a@example.com\r\nBcc: b@x.org"], "host": "h"}, "not valid under any"),
]


@pytest.fixture(scope="module")
def kinds() -> dict[str, Any]:
    return {
        name: kind
        for name, (kind, _) in notifier_kinds(build_plugin_manager(load_entry_points=False)).items()
    }


def test_the_three_notifiers_are_registered_by_their_own_plugins() -> None:
    found = notifier_kinds(build_plugin_manager(load_entry_points=False))
    assert {name: plugin for name, (_, plugin) in found.items()} == {
        "webhook": "plugins.webhook",
        "slack": "plugins.slack",
        "email": "plugins.email",
    }
    assert all(kind.description for kind, _ in found.values())


@pytest.mark.parametrize("name", sorted(VALID))
def test_schema_is_valid_json_schema_and_accepts_the_documented_keys(
    kinds: dict[str, Any], name: str
) -> None:
    schema = kinds[name].config_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator(schema).validate(VALID[name])
    kinds[name].factory(VALID[name], CONTEXT)


@pytest.mark.parametrize(("name", "config", "message"), INVALID)
def test_schema_refuses(
    kinds: dict[str, Any], name: str, config: dict[str, Any], message: str
) -> None:
    errors = list(jsonschema.Draft202012Validator(kinds[name].config_schema).iter_errors(config))
    assert any(message in error.message for error in errors), [e.message for e in errors]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "hooks.slack.com/x", "https:///path", "http://h:port/x"]
)
def test_urls_must_be_http_with_a_host_and_the_error_does_not_repeat_them(url: str) -> None:
    # Checked by the factories: the schemas accept any text, such as an unset ${{ env.NAME }}.
    with pytest.raises(ConfigError, match=r"^webhook: `url` must be an http:// or https:// URL"):
        WebhookNotifier.from_config({"url": url}, CONTEXT)
    with pytest.raises(ConfigError, match=r"^slack: `webhook_url` must be an http") as raised:
        SlackNotifier.from_config({"webhook_url": url}, CONTEXT)
    assert url not in str(raised.value)


def test_email_defaults_are_secure_and_ports_follow_the_mode() -> None:
    base = {"to": "a@example.com", "host": "smtp.example.com", "username": "me@example.com"}
    starttls = EmailNotifier.from_config({**base, "password": "pw"}, CONTEXT)
    assert (starttls.security.mode, starttls.port, starttls.from_) == (
        "starttls",
        587,
        "me@example.com",
    )
    implicit = EmailNotifier.from_config({**base, "password": "pw", "ssl": True}, CONTEXT)
    assert (implicit.security.mode, implicit.port) == ("ssl", 465)
    plain = EmailNotifier.from_config({"to": "a@x.org", "host": "h", "starttls": False}, CONTEXT)
    assert (plain.security.mode, plain.port) == ("plain", 25)
    assert plain.from_.startswith("sievefile@")


def test_email_ca_file_is_taken_from_the_manifest_folder_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    context = PluginContext(manifest=tmp_path / "m.toml", manifest_dir=tmp_path, index=0)
    config = {"to": "a@example.com", "host": "smtp.example.com", "ca_file": "certs/ca.pem"}
    email = EmailNotifier.from_config(config, context)
    assert email.security.ca_file == tmp_path / "certs" / "ca.pem"
    with pytest.raises(ConfigError, match=r"ca_file '.*certs/missing\.pem' is not a file"):
        EmailNotifier.from_config({**config, "ca_file": "certs/missing.pem"}, context)


def test_email_factory_refuses_ssl_with_starttls_and_unknown_subject_placeholders() -> None:
    base = {"to": "a@example.com", "host": "smtp.example.com"}
    with pytest.raises(ConfigError, match="`ssl` and `starttls` cannot both be true"):
        EmailNotifier.from_config({**base, "ssl": True, "starttls": True}, CONTEXT)
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \{\}, \{jobname\}, \{when\};"):
        EmailNotifier.from_config({**base, "subject": "{when} {jobname} {}"}, CONTEXT)
    for broken in ("{name", "{name!x}", "{status:d}"):
        with pytest.raises(ConfigError, match="not a valid template"):
            EmailNotifier.from_config({**base, "subject": broken}, CONTEXT)


def test_reprs_show_no_secret() -> None:
    notifiers = [
        WebhookNotifier.from_config(VALID["webhook"], CONTEXT),
        SlackNotifier.from_config(VALID["slack"], CONTEXT),
        EmailNotifier.from_config(VALID["email"], CONTEXT),
    ]
    shown = " ".join(repr(notifier) for notifier in notifiers)
    assert "WebhookNotifier(https://hooks.example.com, signed, timeout=5)" in shown
    assert "SlackNotifier(https://hooks.slack.com, timeout=10)" in shown
    assert "EmailNotifier(smtp.example.com:2525, starttls, login='bot@example.com'" in shown
    for secret in ("s3cr3t-from-env", "t0ken", "XXXX", "/services", "/sievefile"):
        assert secret not in shown


def test_importing_the_notifier_plugins_stays_light() -> None:
    # Plugin modules load with the plugin manager, even for `sievefile --help`.
    probe = (
        "import sys, json\n"
        "import plugins.webhook, plugins.slack, plugins.email\n"
        "heavy = ('httpx', 'jsonschema', 'smtplib', 'ssl', 'runner.manifest')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(completed.stdout.splitlines()[-1]) == []
