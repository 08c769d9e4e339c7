"""Matrix expansion: one job instance per combination of the axes' values.

Instances are named `job[key=label,...]` in axis order, the last axis varying fastest
(`itertools.product`), minus the combinations `exclude` matches. A label is the value itself
when it is short and plain (`lang=french`, `size=720`, `hd=true`), else its position in the
axis (`episode=0`), so names stay readable and stable. A job without a matrix has a single
instance named after the job.

A matrix with rows (`matrix.rows`, `matrix.include`; see `runner.manifest.rows`) has one
instance per row and axis combination, rows outermost: `job[row=3,lang=fr]`, or
`job[id=a1,lang=fr]` with a key column. A row's label never depends on other rows, so names
stay the same when rows are added.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.manifest.model import JobSpec

if TYPE_CHECKING:
    from runner.manifest.rows import Row

_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_.+-]{1,32}")


@dataclass(frozen=True, slots=True)
class JobInstance:
    """One job to push: a job, or one combination of its matrix.

    `key` is the instance's name (and its identity in results and the ledger); `matrix` holds
    this combination's values (empty without a matrix); `index` is its position in its job;
    `row` is the matrix row it comes from (for messages located in the data file).
    """

    job: JobSpec
    key: str
    matrix: Mapping[str, Any]
    index: int = 0
    row: Row | None = None

    @property
    def name(self) -> str:
        return self.job.name


class MatrixTooLarge(ValueError):
    """A matrix with more combinations than its job's `max_instances`."""


def instance_count(axes: Mapping[str, Sequence[Any]], rows: int | None = None) -> int:
    """How many instances the axes (times `rows`, when the matrix has rows) expand to."""
    return math.prod(len(values) for values in axes.values()) * (1 if rows is None else rows)


def size_text(axes: Mapping[str, Sequence[Any]], rows: int | None = None) -> str:
    """`40 x 30`, or `800 rows x 2`: the factors of a matrix's size, for messages."""
    factors = [str(len(values)) for values in axes.values()]
    if rows is not None:
        factors.insert(0, f"{rows:,} rows")
    return " x ".join(factors)


def expand(job: JobSpec, axes: Mapping[str, Sequence[Any]] | None = None) -> list[JobInstance]:
    """The instances of `job`; `axes` gives the values of a matrix (default: its static axes).

    Raises MatrixTooLarge past `job.max_instances`.
    """
    if job.matrix is None:
        return [JobInstance(job, job.name, {}, 0)]
    if axes is None:
        axes = {key: values for key, values in job.matrix.axes.items() if isinstance(values, list)}
    table = job.matrix.rows
    rows = None if table is None else len(table.rows)
    count = instance_count(axes, rows)
    if count > job.max_instances:
        raise MatrixTooLarge(
            f"the matrix expands to {count:,} instances ({size_text(axes, rows)})"
            f", more than max_instances = {job.max_instances:,}; set max_instances on the job "
            "or in [defaults] to allow it"
        )
    if table is not None:
        from runner.manifest.rows import paused_gc

        with paused_gc():
            return _expand_rows(job, axes, table.rows)
    keys = list(axes)
    label_lists = [[f"{key}={label}" for label in axis_labels(axes[key])] for key in keys]
    excluded = _exclusion_test(keys, job.matrix.exclude)
    prefix = f"{job.name}["
    instances: list[JobInstance] = []
    combos = itertools.product(*(axes[key] for key in keys))
    names = itertools.product(*label_lists)
    for values, labels in zip(combos, names, strict=True):
        if excluded is not None and excluded(values):
            continue
        instances.append(
            JobInstance(
                job,
                prefix + ",".join(labels) + "]",
                dict(zip(keys, values, strict=True)),
                len(instances),
            )
        )
    return instances


def _expand_rows(
    job: JobSpec, axes: Mapping[str, Sequence[Any]], rows: Sequence[Row]
) -> list[JobInstance]:
    """Rows x axes: each row's values with each axis combination, rows outermost."""
    assert job.matrix is not None
    keys = list(axes)
    combos = [
        (dict(zip(keys, values, strict=True)), "".join("," + label for label in labels))
        for values, labels in zip(
            itertools.product(*(axes[key] for key in keys)),
            itertools.product(
                *([f"{key}={label}" for label in axis_labels(axes[key])] for key in keys)
            ),
            strict=True,
        )
    ]
    exclude = [
        [(key, _canonical(value)) for key, value in entry.items()] for entry in job.matrix.exclude
    ]
    instances: list[JobInstance] = []
    prefix = f"{job.name}["
    for row in rows:
        for combo, labels in combos:
            # without axes the row's own dict serves: 100,000 rows, no copies
            values = {**row.values, **combo} if combo else row.values
            if exclude and any(
                all(key in values and _canonical(values[key]) == wanted for key, wanted in entry)
                for entry in exclude
            ):
                continue
            key = f"{prefix}{row.label}{labels}]"
            instances.append(JobInstance(job, key, values, len(instances), row))
    return instances


def _exclusion_test(
    keys: list[str], exclude: Sequence[Mapping[str, Any]]
) -> Callable[[tuple[Any, ...]], bool] | None:
    """A test for "this combination matches an exclude entry", or None without entries."""
    if not exclude:
        return None
    position = {key: index for index, key in enumerate(keys)}
    patterns = [
        [(position[key], _canonical(value)) for key, value in entry.items()] for entry in exclude
    ]

    def excluded(values: tuple[Any, ...]) -> bool:
        return any(
            all(_canonical(values[index]) == wanted for index, wanted in pattern)
            for pattern in patterns
        )

    return excluded


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def axis_labels(values: Sequence[Any]) -> list[str]:
    """Labels for one axis: plain values as themselves, else positions; always unique."""
    labels = []
    for value in values:
        label = plain_label(value)
        if label is None:
            return [str(index) for index in range(len(values))]
        labels.append(label)
    if len(set(labels)) != len(labels):
        return [str(index) for index in range(len(values))]
    return labels


def plain_label(value: Any) -> str | None:
    """`value` as an instance label when it is short and plain, else None."""
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        return json.dumps(value)
    if isinstance(value, str) and _PLAIN_LABEL.fullmatch(value):
        return value
    return None
