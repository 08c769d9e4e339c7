"""The live view, as a person sees it: `sievefile run` in a pseudo-terminal, read while the run
goes on. The bar, the counts and a failure show before the run ends; Ctrl-C leaves a readable
screen (the cursor shown again, the summary printed); NO_COLOR drops the colours."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from runner.cli import cli
from tests.support.views import SECRET, run_env

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07)")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25])")

SLOW = """\
version = 1
name = "slow"

[jobs.quick]
function = "local/echo"
inputs = { value = "quick" }

[jobs.bad]
function = "exec/fail"
inputs = { message = "boom ${{ env.SIEVEFILE_UI_TEST_SECRET }}" }

[jobs.slow]
function = "exec/nap"
matrix = { i = [1, 2, 3] }
inputs = { seconds = 120, value = "${{ matrix.i }}" }
"""


class Terminal:
    """A `sievefile` process on a pseudo-terminal of 120 x 40, and what it has written."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEVE")}
        environment.update(env, TERM="xterm-256color", COLUMNS="120", LINES="40")
        environment["PYTHONPATH"] = str(REPO)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def text(self) -> str:
        """Everything written so far, without escape sequences."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read_until(self, done: Callable[[str], bool], limit: float = 60.0) -> str:
        """Read until `done(text)` (or the process ends); a guard of `limit` seconds fails the
        test instead of hanging it."""
        deadline = time.monotonic() + limit
        while not done(self.text):
            assert time.monotonic() < deadline, f"not seen in {limit}s:\n{self.text[-3000:]}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                self.raw += chunk
        return self.text

    def finish(self, limit: float = 60.0) -> int:
        self.read_until(lambda _: self.process.poll() is not None, limit)
        code = self.process.wait(limit)
        self.read_until(lambda _: False, 5)  # drain what is left
        os.close(self.master)
        return code


def _start(tmp_path: Path, server: Any, *extra: str, **env: str) -> Terminal:
    manifest = tmp_path / "slow.toml"
    manifest.write_text(SLOW)
    args = ["run", str(manifest), "--keep-going", *extra]
    return Terminal(args, run_env(server, **env), tmp_path)


def test_live_view_shows_progress_and_failures_while_the_run_goes_on(
    exec_server: Any, tmp_path: Path
) -> None:
    terminal = _start(tmp_path, exec_server)
    try:
        seen = terminal.read_until(
            lambda text: "FAILED bad" in text and "running 3" in text and "2/5 done" in text
        )
        assert terminal.process.poll() is None  # all of it while the run goes on
        assert "━" in seen  # the bar
        assert "RuntimeError: boom ***" in seen  # the failure, with its error, masked
        assert "in flight (3, longest first)" in seen
        assert "slow[i=1]" in seen
        assert "exec/nap" in seen  # per-function progress: the manifest uses several
        assert "elapsed" in seen
        assert COLOUR.search(terminal.raw.decode("utf-8", "replace"))  # a terminal gets colours
        # meanwhile, from another terminal: `status` shows the same view of the running run
        runs = CliRunner().invoke(cli, ["runs", "-C", str(tmp_path)]).output
        status = CliRunner().invoke(cli, ["status", runs.split()[0], "-C", str(tmp_path)])
        assert status.output.splitlines()[0].endswith(
            ": running (1 failed, 1 finished, 3 processing)"
        )
        assert "2/5 done (40%)" in status.output
        assert "in flight (3, longest first)" in status.output
        assert "  FAILED bad  RuntimeError: boom ***" in status.output
        # `status --watch` redraws the running run in a terminal of its own
        watch = Terminal(["status", runs.split()[0], "--watch"], {}, tmp_path)
        watch.read_until(lambda text: "in flight (3, longest first)" in text)
        assert watch.process.poll() is None
        terminal.process.send_signal(signal.SIGINT)
        code = terminal.finish()
        assert watch.finish() == 0  # it stops by itself once the run has ended
    finally:
        for process in (terminal.process, locals().get("watch", terminal).process):
            if process.poll() is None:
                process.kill()
    assert code == 130
    assert ": interrupted (" in watch.text  # the header printed once the run ended
    assert "cancelled 3" in watch.text
    raw = terminal.raw.decode("utf-8", "replace")
    # the live view hid the cursor; the screen is handed back with it shown
    assert raw.rfind("\x1b[?25l") < raw.rfind("\x1b[?25h")
    lines = terminal.text.splitlines()
    assert any("interrupted: cancelling jobs in flight" in line for line in lines)
    assert lines[-1].startswith("run interrupted: 1 finished, 1 failed, 3 cancelled in ")
    assert any(line.startswith("next: `sievefile run ") and "--resume" in line for line in lines)
    assert SECRET not in raw
    assert exec_server.api_key not in raw


def test_no_color_keeps_the_view_without_colours(exec_server: Any, tmp_path: Path) -> None:
    terminal = _start(tmp_path, exec_server, NO_COLOR="1")
    try:
        terminal.read_until(lambda text: "FAILED bad" in text and "2/5 done" in text)
        terminal.process.send_signal(signal.SIGINT)
        assert terminal.finish() == 130
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
    raw = terminal.raw.decode("utf-8", "replace")
    assert "━" in raw  # the view was drawn
    assert not COLOUR.search(raw)
