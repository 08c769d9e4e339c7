"""Secret hygiene: a whole manifest run with every secret set to a marker string, then every byte
sievefile wrote searched for the markers: none may appear.

The API key (runner and `sievefile serve`), a job's `env`, a webhook notifier's signing secret
and header, a Slack webhook URL (its path is the secret) are markers; a notifier fails once (its
error and retry are reported), a job fails, outputs go to a `local` sink, the run is recorded,
locked and looked at (`runs`, `status`). Searched: stdout and stderr of every command, the
manifest's folder (`.sievefile/` ledger and WAL, run records, lock file, sink outputs), the
server's folder (its database, files and log), and what the notifiers POSTed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.outputs import files_under

API_KEY = "sk-MARKER-apikey-5d1c"
MARKERS = {
    "API_KEY": API_KEY,
    "JOB_TOKEN": "MARKER-job-env-77aa",
    "HOOK_SECRET": "MARKER-hook-signing-9b2e",
    "HOOK_TOKEN": "MARKER-hook-header-31f0",
    "SLACK_TOKEN": "MARKER-slack-path-c4d8",
}

MANIFEST = """\
version = 1
name = "hygiene"
[jobs.work]
function = "local/echo"
matrix = { i = [1, 2, 3] }
inputs = { value = "${{ matrix.i }}" }
env = { TOKEN = "${{ env.JOB_TOKEN }}" }
[jobs.broken]
function = "exec/fail"
inputs = { message = "this job always fails" }
env = { TOKEN = "${{ env.JOB_TOKEN }}" }
continue_on_error = true

[[sinks]]
use = "local"
path = "out/{run}/{job}"

[[notify]]
use = "webhook"
url = "RECEIVER/hook"
on = ["run.started", "run.finished", "job.finished", "job.error"]
secret = "${{ env.HOOK_SECRET }}"
headers = { Authorization = "Bearer ${{ env.HOOK_TOKEN }}" }

[[notify]]
use = "slack"
webhook_url = "RECEIVER/services/${{ env.SLACK_TOKEN }}"
"""


def _sievefile(*arguments: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_no_secret_reaches_any_byte_sievefile_writes(
    start_local_server: Any, webhook_receiver: Any, tmp_path: Path
) -> None:
    server = start_local_server(
        in_subprocess=True, api_key=API_KEY, plugins=["exec_functions"], workers=2
    )
    folder = tmp_path / "project"
    folder.mkdir()
    manifest = folder / "manifest.toml"
    manifest.write_text(MANIFEST.replace("RECEIVER", webhook_receiver.url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    env.update({name: value for name, value in MARKERS.items() if name != "API_KEY"})
    env.update(SIEVE_API_KEY=API_KEY, SIEVE_API_URL=server.url)
    env["SIEVEFILE_LOAD_PLUGINS"] = "plugins.local_sink,plugins.webhook,plugins.slack"
    webhook_receiver.fail_first(1)  # a notifier's failure and retry get reported too

    outputs: list[str] = []
    lock = _sievefile("lock", str(manifest), env=env, cwd=folder)
    outputs += [lock.stdout, lock.stderr]
    assert lock.returncode == 0, lock.stderr
    report = folder / "junit.xml"
    run = _sievefile(
        "--debug",
        "run",
        str(manifest),
        "--progress",
        "plain",
        "--verbose",  # every HTTP request, the key redacted
        "--report",
        str(report),
        "--json",
        env=env,
        cwd=folder,
    )
    outputs += [run.stdout, run.stderr]
    assert run.returncode == 0, run.stderr
    assert "GET /v2/jobs" in run.stderr  # --verbose did print the requests
    summary = json.loads(run.stdout)
    statuses = sorted(job["status"] for job in summary["jobs"])
    assert statuses == ["failed", "finished", "finished", "finished"]
    for command in (["runs", "--json"], ["status", summary["run_id"], "--json"]):
        looked = _sievefile(*command, "-C", str(folder), env=env, cwd=folder)
        assert looked.returncode == 0, looked.stderr
        outputs += [looked.stdout, looked.stderr]
    server.stop()  # its log and database are complete now

    posted = webhook_receiver.wait_for(lambda got: len(got) >= 4)
    written = [*files_under(folder), *files_under(Path(server_log_folder(server)))]
    assert any(path.name == "state.db" for path in written)  # the ledger was searched
    assert any(path.suffix == ".lock" for path in written)
    assert any("out" in path.parts for path in written)  # and the sink's outputs
    assert any(path.name == "server.log" for path in written)
    hits = []
    for name, marker in MARKERS.items():
        needle = marker.encode()
        hits += [f"{name} in output {i}" for i, text in enumerate(outputs) if marker in text]
        hits += [f"{name} in {path}" for path in written if needle in path.read_bytes()]
        hits += [f"{name} in a notification body" for hook in posted if needle in hook.raw]
    assert hits == []


def server_log_folder(server: Any) -> str:
    """The folder a subprocess server writes to (its database, files and log)."""
    assert server.process is not None
    return str(Path(server.process.args[server.process.args.index("--db") + 1]).parent)
