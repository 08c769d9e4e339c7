"""Driving a `sievefile run` subprocess from a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def interrupt_after_pushes(process: subprocess.Popen[str], count: int) -> tuple[list[str], str]:
    """Read the run's progress lines until `count` jobs were pushed, press Ctrl-C (SIGINT), and
    return the pushed job ids and everything the run printed afterwards (up to its exit)."""
    assert process.stdout is not None
    pushed: list[str] = []
    for line in process.stdout:
        if " pushed " in line:
            pushed.append(line.split("(job ")[1].split(")")[0])
        if len(pushed) == count:
            break
    process.send_signal(signal.SIGINT)
    return pushed, process.stdout.read()


def run_cli(
    manifest: Path,
    server: Any,
    *args: str,
    crash: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 90,
) -> subprocess.CompletedProcess[str]:
    """`sievefile run MANIFEST --api-url <server> --progress none --json ARGS` in a subprocess,
    with the server's key, none of the caller's SIEVE_*/SIEVEFILE_* settings, `env` added, and
    `SIEVEFILE_TEST_CRASH_AT=crash` (the ledger's kill seam) when given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    environ["SIEVE_API_KEY"] = server.api_key
    environ.update(env or {})
    if crash is not None:
        environ["SIEVEFILE_TEST_CRASH_AT"] = crash
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", server.url]
    return subprocess.run(
        [*command, "--progress", "none", "--json", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
    )
