"""docs/notifiers.md tells the truth: its TOML examples pass the notifiers' schemas and
factories, and its summary example is what the summary builder writes."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from plugins._summary import render_text
from runner import PluginContext
from runner._toml import toml_loads
from runner.plugins import build_plugin_manager, notifier_kinds
from tests.support.notifications import finished_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifiers.md"
# What `${{ env.NAME }}` resolves to before validation (the framework resolves, then checks).
ENVIRONMENT = {
    "HOOK_SECRET": "hook-secret",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XXXX",
    "SMTP_PASSWORD": "smtp-password",
}


def fenced(language: str) -> list[str]:
    """The text of every ```language block of the page."""
    return re.findall(rf"^```{language}\n(.*?)^```$", DOCS.read_text(), re.S | re.M)


def resolved(text: str) -> str:
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: ENVIRONMENT[m.group(1)], text)


def notify_entries() -> list[dict[str, object]]:
    return [entry for block in fenced("toml") for entry in toml_loads(resolved(block))["notify"]]


def test_the_page_has_an_example_of_each_kind() -> None:
    assert {entry["use"] for entry in notify_entries()} == {"webhook", "slack", "email"}


@pytest.mark.parametrize("entry", notify_entries(), ids=lambda entry: str(entry["use"]))
def test_every_documented_entry_is_valid(entry: dict[str, object]) -> None:
    kinds = notifier_kinds(build_plugin_manager(load_entry_points=False))
    kind, _ = kinds[str(entry["use"])]
    config = {key: value for key, value in entry.items() if key not in ("use", "on")}
    jsonschema.Draft202012Validator(kind.config_schema).validate(config)
    context = PluginContext(manifest=DOCS, manifest_dir=DOCS.parent, index=0)
    assert kind.factory(config, context) is not None


def test_the_documented_summary_is_what_the_builder_writes() -> None:
    (example,) = fenced("text")
    notification = finished_run(failed=1, errors=("s3: thumbnail: AccessDenied",))
    assert example == render_text(notification)
