"""Descriptions from a docstring: the summary, each parameter's text, the return value's text.

Two common styles are understood, and may be mixed:

- reStructuredText fields: `:param name: text`, `:returns: text` (also `:return:`, `:yields:`);
- Google sections: `Args:` (or `Arguments:`, `Parameters:`) with `name: text` or
  `name (type): text` lines, and `Returns:` / `Yields:`.

A description continues on following lines that are indented deeper than its first line.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_FIELD = re.compile(r"^:(param|parameter|arg|argument)\s+(?:[^:\s]+\s+)?(\w+)\s*:\s*(.*)$")
_RETURN_FIELD = re.compile(r"^:(returns?|yields?)\s*:\s*(.*)$")
_OTHER_FIELD = re.compile(r"^:\w+[^:]*:")
_ARGS_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$")
_RETURNS_SECTION = re.compile(r"^(Returns?|Yields?)\s*:\s*$")
_ANY_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_GOOGLE_ARG = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass
class Docstring:
    """What a function's docstring says about it."""

    summary: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str = ""


def parse_docstring(text: str | None) -> Docstring:
    """Split a docstring into its summary, parameter descriptions and return description."""
    lines = inspect.cleandoc(text or "").splitlines()
    result = Docstring()
    summary: list[str] = []
    section: str | None = None  # None (summary), "args", "returns", "other"
    target: tuple[str, str] | None = None  # ("param", name) or ("returns", "")
    base_indent = 0

    def append(extra: str) -> None:
        if target is None:
            return
        kind, name = target
        if kind == "param":
            result.params[name] = f"{result.params[name]} {extra}".strip()
        else:
            result.returns = f"{result.returns} {extra}".strip()

    for raw in lines:
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        field_match = _FIELD.match(stripped)
        return_match = _RETURN_FIELD.match(stripped)
        if field_match:
            section, base_indent = "fields", indent
            target = ("param", field_match.group(2))
            result.params[field_match.group(2)] = field_match.group(3).strip()
            continue
        if return_match:
            section, base_indent = "fields", indent
            target = ("returns", "")
            result.returns = return_match.group(2).strip()
            continue
        if _OTHER_FIELD.match(stripped):
            section, target = "fields", None
            continue
        if indent == 0 and _ARGS_SECTION.match(stripped):
            section, target = "args", None
            continue
        if indent == 0 and _RETURNS_SECTION.match(stripped):
            section, target = "returns", ("returns", "")
            base_indent = -1
            continue
        if indent == 0 and section is not None and _ANY_SECTION.match(stripped):
            section, target = "other", None
            continue
        if section is None:
            summary.append(stripped)
            continue
        if not stripped:
            continue
        if section == "args":
            arg_match = _GOOGLE_ARG.match(stripped)
            if arg_match and (target is None or indent <= base_indent):
                base_indent = indent
                target = ("param", arg_match.group(1))
                result.params[arg_match.group(1)] = arg_match.group(2).strip()
                continue
        if section == "returns" and base_indent < 0:
            base_indent = indent
            result.returns = stripped
            continue
        if indent > base_indent or section == "returns":
            append(stripped)
    result.summary = _paragraphs(summary)
    return result


def _paragraphs(lines: list[str]) -> str:
    """Join wrapped lines into paragraphs separated by one blank line."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n\n".join(paragraphs)
