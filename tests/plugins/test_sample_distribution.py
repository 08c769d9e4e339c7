"""A third-party plugin as its own distribution, pip-installed into a fresh virtualenv.

`tests/plugins/sample_plugin/` is a tiny distribution (`sievefile-sample`) that declares three
entry points in the `sievefile` group: `sample` (a sink kind, a notifier kind, a command and
lifecycle hooks), `sample_broken` (cannot be imported) and `sample_invalid` (a misspelled hook).
The virtualenv gets this repository (the code under test, as a wheel) and the sample, without
network or build isolation; its Python sees the test environment's site-packages for the
dependencies (click, pluggy, ...). Everything then runs through the venv's own `sievefile`.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.plugins import DEFAULT_PLUGINS

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "sample_plugin"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    sievefile: Path

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if key != "PYTHONPATH" and not key.startswith("SIEVEFILE_")
        }
        environment.update(env or {})
        return subprocess.run(
            [str(self.sievefile), *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The test environment's site-packages, for sievefile's dependencies and the build
    # backend. A plain path line: the .pth files there (the editable install of some other
    # checkout) are not processed, so `runner` can only come from what is installed below.
    test_site = [path for path in site.getsitepackages() if Path(path).is_dir()]
    test_site.append(sysconfig.get_path("purelib"))
    (Path(purelib) / "zz_test_environment.pth").write_text("\n".join(dict.fromkeys(test_site)))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [*pip, *offline, str(REPO), str(SAMPLE)],
        check=True,
        capture_output=True,
        env=environment,
        cwd=root,
    )
    found = subprocess.run(
        [str(python), "-c", "import runner; print(runner.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=root,
    ).stdout.strip()
    # sievefile resolves to the wheel of the code under test, not another installed checkout
    assert Path(found).is_relative_to(root), found
    installed = Path(found).parent / "plugins.py"
    assert installed.read_text() == (REPO / "runner" / "plugins.py").read_text()
    return Venv(root, python, python.parent / "sievefile")


def test_plugins_lists_the_installed_distribution_and_its_problems(
    venv: Venv, tmp_path: Path
) -> None:
    completed = venv.run("plugins", "--json", cwd=tmp_path)
    report = json.loads(completed.stdout)
    plugins = {plugin["name"]: plugin for plugin in report["plugins"]}
    assert plugins["sample"] == {
        "name": "sample",
        "version": "0.3.1",
        "source": "sievefile-sample",
        "hooks": [
            "register_sinks",
            "register_notifiers",
            "register_commands",
            "run_started",
            "job_finished",
            "run_finished",
        ],
        "sinks": ["sample-jsonl"],
        "notifiers": ["sample-log"],
        "commands": ["sample-hello"],
    }
    assert plugins["plugins.media"]["source"] == "built-in"
    assert {"name": "sample-jsonl", "plugin": "sample"} | {
        "description": "Append one JSON line per delivered output to a file."
    } in report["sinks"]
    problems = {problem["plugin"]: problem["error"] for problem in report["problems"]}
    assert problems == {
        "sample_broken": "ModuleNotFoundError: No module named "
        "'sievefile_sample_missing_dependency'",
        "sample_invalid": "PluginValidationError: unknown hook 'run_finishd' "
        "(did you mean 'run_finished' or 'job_finished'?)",
    }
    # each problem is a one-line warning on stderr, once, and never a traceback
    warnings = completed.stderr.splitlines()
    assert warnings == [
        "warning: plugin 'sample_broken' could not be loaded: ModuleNotFoundError: No module "
        "named 'sievefile_sample_missing_dependency'",
        "warning: plugin 'sample_invalid' could not be loaded: PluginValidationError: unknown "
        "hook 'run_finishd' (did you mean 'run_finished' or 'job_finished'?)",
    ]

    table = venv.run("plugins", cwd=tmp_path).stdout
    row = next(line for line in table.splitlines() if line.startswith("sample "))
    assert row.split()[:3] == ["sample", "0.3.1", "sievefile-sample"]
    assert "plugin 'sample_broken' could not be loaded" in table


def test_a_plugin_command_is_listed_and_runs(venv: Venv, tmp_path: Path) -> None:
    help_text = venv.run("--help", cwd=tmp_path).stdout
    assert any(line.split()[:1] == ["sample-hello"] for line in help_text.splitlines())
    completed = venv.run("sample-hello", "--name", "tests", cwd=tmp_path)
    assert completed.stdout == "hello tests from sievefile-sample\n"
    # a built-in command does not look at plugins at all: no warnings
    assert venv.run("plugins", "--help", cwd=tmp_path).stderr == ""


def test_the_disable_list_hides_an_installed_plugin(venv: Venv, tmp_path: Path) -> None:
    disabled = {"SIEVEFILE_DISABLE_PLUGINS": "sample, sample_broken,sample_invalid"}
    completed = venv.run("plugins", "--json", cwd=tmp_path, env=disabled)
    report = json.loads(completed.stdout)
    assert [plugin["name"] for plugin in report["plugins"]] == list(DEFAULT_PLUGINS)
    assert report["problems"] == []
    assert completed.stderr == ""
    missing = venv.run("sample-hello", cwd=tmp_path, env=disabled, check=False)
    assert missing.returncode == 2
    assert "no command 'sample-hello'" in missing.stderr


def test_a_run_warns_once_about_plugins_that_could_not_load(venv: Venv, tmp_path: Path) -> None:
    manifest = tmp_path / "sievefile.toml"
    manifest.write_text(
        'version = 1\nname = "warned"\n\n[jobs.echo]\nfunction = "local/echo"\n'
        "inputs = { value = 1 }\n"
    )
    for command in (["validate"], ["run", "--progress", "none"]):
        completed = venv.run(*command, str(manifest), "--local", cwd=tmp_path)
        warnings = [line for line in completed.stderr.splitlines() if "warning:" in line]
        assert [line.split("'")[1] for line in warnings] == ["sample_broken", "sample_invalid"]
        assert "Traceback" not in completed.stderr


SAMPLE_MANIFEST = textwrap.dedent(
    """\
    version = 1
    name = "sample-run"

    [jobs.first]
    function = "local/echo"
    inputs = { value = 1, text = "one" }

    [jobs.second]
    function = "local/echo"
    inputs = { value = "${{ jobs.first.outputs[0] }}", text = "two" }

    [[sinks]]
    use = "sample-jsonl"
    path = "out/outputs.jsonl"

    [[notify]]
    use = "sample-log"
    path = "out/events.log"
    on = ["run.started", "job.finished", "run.finished"]
    """
)


def test_the_sample_plugin_joins_a_real_run(venv: Venv, tmp_path: Path) -> None:
    manifest = tmp_path / "sievefile.toml"
    manifest.write_text(SAMPLE_MANIFEST)
    log = tmp_path / "hooks.log"
    completed = venv.run(
        "run",
        str(manifest),
        "--local",
        "--progress",
        "none",
        cwd=tmp_path,
        env={"SIEVEFILE_SAMPLE_LOG": str(log)},
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert log.read_text().splitlines() == [
        "run_started sample-run",
        "job_finished first finished",
        "job_finished second finished",
        "run_finished",
    ]
    lines = [
        json.loads(line) for line in (tmp_path / "out" / "outputs.jsonl").read_text().splitlines()
    ]
    assert sorted((line["key"], line["output"]) for line in lines) == [
        ("first", "output_0"),
        ("second", "output_0"),
    ]
    first = next(line for line in lines if line["key"] == "first")
    assert first["data"]["text"] == "one"
    # notifiers run in worker threads: every event arrives, in no promised order
    events = (tmp_path / "out" / "events.log").read_text().splitlines()
    assert sorted(events) == [
        "job.finished sample-run first",
        "job.finished sample-run second",
        "run.finished sample-run",
        "run.started sample-run",
    ]


def test_the_sample_sink_settings_are_checked_against_its_schema(
    venv: Venv, tmp_path: Path
) -> None:
    manifest = tmp_path / "sievefile.toml"
    manifest.write_text(SAMPLE_MANIFEST.replace('path = "out/outputs.jsonl"', "pth = 1"))
    refused = venv.run("validate", str(manifest), "--local", cwd=tmp_path, check=False)
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "sievefile.toml" in output
    assert "sinks[0]: missing required key 'path'" in output
    assert "sinks[0].pth: unknown key 'pth' (did you mean 'path'?)" in output
    assert "Traceback" not in refused.stderr
