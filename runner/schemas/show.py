"""A readable account of a function schema: `sievefile schemas show owner/name[:version]`."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from runner.schemas.derive import DEFAULT_UNKNOWN_KEY, UNKNOWN_TYPE_KEY
from runner.schemas.describe import describe_schema, format_json
from runner.schemas.model import FunctionSchema
from runner.schemas.typestrings import SIEVE_TYPE_KEY

UNKNOWN_DEFAULT = "(has one; value unknown)"


@dataclass(frozen=True)
class InputRow:
    """One input as the table shows it."""

    name: str
    type: str
    required: bool
    default: str
    description: str
    unknown_type: bool


def input_rows(schema: FunctionSchema) -> list[InputRow]:
    """The inputs of `schema` in signature order, ready to print."""
    rows = []
    required = set(schema.required)
    for name in schema.ordered_input_names():
        prop = schema.properties[name]
        type_text = str(prop.get(SIEVE_TYPE_KEY) or describe_schema(prop))
        description = str(prop.get("description", ""))
        if "enum" in prop:
            # Choices read better as a line of their own than inside a Literal[...] string.
            type_text = "choice"
            choices = "choices: " + " | ".join(format_json(value) for value in prop["enum"])
            description = f"{description}\n{choices}" if description else choices
        if "default" in prop:
            default = format_json(prop["default"])
        elif prop.get(DEFAULT_UNKNOWN_KEY):
            default = UNKNOWN_DEFAULT
        else:
            default = ""
        rows.append(
            InputRow(
                name=name,
                type=type_text,
                required=name in required,
                default=default,
                description=description,
                unknown_type=bool(prop.get(UNKNOWN_TYPE_KEY)),
            )
        )
    return rows


def schema_table(schema: FunctionSchema) -> Table:
    table = Table(title=f"{schema.slug}:{schema.version}", title_justify="left", expand=False)
    table.add_column("input", style="bold", no_wrap=True)
    table.add_column("type", max_width=24, overflow="fold")
    table.add_column("required", justify="center")
    table.add_column("default", max_width=24, overflow="fold")
    table.add_column("description", ratio=1, min_width=20)
    for row in input_rows(schema):
        type_cell = Text(row.type)
        if row.unknown_type:
            type_cell.append("\nunknown type: unchecked", style="yellow")
        table.add_row(
            row.name, type_cell, "yes" if row.required else "no", row.default, row.description
        )
    return table


def render_schema(schema: FunctionSchema, console: Console) -> None:
    """Print the function's description, its inputs table, outputs and derivation warnings."""
    parts: list[Text | Table] = []
    if schema.description:
        parts.append(Text(schema.description))
    parts.append(schema_table(schema))
    if schema.outputs:
        outputs = Text("outputs: ", style="bold")
        outputs.append(
            ", ".join(
                f"{out.name or '?'} ({out.type})"
                + (f": {out.description}" if out.description else "")
                for out in schema.outputs
            )
        )
        parts.append(outputs)
    for warning in schema.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    console.print(Group(*parts))
