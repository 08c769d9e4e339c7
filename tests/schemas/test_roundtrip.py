"""The schema derived from what the local backend serves accepts exactly what the local
function accepts: a property test over every registered function, and pushes over a socket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal, Optional, Union

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runner
from runner.local.registry import LocalFunction
from runner.schemas import FunctionSchema, check_inputs, derive_schema
from runner.schemas.typestrings import is_file_schema
from tests.schemas.conftest import client_fetcher


def containers(
    tags: list[str],
    counts: dict[str, int],
    maybe: Optional[int] = None,  # noqa: UP045 - the typing spelling is what is tested
    either: Union[int, str] = 0,  # noqa: UP007
    mode: Optional[Literal["fast", "slow"]] = None,  # noqa: UP045
    scale: float | None = 1.5,
    anything=None,
    flags: list = (),  # type: ignore[assignment]
) -> dict:
    """Exercise container, union and optional types.

    Args:
        tags: Labels.
        counts: How many of each.
        maybe: An optional number.
        either: A number or a name.
        mode: An optional choice.
        scale: A factor, or none.
        anything: Any value at all.
        flags: A list of anything.
    """
    return {"tags": tags}


class ContainersPlugin:
    @runner.hookimpl
    def register_functions(self, register) -> None:
        register(containers, name="test/containers")


@pytest.fixture
def served(start_public_server):
    """Every registered function with the schema derived from the metadata served over HTTP."""
    server = start_public_server(ContainersPlugin())
    registry = server.backend.registry
    fetch = client_fetcher(server.url)

    async def fetch_all() -> list[dict[str, Any]]:
        return await asyncio.gather(*(fetch(f.owner, f.name) for f in registry))

    metadata = asyncio.run(fetch_all())
    pairs = {
        function.full_name: (function, derive_schema(meta))
        for function, meta in zip(registry, metadata, strict=True)
    }
    return server, pairs


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=4),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def _values(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near the edge of what `prop` accepts, mixed with arbitrary JSON."""
    if is_file_schema(prop) or any(is_file_schema(branch) for branch in prop.get("anyOf", [])):
        source = st.one_of(st.text(min_size=1, max_size=4), st.just(""), st.integers(), st.none())
        near = st.one_of(
            st.fixed_dictionaries({"url": source}),
            st.fixed_dictionaries({"path": source}),
            st.fixed_dictionaries({"url": source, "path": source}),
            st.fixed_dictionaries({"ulr": source}),
            st.fixed_dictionaries({"url": source, "extra": JSON}),
        )
    elif "enum" in prop:
        near = st.one_of(
            st.sampled_from(prop["enum"]), st.sampled_from(["None", "wav", 1, 1.0, True])
        )
    else:
        types = prop.get("type", [])
        near = st.one_of(
            JSON_SCALARS,
            st.lists(st.one_of(st.text(max_size=3), st.integers(0, 3)), max_size=3),
            st.dictionaries(
                st.text(max_size=3), st.one_of(st.integers(0, 3), st.text(max_size=2)), max_size=3
            ),
            st.just(0.0) if "integer" in types else st.just(2),
        )
    return st.one_of(near, JSON)


def _inputs(schema: FunctionSchema) -> st.SearchStrategy[dict[str, Any]]:
    optional = {name: _values(prop) for name, prop in schema.properties.items()}
    optional["unexpected"] = JSON
    return st.fixed_dictionaries({}, optional=optional)  # type: ignore[arg-type]


def _inputs_rejected_locally(function: LocalFunction, inputs: dict[str, Any]) -> set[str]:
    return {error["loc"][2] for error in function.input_errors(inputs, ["body", "inputs"])}


@pytest.mark.slow
@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_schema_accepts_exactly_what_the_local_function_accepts(served, data) -> None:
    """Input by input: the names validation complains about are those the server rejects."""
    _, pairs = served
    name = data.draw(st.sampled_from(sorted(pairs)), label="function")
    function, schema = pairs[name]
    inputs = data.draw(_inputs(schema), label="inputs")
    problems = check_inputs(schema, inputs)
    rejected = {str(problem.path[0]) for problem in problems}
    assert rejected == _inputs_rejected_locally(function, inputs), (name, inputs, problems)


def test_every_registered_function_round_trips_without_warnings(served) -> None:
    _, pairs = served
    assert len(pairs) == 10
    for function, schema in pairs.values():
        assert schema.warnings == ()
        assert schema.version == function.version_id
        assert list(schema.required) == [p.name for p in function.parameters if not p.has_default]


def test_container_types_come_from_the_served_schema(served) -> None:
    _, pairs = served
    _, schema = pairs["test/containers"]
    assert schema.properties["tags"]["items"] == {"type": "string"}
    assert schema.properties["counts"]["additionalProperties"] == {"type": "integer"}
    assert schema.properties["mode"]["enum"] == ["fast", "slow", None]
    assert check_inputs(schema, {"tags": ["a", 1], "counts": {}})[0].input_path == "inputs.tags[1]"


def test_pushes_are_accepted_exactly_when_validation_passes(served, tmp_path: Path) -> None:
    server, pairs = served
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"not really a video")
    file = {"path": str(media)}
    cases = [
        ("sieve/dubbing", {"source_file": file, "target_language": "fr"}),
        ("sieve/dubbing", {"source_file": file, "tagret_language": "fr"}),
        ("sieve/demucs", {"file": file, "shifts": 1.5}),
        ("sieve/demucs", {"file": file, "two_stems": "vocals", "overlap": 1}),
        ("sieve/tiktoken", {"text": "a b", "encoding": "cl100k"}),
        ("sieve/youtube_to_mp4", {"url": "u", "include_audio": "yes"}),
        ("sieve/speech_transcriber", {"file": {"ulr": str(media)}}),
        ("test/containers", {"tags": ["a"], "counts": {"a": 1}, "either": "x", "scale": None}),
        ("test/containers", {"tags": [], "counts": {"a": True}}),
    ]
    for name, inputs in cases:
        response = httpx.post(f"{server.url}/v2/push", json={"function": name, "inputs": inputs})
        valid = check_inputs(pairs[name][1], inputs) == []
        assert response.status_code == (200 if valid else 422), (name, inputs, response.text)
