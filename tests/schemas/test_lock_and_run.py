"""`sievefile lock`, `schemas pull`, and `validate` / `run` with `--locked` / `--offline`,
through the real command line against local servers over real sockets (the public functions'
test plugin): lock, drift after re-registration, offline validation with the server gone,
nothing pushed for invalid inputs, run-time validation failing one job, the locked version
pushed, and an unknown function on the embedded backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner._toml import toml_loads
from runner.cli import cli
from tests.schemas.test_local_backend import NewTranslate

MANIFEST = """version = 1

[jobs.hello]
function = "sieve/translate"
inputs = { text = "two", target = "fr" }

[jobs.tokens]
function = "sieve/tiktoken"
inputs.text = "${{ jobs.hello.outputs[0] }}"
"""


def invoke(*args: str) -> Result:
    # No configured Sieve service: only the flags choose the backend.
    env = {"SIEVE_API_KEY": "", "SIEVE_API_URL": "", "HOME": "/nonexistent"}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (a git root, so the schema cache is its own `schemas/`)."""
    (tmp_path / ".git").mkdir()
    manifest = tmp_path / "m.toml"
    manifest.write_text(MANIFEST)
    return manifest


def _version(server, slug: str) -> str:
    owner, name = slug.split("/")
    return str(server.backend.registry.get(owner, name).version_id)


def test_lock_then_validate_offline_with_the_server_gone(project: Path, public_server) -> None:
    result = invoke("lock", str(project), "--api-url", public_server.url)
    assert result.exit_code == 0, result.output
    lock = toml_loads(Path(f"{project}.lock").read_text())
    versions = {key: entry["version"] for key, entry in lock["functions"].items()}
    assert versions == {
        "sieve/tiktoken": _version(public_server, "sieve/tiktoken"),
        "sieve/translate": _version(public_server, "sieve/translate"),
    }
    for slug, version in versions.items():
        assert (project.parent / "schemas" / "functions" / slug / f"{version}.json").is_file()
    public_server.stop()

    # Lock and cache present: checked offline, with or without --offline.
    for flags in ([], ["--offline"], ["--locked", "--offline"]):
        result = invoke("validate", str(project), *flags)
        assert (result.exit_code, result.output) == (0, f"ok: {project}\n"), flags
    project.write_text(MANIFEST.replace('target = "fr"', 'tagret = "fr"'))
    result = invoke("validate", str(project), "--offline")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{project}:5:26: job 'hello', inputs.tagret: unknown input of sieve/translate "
        "(did you mean 'target' or 'text'?)"
    )


def test_offline_without_a_cached_schema_is_an_error(project: Path) -> None:
    result = invoke("validate", str(project), "--offline")
    assert result.exit_code == 1
    assert f"{project}:4:12: function: no cached schema for sieve/translate" in result.output
    result = invoke("validate", str(project), "--locked", "--offline")
    assert result.exit_code == 1
    assert "no lock file; run `sievefile lock` on the manifest first" in result.output


def test_locked_refuses_drift_naming_the_function(
    project: Path, start_public_server, start_local_server
) -> None:
    before = start_public_server()
    assert invoke("lock", str(project), "--api-url", before.url).exit_code == 0
    old_version = _version(before, "sieve/translate")
    before.stop()
    after = start_local_server(builtins=(), plugins=[NewTranslate()], api_key=None)

    result = invoke("validate", str(project), "--locked", "--api-url", after.url)
    assert result.exit_code == 1
    [problem, summary] = result.output.splitlines()
    assert problem.startswith(
        f"{project}.lock:12:1: sieve/translate drifted: locked version {old_version}, "
        f"the service now serves {_version(after, 'sieve/translate')}"
    )
    assert summary == f"invalid: {project} (1 problem)"  # sieve/tiktoken did not drift

    result = invoke("run", str(project), "--locked", "--api-url", after.url)
    assert result.exit_code == 1
    assert "sieve/translate drifted" in result.output
    assert after.backend.stats.pushes == 0

    # Pinning the locked version in the manifest is accepted (its schema is cached).
    project.write_text(MANIFEST.replace('"sieve/translate"', f'"sieve/translate:{old_version}"'))
    assert invoke("lock", str(project), "--api-url", after.url).exit_code == 0
    result = invoke("validate", str(project), "--locked", "--api-url", after.url)
    assert (result.exit_code, result.output) == (0, f"ok: {project}\n")


def test_run_pushes_nothing_when_any_input_is_invalid(project: Path, public_server) -> None:
    project.write_text(
        MANIFEST
        + '\n[jobs.other]\nfunction = "sieve/translate"\n'
        + 'inputs = { text = "x", target = 3, formal = true }\n'
    )
    result = invoke("run", str(project), "--api-url", public_server.url)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        f"error: 2 invalid inputs in {project}; nothing was pushed:",
        f"  {project}:13:24: job 'other', inputs.target: expected a string, got 3",
        f"  {project}:13:36: job 'other', inputs.formal: unknown input of sieve/translate; "
        "expected one of: text, source, target, backend",
    ]
    assert public_server.backend.stats.pushes == 0


def test_run_time_validation_fails_only_that_job(project: Path, public_server) -> None:
    project.write_text(
        MANIFEST
        + '\n[jobs.transcribe]\nfunction = "sieve/speech_transcriber"\n'
        + 'inputs.file = { url = "https://example.com/a.m4a" }\n'
        + 'inputs.min_speakers = "${{ jobs.hello.outputs[0] }}"\n'
    )
    url = public_server.url
    result = invoke("run", str(project), "--api-url", url, "--keep-going", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.output[result.output.index("{") :])
    jobs = {job["key"]: job for job in summary["jobs"]}
    assert {key: job["status"] for key, job in jobs.items()} == {
        "hello": "finished",
        "tokens": "finished",
        "transcribe": "failed",
    }
    assert jobs["transcribe"]["error"] == (
        f"{project}:14:8: job 'transcribe', inputs.min_speakers: expected an integer, "
        'got "[auto->fr] two"'
    )
    assert jobs["transcribe"]["job_id"] is None
    assert public_server.backend.stats.pushes == 2
    assert not (project.parent / "schemas").exists(), "run writes no schema files"


def test_with_a_lock_the_locked_version_is_pushed(
    project: Path, start_public_server, start_local_server
) -> None:
    before = start_public_server()
    assert invoke("lock", str(project), "--api-url", before.url).exit_code == 0
    old_version = _version(before, "sieve/translate")
    result = invoke("run", str(project), "--api-url", before.url)
    assert result.exit_code == 0, result.output
    before.stop()

    # The service now serves another sieve/translate: the run asks for the locked one, which
    # the local backend (serving one version per function) refuses, rather than running v2.
    # (--force: the first run's results would otherwise be reused from the result cache.)
    after = start_local_server(builtins=(), plugins=[NewTranslate()], api_key=None)
    result = invoke(
        "run", str(project), "--api-url", after.url, "--json", "--progress", "none", "--force"
    )
    assert result.exit_code == 1
    summary = json.loads(result.output[result.output.index("{") :])
    [hello] = [job for job in summary["jobs"] if job["key"] == "hello"]
    assert f"Version '{old_version}' of sieve/translate not found" in hello["error"]
    assert after.backend.stats.pushes == 0


def test_a_function_the_embedded_backend_does_not_know(project: Path) -> None:
    result = invoke("run", str(project), "--local")
    assert result.exit_code == 1
    assert result.output.splitlines()[1] == (
        f"error: {project}:4:12: function: sieve/translate is not known to the embedded local "
        "backend; it serves only local functions and installed plugins; to run Sieve's "
        "functions, pass --api-key KEY or set SIEVE_API_KEY"
    )


def test_schemas_pull_caches_every_function_of_every_manifest(
    project: Path, public_server, tmp_path: Path
) -> None:
    other = project.parent / "other.toml"
    other.write_text('version = 1\n[jobs.a]\nfunction = "sieve/dubbing"\ninputs = {}\n')
    cache = tmp_path / "cache"
    result = invoke(
        "schemas", "pull", str(project), str(other), "--schemas-dir", str(cache),
        "--api-url", public_server.url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = sorted(
        f"{slug}:{_version(public_server, slug)}"
        for slug in ("sieve/dubbing", "sieve/tiktoken", "sieve/translate")
    )
    assert result.output.splitlines()[1:] == expected
    listed = invoke("schemas", "list", "--schemas-dir", str(cache))
    assert listed.output.splitlines() == expected


def test_run_time_check_masks_secrets(project: Path, public_server) -> None:
    secret = "sk-never-show-this"
    project.write_text(
        'version = 1\n[jobs.transcribe]\nfunction = "sieve/speech_transcriber"\n'
        'inputs = { file = { url = "https://example.com/a.m4a" }, '
        'min_speakers = "${{ env.SPEAKERS_TOKEN }}" }\n'
    )
    env = {"SIEVE_API_KEY": "", "SIEVE_API_URL": "", "SPEAKERS_TOKEN": secret}
    result = CliRunner().invoke(cli, ["run", str(project), "--api-url", public_server.url], env=env)
    assert result.exit_code == 1
    assert secret not in result.output
    assert (
        f"{project}:4:58: job 'transcribe', inputs.min_speakers: expected an integer, "
        'got "***"' in result.output
    )
    assert public_server.backend.stats.pushes == 0


def test_validate_names_matrix_instances_and_reports_json(project: Path, public_server) -> None:
    project.write_text(
        'version = 1\n[jobs.say]\nfunction = "sieve/translate"\n'
        'matrix = { target = ["fr", 7] }\n'
        'inputs = { text = "hi", target = "${{ matrix.target }}" }\n'
    )
    result = invoke("validate", str(project), "--api-url", public_server.url)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{project}:5:25: job 'say[target=7]', inputs.target: expected a string, got 7"
    )
    result = invoke("validate", str(project), "--api-url", public_server.url, "--json")
    [report] = json.loads(result.output)
    assert report["inputs_checked"] is True
    assert [(p["line"], p["job"], p["key_path"]) for p in report["problems"]] == [
        (5, "say[target=7]", "inputs.target")
    ]
    # No lock file and no backend configured: the structure only, said so.
    result = invoke("validate", str(project), "--json")
    [report] = json.loads(result.output)
    assert (report["valid"], report["inputs_checked"]) == (True, False)
    assert not (project.parent / "schemas").exists(), "validate writes no schema files"
    # A manifest whose structure is broken never gets as far as its inputs, and says so.
    project.write_text(project.read_text() + "[jobs.broken]\n")
    result = invoke("validate", str(project), "--api-url", public_server.url, "--json")
    [report] = json.loads(result.output)
    assert (report["valid"], report["inputs_checked"]) == (False, False)


def test_unknown_function_suggests_a_cached_one(project: Path, public_server) -> None:
    url = public_server.url
    assert invoke("lock", str(project), "--api-url", url).exit_code == 0
    project.write_text(MANIFEST.replace("sieve/tiktoken", "sieve/tiktokn"))
    result = invoke("lock", str(project), "--api-url", url)
    assert result.exit_code == 1
    assert result.output.splitlines()[1] == (
        f"error: {project}:8:12: function: sieve/tiktokn is not known to the Sieve API at "
        f"{url} (did you mean 'sieve/tiktoken'?)"
    )
    assert "sieve/tiktoken" in Path(f"{project}.lock").read_text()  # the old lock stands
