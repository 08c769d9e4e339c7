"""What `sievefile plugins` prints: aligned plain-text tables, readable in a terminal or a pipe."""

from __future__ import annotations

from collections.abc import Sequence

from runner.plugins import KindInfo, PluginReport


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) or "-"


def _kinds_section(title: str, kinds: Sequence[KindInfo]) -> list[str]:
    if not kinds:
        return []
    rows = [(kind.name, kind.plugin, kind.description or "-") for kind in kinds]
    return ["", title, *_table(("name", "plugin", "description"), rows)]


def report_lines(report: PluginReport) -> list[str]:
    """The plugins (one row each), then the sink and notifier kinds, then the problems."""
    lines = ["plugins"]
    if report.plugins:
        rows = [
            (
                plugin.name,
                plugin.version or "-",
                plugin.source,
                _listed(plugin.hooks),
                _listed(plugin.sinks),
                _listed(plugin.notifiers),
                _listed(plugin.commands),
            )
            for plugin in report.plugins
        ]
        header = ("name", "version", "source", "hooks", "sinks", "notifiers", "commands")
        lines += _table(header, rows)
    else:
        lines.append("no plugins loaded")
    lines += _kinds_section("sink kinds", report.sinks)
    lines += _kinds_section("notifier kinds", report.notifiers)
    if report.problems:
        lines += ["", "problems", *(str(problem) for problem in report.problems)]
    return lines
