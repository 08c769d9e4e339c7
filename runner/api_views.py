"""Human-readable views of Sieve API objects (functions, jobs, job lists) as rich renderables.

The API commands print these unless `--json` asks for the raw bodies. Each view takes the JSON
body exactly as the API returned it and tolerates missing or extra fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

_STATUS_STYLES = {
    "queued": "yellow",
    "processing": "cyan",
    "finished": "green",
    "error": "red",
    "cancelled": "magenta",
}


def compact_json(value: Any, limit: int = 120) -> str:
    """`value` as one line of JSON, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_text(status: Any) -> Text:
    return Text(str(status), style=_STATUS_STYLES.get(str(status), ""))


def function_name(job: Mapping[str, Any]) -> str:
    """`owner/name` of the function a job ran, or its function id when the job does not say."""
    function = job.get("function")
    if isinstance(function, Mapping) and function.get("name"):
        return f"{function.get('owner_name', '?')}/{function['name']}"
    return str(job.get("function_id") or "?")


def function_view(function: Mapping[str, Any]) -> RenderableType:
    """A function's name, version, description, and its inputs and outputs as tables."""
    version = function.get("latest_version") or {}
    title = f"{function.get('owner_name', '?')}/{function.get('name', '?')}"
    header = Text(title, style="bold")
    if version.get("id"):
        header.append(f"  version {version['id']}", style="dim")
    parts: list[RenderableType] = [header]
    description = function.get("description") or function.get("title")
    if description:
        parts.append(Text(str(description)))
    parts.append(_items_table("inputs", version.get("inputs") or [], with_optional=True))
    parts.append(_items_table("outputs", version.get("outputs") or [], with_optional=False))
    return Group(*parts)


def _items_table(title: str, items: Iterable[Any], *, with_optional: bool) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("name", style="bold")
    table.add_column("type")
    if with_optional:
        table.add_column("default")
    table.add_column("description", overflow="fold")
    for item in items:
        if not isinstance(item, Mapping):
            continue
        row = [str(item.get("name", "")), _type_text(item)]
        if with_optional:
            row.append(_default_text(item) if item.get("is_optional") else "required")
        row.append(str(item.get("description") or ""))
        table.add_row(*row)
    return table


def _type_text(item: Mapping[str, Any]) -> str:
    """The item's type; the SDK's bare `Literal` with its choices, as `Literal['a', 'b']`."""
    from runner.schemas.derive import item_choices

    type_text = str(item.get("type", ""))
    choices = item_choices(item) if type_text == "Literal" else None
    return f"Literal[{', '.join(repr(c) for c in choices)}]" if choices else type_text


def _default_text(item: Mapping[str, Any]) -> str:
    """An optional input's default: decoded from the SDK's pickle without running code (see
    `runner.schemas.defaults`), else `data` as sent."""
    from runner.schemas.defaults import explicit_default
    from runner.schemas.show import UNKNOWN_DEFAULT

    stated = explicit_default(item)
    if stated is None:
        return compact_json(item.get("data"), 40)
    known, value = stated
    return compact_json(value, 40) if known else UNKNOWN_DEFAULT


def short_time(timestamp: Any) -> str:
    """An ISO-8601 timestamp as `YYYY-MM-DD HH:MM:SS` (as sent when it is not ISO-8601)."""
    text = str(timestamp or "")
    if len(text) >= 19 and text[10] in "T ":
        return f"{text[:10]} {text[11:19]}"
    return text


def jobs_table(jobs: Iterable[Mapping[str, Any]]) -> Table:
    """One row per job: id (never shortened: it is what the other commands take), function,
    status, creation time, error."""
    table = Table(show_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("function", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("created", overflow="fold")
    table.add_column("error", overflow="fold")
    for job in jobs:
        table.add_row(
            str(job.get("id", "")),
            function_name(job),
            status_text(job.get("status", "")),
            short_time(job.get("created_at")),
            str(job.get("error") or ""),
        )
    if not table.row_count:
        table.caption = "no jobs"
    return table


def job_view(job: Mapping[str, Any]) -> RenderableType:
    """A job's fields, then its inputs and outputs (each value as one line of JSON)."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    fields.add_row("id", str(job.get("id", "")))
    fields.add_row("function", function_name(job))
    fields.add_row("status", status_text(job.get("status", "")))
    for key in ("created_at", "started_at", "completed_at"):
        if job.get(key):
            fields.add_row(key.replace("_at", ""), short_time(job[key]))
    if job.get("error"):
        fields.add_row("error", Text(str(job["error"]), style="red"))
    parts: list[RenderableType] = [fields]

    inputs = job.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        table = Table(title="inputs", title_justify="left", show_edge=False)
        table.add_column("name", style="bold")
        table.add_column("value", overflow="fold")
        for name, item in inputs.items():
            value = item.get("data") if isinstance(item, Mapping) and "data" in item else item
            table.add_row(str(name), compact_json(value))
        parts.append(table)

    outputs = job.get("outputs")
    if isinstance(outputs, list) and outputs:
        table = Table(title="outputs", title_justify="left", show_edge=False)
        table.add_column("#")
        table.add_column("type")
        table.add_column("data", overflow="fold")
        for index, item in enumerate(outputs):
            if isinstance(item, Mapping):
                table.add_row(str(index), str(item.get("type", "")), compact_json(item.get("data")))
            else:
                table.add_row(str(index), "", compact_json(item))
        parts.append(table)
    return Group(*parts)
