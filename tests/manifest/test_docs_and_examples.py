"""Every ```toml example in docs/manifest.md and every manifest in manifests/ goes through the
loader; the shipped JSON Schema accepts every example manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from runner._toml import toml_loads
from runner.errors import ManifestError
from runner.manifest import (
    Defaults,
    RunSettings,
    build_plan,
    load_manifest,
    load_manifest_text,
    manifest_schema,
)
from runner.resources import resource_path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "manifest.md"
EXAMPLES = sorted((ROOT / "manifests").glob("*.toml"))
_BLOCK = re.compile(r"^```toml\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_EXPECT = re.compile(r"\A# expect-error: (.+)\n")


def _doc_examples() -> list[tuple[int, str]]:
    text = DOC.read_text(encoding="utf-8")
    return [
        (text[: match.start()].count("\n") + 1, match.group(1)) for match in _BLOCK.finditer(text)
    ]


def test_the_docs_have_examples_of_both_kinds() -> None:
    examples = _doc_examples()
    failing = [body for _, body in examples if _EXPECT.match(body)]
    assert len(examples) >= 20
    assert len(failing) >= 8


@pytest.mark.parametrize(("line", "body"), _doc_examples(), ids=lambda value: str(value)[:20])
def test_doc_example(line: int, body: str) -> None:
    where = f"docs/manifest.md:{line}"
    expected = _EXPECT.match(body)
    if expected is None:
        manifest = load_manifest_text(body, "docs/manifest.md", require_env=False)
        assert build_plan(manifest, environ={}).jobs, where
        return
    with pytest.raises(ManifestError) as caught:
        load_manifest_text(body, "docs/manifest.md", require_env=False)
    assert expected.group(1) in str(caught.value), where


def test_there_are_example_manifests() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_manifest_loads_and_plans(path: Path) -> None:
    manifest = load_manifest(path, require_env=False)
    plan = build_plan(manifest, environ={})
    assert plan.waves
    assert all(job.function.owner in ("sieve", "local") for job in manifest.jobs.values())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_manifest_validates_against_the_schema(path: Path) -> None:
    validator = jsonschema.Draft202012Validator(manifest_schema())
    assert list(validator.iter_errors(toml_loads(path.read_text()))) == []
    # the editor hint points at the schema sievefile ships
    first_line = path.read_text().splitlines()[0]
    assert first_line == "#:schema ../schemas/manifest.schema.json"
    assert (path.parent / "../schemas/manifest.schema.json").resolve() == resource_path(
        "manifest.schema.json"
    )


def test_the_schema_is_valid_2020_12_and_rejects_what_the_loader_rejects() -> None:
    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"version": 1, "jobs": {"a": {"function": "x", "fucntion": "y"}}}
    assert len(list(validator.iter_errors(bad))) == 2


def test_the_schema_ships_in_the_wheel() -> None:
    pyproject = toml_loads((ROOT / "pyproject.toml").read_text())
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["schemas/manifest.schema.json"] == "runner/_resources/manifest.schema.json"


def test_every_job_key_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    schema = manifest_schema()
    keys = [
        *schema["properties"],
        *schema["properties"]["defaults"]["properties"],
        *schema["properties"]["run"]["properties"],
        *schema["$defs"]["job"]["properties"],
    ]
    for key in keys:
        assert f"`{key}`" in doc, f"{key} is not documented in docs/manifest.md"


def test_the_readme_manifest_loads() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [match.group(1) for match in _BLOCK.finditer(readme)]
    assert blocks
    for body in blocks:
        manifest = load_manifest_text(body, "README.md")
        assert build_plan(manifest).waves


def test_schema_defaults_match_the_loader_defaults() -> None:
    schema = manifest_schema()
    definitions = schema["$defs"]
    run = schema["properties"]["run"]["properties"]
    assert definitions["retries"]["default"] == Defaults().retries
    assert definitions["continue_on_error"]["default"] == Defaults().continue_on_error
    assert definitions["max_instances"]["default"] == Defaults().max_instances
    assert run["max_parallel"]["default"] == RunSettings().max_parallel
    assert run["fail_fast"]["default"] == RunSettings().fail_fast


def test_the_loader_checks_with_the_shipped_schema_refs_and_all() -> None:
    """The loader's validator has the schema's `$defs` put in place (a `$ref` costs a lookup
    per job): it must find exactly what the shipped schema finds."""
    from runner.manifest.structure import _validator

    assert "$ref" not in json.dumps(_validator().schema)
    shipped = jsonschema.Draft202012Validator(manifest_schema())
    bad = {
        "version": 1,
        "defaults": {"retries": -1, "timeout": True},
        "run": {"max_parallel": 0},
        "jobs": {
            "a": {"function": "x", "fucntion": "y", "retries": "3", "timeout": []},
            "b c": {"function": "o/n"},
        },
        "sinks": [{"use": 3}, {"jobs": ["a"]}],
        "notify": [{"use": "slack", "on": "never"}],
    }
    found = sorted((list(e.absolute_path), e.message) for e in _validator().iter_errors(bad))
    expected = sorted((list(e.absolute_path), e.message) for e in shipped.iter_errors(bad))
    assert found == expected
    assert len(found) >= 8
