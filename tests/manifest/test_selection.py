"""Cycles, waves and dbt-style selection."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner.errors import ConfigError
from runner.manifest import Manifest, build_plan, select_jobs
from runner.manifest.graph import ancestors, descendants, find_cycle, waves

Load = Callable[..., Manifest]

DIAMOND = """
[jobs.fetch]
function = "a/fetch"
tags = ["io"]
[jobs.left]
function = "a/left"
needs = ["fetch"]
[jobs.right]
function = "a/right"
inputs.x = "${{ jobs.fetch.outputs }}"
[jobs.join]
function = "a/join"
needs = ["left", "right"]
tags = ["io", "final"]
[jobs.alone]
function = "a/alone"
"""


def test_find_cycle_starts_at_the_first_job_and_closes() -> None:
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": [], "b": ["a", "missing"]}) is None


def test_waves_and_relatives() -> None:
    graph = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": [], "e": []}
    assert waves(graph) == [["a", "e"], ["b", "c"], ["d"]]
    assert ancestors(graph, ["d"]) == {"a", "b", "c"}
    assert descendants(graph, ["b"]) == {"d"}


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [
        ((), (), ["fetch", "left", "right", "join", "alone"]),
        (("join",), (), ["join"]),
        (("+join",), (), ["fetch", "left", "right", "join"]),
        (("fetch+",), (), ["fetch", "left", "right", "join"]),
        (("left+",), (), ["left", "join"]),
        (("+left+",), (), ["fetch", "left", "join"]),
        (("tag:io",), (), ["fetch", "join"]),
        (("l* alone",), (), ["left", "alone"]),
        (("left,right",), (), ["left", "right"]),
        (("+join",), ("fetch",), ["left", "right", "join"]),
        ((), ("fetch+",), ["alone"]),
    ],
)
def test_selection(
    load: Load, select: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    assert select_jobs(load(DIAMOND), select=select, exclude=exclude) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("joni", "selector 'joni': no job named 'joni' (did you mean 'join'?)"),
        ("tag:fina", "selector 'tag:fina': no job has tag 'fina' (did you mean 'final'?)"),
        ("zz*", "selector 'zz*' matches no job"),
        ("a++", "bad selector 'a++'"),
    ],
)
def test_bad_selectors_are_usage_errors(load: Load, selector: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        select_jobs(load(DIAMOND), select=[selector])
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 2


def test_plan_of_a_selection_keeps_outside_needs_apart(load: Load) -> None:
    plan = build_plan(load(DIAMOND), select=["left+"])
    assert plan.waves == [["left"], ["join"]]
    assert plan.dependencies("join") == ("left",)
    assert plan.external_dependencies("join") == ("right",)
    assert plan.external_dependencies("left") == ("fetch",)
