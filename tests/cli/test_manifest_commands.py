"""`sievefile validate | plan | graph | init` through the real click command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PODCAST = str(ROOT / "manifests" / "podcast.toml")
SECRET = "sk-do-not-print-me"

GOOD = """version = 1
[vars]
lang = "fr"
[jobs.fetch]
function = "sieve/youtube_to_mp4"
inputs.url = "https://youtu.be/xyz"
tags = ["io"]
[jobs.transcribe]
function = "sieve/speech_transcriber"
inputs.file = "${{ jobs.fetch.outputs[0] }}"
env = { KEY = "${{ env.SIEVEFILE_TEST_KEY }}" }
[jobs.translate]
function = "sieve/translate"
matrix = { target = ["${{ vars.lang }}", "de"] }
inputs.text = "${{ jobs.transcribe.outputs[0].text }}"
inputs.target = "${{ matrix.target }}"
"""
BAD = """version = 1
[jobs.a]
fucntion = "sieve/translate"
[jobs.b]
function = "sieve/translate"
needs = ["c"]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text(BAD)
    return {name: str(tmp_path / f"{name}.toml") for name in ("good", "bad")}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    environment: dict[str, str | None] = {"SIEVEFILE_TEST_KEY": SECRET, "OPENAI_API_KEY": SECRET}
    result = CliRunner().invoke(cli, list(args), env={**environment, **(env or {})})
    assert SECRET not in result.output
    return result.exit_code, result.output


def test_validate_ok_and_invalid_with_every_problem(files: dict[str, str]) -> None:
    code, output = invoke("validate", files["good"], PODCAST)
    assert code == 0
    # no lock file and no backend configured: the structure only, and a note saying so
    unchecked = " (structure only: inputs not checked)"
    note = (
        "note: inputs are checked against function schemas with a lock file (`sievefile lock`) "
        "or a backend (--api-key / $SIEVE_API_KEY, or --local)"
    )
    assert output.splitlines() == [
        f"ok: {files['good']}{unchecked}",
        f"ok: {PODCAST}{unchecked}",
        note,
    ]
    code, output = invoke("validate", files["good"], files["bad"])
    assert code == 1
    bad = files["bad"]
    assert output.splitlines() == [
        f"ok: {files['good']}{unchecked}",
        f"{bad}:2:7: job 'a': missing required key 'function' in this job",
        f"{bad}:3:1: job 'a', fucntion: unknown key 'fucntion' (did you mean 'function'?)",
        f"{bad}:6:10: job 'b', needs[0]: no job named 'c'",
        f"invalid: {bad} (3 problems)",
        note,
    ]


def test_validate_json(files: dict[str, str]) -> None:
    code, output = invoke("validate", "--json", files["bad"])
    assert code == 1
    [report] = json.loads(output)
    assert report["valid"] is False
    assert report["problems"][1] == {
        "message": "unknown key 'fucntion' (did you mean 'function'?)",
        "file": files["bad"],
        "line": 3,
        "column": 1,
        "job": "a",
        "key_path": "fucntion",
        "text": f"{files['bad']}:3:1: job 'a', fucntion: unknown key 'fucntion' (did you mean "
        "'function'?)",
    }


def test_validate_missing_env_and_the_flag_that_allows_it(files: dict[str, str]) -> None:
    code, output = invoke("validate", files["good"], env={"SIEVEFILE_TEST_KEY": None})
    assert code == 1
    assert "environment variable 'SIEVEFILE_TEST_KEY' is not set" in output
    code, _ = invoke(
        "validate",
        "--allow-missing-env",
        files["good"],
        env={"SIEVEFILE_TEST_KEY": None},
    )
    assert code == 0


def test_validate_with_vars_overrides(files: dict[str, str], tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.toml"
    vars_file.write_text('lang = "de"\n')
    # "de" twice in the matrix: the override is applied, and the loader sees the duplicate
    code, output = invoke("validate", "--vars-file", str(vars_file), files["good"])
    assert code == 1
    assert 'duplicate matrix value "de"' in output
    code, _ = invoke("validate", "--vars-file", str(vars_file), "--var", "lang=es", files["good"])
    assert code == 0


def test_bad_var_option_is_a_usage_error(files: dict[str, str]) -> None:
    code, output = invoke("validate", "--var", "no-equals-sign", files["good"])
    assert code == 2
    assert "error: --var 'no-equals-sign': expected NAME=VALUE" in output


def test_plan_text_shows_waves_inputs_and_placeholders(files: dict[str, str]) -> None:
    code, output = invoke("plan", files["good"])
    assert code == 0
    assert output.splitlines()[0] == f"good ({files['good']}): 3 jobs, 4 instances, 3 waves"
    assert "wave 1\n  fetch  sieve/youtube_to_mp4\n" in output
    assert '    inputs: {"file": "${{ jobs.fetch.outputs[0] }}"}' in output
    assert '    env: {"KEY": "${{ env.SIEVEFILE_TEST_KEY }}"}' in output
    assert "    - translate[target=fr]\n" in output
    assert '"target": "de"' in output


def test_plan_json_with_selection(files: dict[str, str]) -> None:
    code, output = invoke("plan", "--json", "-s", "transcribe+", files["good"])
    assert code == 0
    plan = json.loads(output)
    assert [[job["name"] for job in wave["jobs"]] for wave in plan["waves"]] == [
        ["transcribe"],
        ["translate"],
    ]
    transcribe = plan["waves"][0]["jobs"][0]
    assert transcribe["external_needs"] == ["fetch"]
    assert transcribe["instances"][0]["env"] == {"KEY": "${{ env.SIEVEFILE_TEST_KEY }}"}
    translate = plan["waves"][1]["jobs"][0]
    assert [instance["key"] for instance in translate["instances"]] == [
        "translate[target=fr]",
        "translate[target=de]",
    ]
    assert plan["instances"] == 3


def test_plan_unknown_selector_suggests(files: dict[str, str]) -> None:
    code, output = invoke("plan", "-s", "+transcrbe", files["good"])
    assert code == 2
    assert "selector '+transcrbe': no job named 'transcrbe' (did you mean 'transcribe'" in output


def test_plan_of_an_invalid_manifest_lists_problems(files: dict[str, str]) -> None:
    code, output = invoke("plan", files["bad"])
    assert code == 1
    assert output.startswith(f"error: {files['bad']}:2:7: job 'a'")
    assert "Traceback" not in output


def test_graph_mermaid_and_dot(files: dict[str, str]) -> None:
    code, output = invoke("graph", files["good"])
    assert code == 0
    assert output.splitlines() == [
        "flowchart TD",
        '    j0["fetch<br/><small>sieve/youtube_to_mp4</small>"]',
        '    j1["transcribe<br/><small>sieve/speech_transcriber</small>"]',
        '    j2[["translate ×2<br/><small>sieve/translate</small>"]]',
        "    j0 --> j1",
        "    j1 --> j2",
    ]
    code, output = invoke("graph", "--format", "dot", "-x", "fetch", files["good"])
    assert code == 0
    assert output.startswith('digraph "good" {')
    assert '"transcribe" -> "translate";' in output
    assert '"fetch"' not in output


def test_init_writes_a_manifest_that_validates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, output = invoke("init", str(tmp_path))
    target = tmp_path / "sievefile.toml"
    assert code == 0
    assert f"wrote {target}" in output
    text = target.read_text()
    assert text.startswith("# A sievefile manifest")
    assert 'name = "sievefile"' in text
    code, output = invoke("validate", str(target))
    assert (code, output.splitlines()[0]) == (
        0,
        f"ok: {target} (structure only: inputs not checked)",
    )
    code, output = invoke("plan", str(target))
    assert "translate[language=es]" in output
    code, output = invoke("init", str(target))
    assert code == 2
    assert "already exists; pass --force to overwrite it" in output
    code, _ = invoke("init", "--force", "--name", 'My "batch"', str(target))
    assert code == 0
    assert 'name = "My \\"batch\\""' in target.read_text()
    code, _ = invoke("validate", str(target))
    assert code == 0


def test_podcast_example_plan_masks_the_secret_env() -> None:
    code, output = invoke("plan", "--all", PODCAST)
    assert code == 0
    assert output.count('"OPENAI_API_KEY": "${{ env.OPENAI_API_KEY }}"') == 6


def test_validate_in_a_real_process_exits_with_the_documented_codes(files: dict[str, str]) -> None:
    examples = sorted(str(path) for path in (ROOT / "manifests").glob("*.toml"))
    command = [sys.executable, "-m", "runner", "validate", "--allow-missing-env", *examples]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("ok: ") == len(examples)
    completed = subprocess.run(
        [sys.executable, "-m", "runner", "validate", files["bad"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr


def test_every_sink_and_notifier_setup_problem_is_listed_at_its_setting(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        'version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs.value = 1\n'
        '[[sinks]]\nuse = "local"\npath = "out/{jbo}"\n'
        '[[sinks]]\nuse = "s3"\nbucket = "b"\nprefix = "{run}/../x"\n'
        '[[notify]]\nuse = "webhook"\nurl = "ftp://x"\n'
    )
    for command in ("validate", "run"):
        result = CliRunner().invoke(cli, [command, str(manifest), "--local"])
        assert result.exit_code == 1, result.output
        assert f"{manifest}:7:8: sinks[0].path: unknown placeholder {{jbo}}" in result.output
        assert f"{manifest}:11:10: sinks[1].prefix: " in result.output
        assert f"{manifest}:12:3: webhook: `url` must be an http:// or https:// URL" in (
            result.output
        )


def test_settings_given_in_halves_say_which_half_is_missing(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        'version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs.value = 1\n'
        '[[notify]]\nuse = "email"\nto = "ops@example.com"\nhost = "127.0.0.1"\n'
        'username = "me"\n'
    )
    result = CliRunner().invoke(cli, ["validate", str(manifest)])
    assert result.exit_code == 1
    assert (
        f"{manifest}:9:1: notify[0].username: 'username' needs 'password' too "
        "(give both, or neither)"
    ) in result.output
