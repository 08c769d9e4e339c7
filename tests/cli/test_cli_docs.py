"""docs/cli.md stays what `--help` says, shell completion works as documented, and the README's
set-up commands install into a virtual environment of their own (PEP 668)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from runner import docs

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_generated_from_the_current_help() -> None:
    text = docs.CLI_DOC.read_text(encoding="utf-8")
    assert docs.updated(text) == text, "docs/cli.md is stale: run `python -m runner.docs`"


def test_the_reference_has_every_command_and_the_check_flags_staleness(tmp_path: Path) -> None:
    reference = docs.reference()
    for command in ("run", "status", "plan", "jobs list", "schemas pull", "plugins"):
        assert f"### `sievefile {command}`" in reference
    assert "--report FILE" in reference  # options as --help prints them
    old = f"# Command line\n\nguide\n\n{docs.BEGIN}\nstale-text-xyz\n{docs.END}\n"
    stale = docs.updated(old)
    assert stale.startswith("# Command line\n\nguide\n\n" + docs.BEGIN)
    assert "stale-text-xyz" not in stale
    assert stale.endswith(docs.END + "\n")


def test_shell_completion_completes_commands_and_options() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = subprocess.run(
        [sys.executable, "-m", "runner"],
        env={**env, "_SIEVEFILE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "complete" in script.stdout  # a bash completion script
    completed = subprocess.run(
        [sys.executable, "-m", "runner"],
        env={**env, "_SIEVEFILE_COMPLETE": "bash_complete", "COMP_WORDS": "sievefile ru",
             "COMP_CWORD": "1"},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert set(completed.stdout.split()) >= {"plain,run", "plain,runs"}
    options = subprocess.run(
        [sys.executable, "-m", "runner"],
        env={**env, "_SIEVEFILE_COMPLETE": "bash_complete",
             "COMP_WORDS": "sievefile run m.toml --progress ", "COMP_CWORD": "4"},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert "plain,json" in options.stdout.split()
    assert "_SIEVEFILE_COMPLETE=bash_source sievefile" in docs.CLI_DOC.read_text()


def test_readme_set_up_commands_bring_their_own_virtual_environment() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```sh\n(.*?)^```$", readme, re.S | re.M)
    assert block is not None
    commands = block.group(1).splitlines()
    assert len(commands) == 2  # .ci/run takes line 1 as the main job, line 2 as the tests
    for command in commands:
        steps = [step.strip() for step in command.split("&&")]
        # where the system Python is "externally managed" (PEP 668) nothing may install into
        # it: each line makes .venv and then uses only what is inside it
        assert steps[0] == "python3 -m venv .venv"
        assert all(step.startswith(".venv/bin/") for step in steps[1:])
    assert commands[0].endswith("sievefile run manifests/quickstart.toml")
    assert commands[1].endswith(".venv/bin/python -m pytest")
    assert ".venv/" in (REPO / ".gitignore").read_text().splitlines()
