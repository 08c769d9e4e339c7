"""Driving a `sievefile run` subprocess from a test."""

from __future__ import annotations

import signal
import subprocess


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
