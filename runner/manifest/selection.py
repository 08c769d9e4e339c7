"""dbt-style job selection for `plan` and `run`: `--select` / `--exclude`.

A selector is a job name, a glob (`dub*`), or `tag:NAME`; `+job` adds its ancestors (what it
needs), `job+` its descendants (what needs it), `+job+` both. Several selectors (repeated flags,
or separated by spaces or commas) add up; `--exclude` removes its matches afterwards.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from runner.errors import ConfigError
from runner.manifest import graph as graphs
from runner.manifest.model import Manifest
from runner.suggest import did_you_mean

_SELECTOR = re.compile(r"^(?P<up>\+)?(?P<target>[^+]+)(?P<down>\+)?$")


def split_selectors(values: Iterable[str]) -> list[str]:
    """`["a b", "c,d"]` -> `["a", "b", "c", "d"]`."""
    return [part for value in values for part in re.split(r"[\s,]+", value) if part]


def select_jobs(
    manifest: Manifest, *, select: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[str]:
    """The job names chosen by `select` minus `exclude`, in file order (all jobs without
    `select`). Raises ConfigError for a selector that matches nothing."""
    graph = {name: job.dependencies for name, job in manifest.jobs.items()}
    chosen = set(graph) if not select else _matches(manifest, graph, split_selectors(select))
    chosen -= _matches(manifest, graph, split_selectors(exclude))
    return [name for name in graph if name in chosen]


def _matches(
    manifest: Manifest, graph: dict[str, tuple[str, ...]], selectors: list[str]
) -> set[str]:
    found: set[str] = set()
    for selector in selectors:
        match = _SELECTOR.match(selector)
        if not match:
            raise ConfigError(
                f"bad selector {selector!r}: expected JOB, +JOB, JOB+, +JOB+, a glob or tag:NAME"
            )
        names = _targets(manifest, match.group("target"), selector)
        found |= names
        if match.group("up"):
            found |= graphs.ancestors(graph, names)
        if match.group("down"):
            found |= graphs.descendants(graph, names)
    return found


def _targets(manifest: Manifest, target: str, selector: str) -> set[str]:
    if target.startswith("tag:"):
        tag = target[4:]
        names = {name for name, job in manifest.jobs.items() if tag in job.tags}
        if not names:
            tags = {tag for job in manifest.jobs.values() for tag in job.tags}
            raise ConfigError(
                f"selector {selector!r}: no job has tag {tag!r}{did_you_mean(tag, tags)}"
            )
        return names
    if any(char in target for char in "*?["):
        names = set(fnmatch.filter(manifest.jobs, target))
        if not names:
            raise ConfigError(f"selector {selector!r} matches no job")
        return names
    if target not in manifest.jobs:
        raise ConfigError(
            f"selector {selector!r}: no job named {target!r}{did_you_mean(target, manifest.jobs)}"
        )
    return {target}
