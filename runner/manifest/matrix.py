"""Matrix expansion: one job instance per combination of the axes' values.

Instances are named `job[key=label,...]` in axis order, the last axis varying fastest
(`itertools.product`), minus the combinations `exclude` matches. A label is the value itself
when it is short and plain (`lang=french`, `size=720`, `hd=true`), else its position in the
axis (`episode=0`), so names stay readable and stable. A job without a matrix has a single
instance named after the job.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.manifest.model import JobSpec

_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_.+-]{1,32}")


@dataclass(frozen=True, slots=True)
class JobInstance:
    """One job to push: a job, or one combination of its matrix.

    `key` is the instance's name (and its identity in results and the ledger); `matrix` holds
    this combination's values (empty without a matrix); `index` is its position in its job.
    """

    job: JobSpec
    key: str
    matrix: Mapping[str, Any]
    index: int = 0

    @property
    def name(self) -> str:
        return self.job.name


class MatrixTooLarge(ValueError):
    """A matrix with more combinations than its job's `max_instances`."""


def instance_count(axes: Mapping[str, Sequence[Any]]) -> int:
    """How many instances the axes expand to, without building them."""
    return math.prod(len(values) for values in axes.values())


def expand(job: JobSpec, axes: Mapping[str, Sequence[Any]] | None = None) -> list[JobInstance]:
    """The instances of `job`; `axes` gives the values of a matrix (default: its static axes).

    Raises MatrixTooLarge past `job.max_instances`.
    """
    if job.matrix is None:
        return [JobInstance(job, job.name, {}, 0)]
    if axes is None:
        axes = {key: values for key, values in job.matrix.axes.items() if isinstance(values, list)}
    count = instance_count(axes)
    if count > job.max_instances:
        shown = " x ".join(str(len(values)) for values in axes.values())
        raise MatrixTooLarge(
            f"the matrix expands to {count:,} instances ({shown}), more than max_instances = "
            f"{job.max_instances:,}; set max_instances on the job or in [defaults] to allow it"
        )
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
        label = _plain_label(value)
        if label is None:
            return [str(index) for index in range(len(values))]
        labels.append(label)
    if len(set(labels)) != len(labels):
        return [str(index) for index in range(len(values))]
    return labels


def _plain_label(value: Any) -> str | None:
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        return json.dumps(value)
    if isinstance(value, str) and _PLAIN_LABEL.fullmatch(value):
        return value
    return None
