"""Fuzzing the loader: whatever the text, it returns a Manifest or raises ManifestError.

Three sources of input: arbitrary TOML documents, manifest-shaped documents built from the real
vocabulary (keys, references, matrices) with random values, and the example manifests mutated
character by character. Loaded manifests are also planned and statically resolved, which must
not fail either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import ManifestError
from runner.manifest import build_plan, load_manifest_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [path.read_text() for path in sorted((ROOT / "manifests").glob("*.toml"))]
#: Where an example is loaded from: next to the data files its matrices read rows from.
AS_EXAMPLE = str(ROOT / "manifests" / "fuzz.toml")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(text: str, path: str = "fuzz.toml") -> str:
    """Load, plan and show `text` (as the manifest at `path`); 'ok' or 'error', never an
    exception of another kind."""
    environ = {"HOME": "/root", "OPENAI_API_KEY": "sk-x"}
    try:
        manifest = load_manifest_text(text, path, environ=environ)
    except ManifestError as error:
        caught = error
    else:
        caught = None
    if caught is not None:
        # every problem is located in the file it came from: the manifest or a data file by it
        locations = [problem.location for problem in caught.problems]
        assert locations
        folder = Path(path).parent
        assert all(
            location and (location.path == path or Path(location.path).parent == folder)
            for location in locations
        )
        return "error"
    try:
        plan = build_plan(manifest, environ={})
    except ManifestError:
        return "error"
    for instance in plan.expanded_instances():
        plan.resolve_static(instance)
    return "ok"


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
toml_values = json_values.filter(lambda value: value is not None).map(
    lambda value: _drop_none(value)
)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value if item is not None]
    return value


@FUZZ
@given(st.dictionaries(st.text(max_size=8), toml_values, max_size=6))
def test_arbitrary_toml_documents(document: dict[str, Any]) -> None:
    assert outcome(tomli_w.dumps(document)) in ("ok", "error")


names = st.sampled_from(["a", "b", "fetch", "dub", "x-1", "_y", "bad name", ""])
references = st.builds(
    lambda scope, name, tail: "${{ " + f"{scope}.{name}{tail}" + " }}",
    st.sampled_from(["vars", "env", "matrix", "jobs", "job", ""]),
    names,
    st.sampled_from(
        ["", ".outputs", ".outputs[0]", ".outputs[0].url", ".id", ".status", "[1]", "."]
    ),
)
strings = st.one_of(
    st.text(max_size=10),
    references,
    st.builds(lambda a, ref, b: a + ref + b, st.text(max_size=4), references, st.text(max_size=4)),
    st.just("$${{ x }}"),
    st.just("${{ unclosed"),
    st.sampled_from(["sieve/translate", "local/probe", "a/b:1", "nope", "30m", "1h30m", "x"]),
)
values = st.recursive(
    st.one_of(strings, st.integers(-3, 3), st.booleans(), st.floats(allow_nan=False)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(strings, children, max_size=3)
    ),
    max_leaves=8,
)
job_keys = st.sampled_from(
    [
        "function",
        "inputs",
        "needs",
        "matrix",
        "env",
        "webhooks",
        "retries",
        "timeout",
        "continue_on_error",
        "max_instances",
        "description",
        "tags",
        "fucntion",
    ]
)
jobs = st.dictionaries(job_keys, values, max_size=6).map(
    lambda job: {"function": "sieve/translate", **job}
)
manifests = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 2]), "jobs": st.dictionaries(names, jobs, max_size=4)},
    optional={
        "vars": st.dictionaries(names, values, max_size=3),
        "defaults": st.dictionaries(
            st.sampled_from(["retries", "timeout", "max_instances"]), values
        ),
        "run": st.dictionaries(st.sampled_from(["max_parallel", "fail_fast", "x"]), values),
        "name": strings,
    },
)


@FUZZ
@given(manifests)
def test_manifest_shaped_documents(document: dict[str, Any]) -> None:
    assert outcome(tomli_w.dumps(document)) in ("ok", "error")


@FUZZ
@given(
    example=st.sampled_from(EXAMPLES),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from(
                [
                    '"',
                    "'",
                    "[",
                    "]",
                    "{",
                    "}",
                    "=",
                    ".",
                    ",",
                    "\n",
                    "#",
                    "${{",
                    "}}",
                    "$",
                    "x",
                    "1",
                    " ",
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_examples(example: str, edits: list[tuple[float, str, str]]) -> None:
    text = example
    for where, kind, token in edits:
        at = int(where * len(text))
        if kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + token + text[at:]
        else:
            text = text[:at] + token + text[at + len(token) :]
    assert outcome(text, AS_EXAMPLE) in ("ok", "error")


def test_the_examples_themselves_load() -> None:
    assert [outcome(text, AS_EXAMPLE) for text in EXAMPLES] == ["ok"] * len(EXAMPLES)
