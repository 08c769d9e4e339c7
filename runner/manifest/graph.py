"""The job graph: cycles, execution waves, ancestors and descendants (with `graphlib`).

Graphs here are `{job: its dependencies}` at the job level. Matrix instances share their job's
place in the graph (an instance waits for every instance of each dependency), so a manifest
that expands to 100,000 instances still has a graph the size of its `[jobs]` table.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping

Graph = Mapping[str, Iterable[str]]


def find_cycle(graph: Graph) -> list[str] | None:
    """A dependency cycle as `[a, b, a]` (a is needed by b, b by a), or None.

    Dependencies that are not keys of `graph` are ignored (the loader reports them apart).
    The cycle starts at its job that comes first in `graph`, so messages are stable.
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, deps in graph.items():
        sorter.add(name, *(dep for dep in deps if dep in graph))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle: list[str] = list(error.args[1])[:-1]
        order = {name: index for index, name in enumerate(graph)}
        start = min(range(len(cycle)), key=lambda index: order.get(cycle[index], len(order)))
        rotated = cycle[start:] + cycle[:start]
        return [*rotated, rotated[0]]
    return None


def waves(graph: Graph) -> list[list[str]]:
    """Jobs grouped so each wave only needs earlier waves; file order within a wave.

    A job's wave is one more than its latest dependency's. The graph must be acyclic.
    """
    order = {name: index for index, name in enumerate(graph)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, deps in graph.items():
        sorter.add(name, *(dep for dep in deps if dep in graph))
    level: dict[str, int] = {}
    for name in sorter.static_order():
        deps = [dep for dep in graph.get(name, ()) if dep in graph]
        level[name] = 1 + max((level[dep] for dep in deps), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name in sorted(level, key=order.__getitem__):
        grouped[level[name]].append(name)
    return grouped


def ancestors(graph: Graph, names: Iterable[str]) -> set[str]:
    """Every job `names` depend on, directly or not (not including `names`)."""
    found: set[str] = set()
    stack = [dep for name in names for dep in graph.get(name, ())]
    while stack:
        name = stack.pop()
        if name not in found and name in graph:
            found.add(name)
            stack.extend(graph[name])
    return found


def descendants(graph: Graph, names: Iterable[str]) -> set[str]:
    """Every job that depends on `names`, directly or not (not including `names`)."""
    dependents: dict[str, list[str]] = {}
    for name, deps in graph.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(name)
    found: set[str] = set()
    stack = [child for name in names for child in dependents.get(name, ())]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(dependents.get(name, ()))
    return found
