"""The waiting benchmarks, side by side in one run: `python -m benchmarks [--quick]`.

    python -m benchmarks                    # every case, full size; writes docs/benchmarks.md
    python -m benchmarks --quick            # small sizes: a smoke test (CI), nothing written
    python -m benchmarks --case dags --case inflight --delay 0.04 --no-write

Starts what it needs on 127.0.0.1, in subprocesses: `benchmarks.delayserver` (the local
backend as `sievefile serve` runs it, `local/sleep` jobs, a worker per job, 40 ms a request, half
each way, and only the seed spec's five operations: no `/await`, no `/user/concurrency`), and
`sievefile serve` for the in-flight case. Cases:

- `dags`: 100 chains x 10 jobs of 0.6 s, a 1 -> 1,000 -> 1 fan-out/fan-in, 1,000 independent
  jobs. Each is run by `sievefile run` (polling; and `--listen`), and by the two hand-written
  baselines in `benchmarks/baselines/` (sequential push-then-poll; a thread per job polling
  its own job). Every contestant is a fresh process, timed from start to exit; the server
  counts its requests. Reported: wall time, wall / critical path, requests per job, and
  sievefile / baseline. On the chains (where the targets are read) each contestant but the
  sequential script runs `--repeat` times (default 3), in turns, and its median run counts.
  The embedded backend (4 workers, in process) runs 4 chains x 10.
- `inflight`: 10,000 jobs in flight from one `sievefile run -j 10000 --detach` (jobs that
  sleep an hour, 100 server workers): its peak RSS and CPU seconds per job, and its CPU and
  requests per second while it holds them all; then Ctrl-C leaves them (detached).

Without `--no-write` (and without `--quick`), the tables replace the "Fast waiting" section
of docs/benchmarks.md, with the command that produced them.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.dags import Dag, chains, fan, independent

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- benchmarks: fast waiting (python -m benchmarks) -->"
END = "<!-- /benchmarks: fast waiting -->"
KEY = "benchmark-key"


# -- servers ---------------------------------------------------------------------------------


def _read_first_line(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return line
    raise SystemExit(f"{' '.join(map(str, process.args))} did not start")  # type: ignore[arg-type]


@contextmanager
def serve(workers: int, folder: Path) -> Iterator[str]:
    """`sievefile serve` on 127.0.0.1 with `workers` workers; yields its URL."""
    command = [sys.executable, "-m", "runner", "serve", "--port", "0", "--workers", str(workers)]
    command += ["--db", ":memory:", "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "SIEVE_API_KEY": KEY},
        cwd=folder,
    )
    try:
        line = _read_first_line(process, "Serving the Sieve API on ")
        yield line.split()[5].removesuffix("/v2")
    finally:
        process.kill()
        process.wait(30)


@contextmanager
def delay_server(workers: int, delay: float, seed_only: bool) -> Iterator[str]:
    """`benchmarks.delayserver`: the local backend, `delay` seconds a request; yields its URL."""
    command = [sys.executable, "-m", "benchmarks.delayserver", "--workers", str(workers)]
    command += ["--delay", str(delay)] + (["--seed-only"] if seed_only else [])
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SIEVE_API_KEY": KEY},
    )
    try:
        yield _read_first_line(process, "Serving on ").split()[-1]
    finally:
        process.kill()
        process.wait(30)


def proxy_requests(url: str) -> int:
    return int(httpx.get(f"{url}/_bench/stats", timeout=30).json()["total"])


def proxy_reset(url: str) -> None:
    httpx.post(f"{url}/_bench/reset", timeout=30)


# -- the DAG case ----------------------------------------------------------------------------


@dataclass
class Result:
    dag: Dag
    runner: str
    wall: float
    requests: int | None
    ok: bool
    note: str = ""
    #: every run's wall time when the contestant ran more than once (`wall` is their median)
    walls: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.wall / self.dag.critical_path

    @property
    def per_job(self) -> float | None:
        return None if self.requests is None else self.requests / len(self.dag.jobs)


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def run_dag(
    dag: Dag, folder: Path, proxy_url: str, contestants: list[str], repeat: int = 1
) -> list[Result]:
    """Each contestant on `dag`; with `repeat`, every contestant but the sequential script
    (80 s a run) runs that many times, in turns, and its median run is reported."""
    runs: dict[str, list[Result]] = {}
    for turn in range(repeat):
        for runner in contestants:
            if turn == 0 or runner != "script: sequential":
                runs.setdefault(runner, []).append(run_one(dag, folder, proxy_url, runner, turn))
    return [_median_run(each) for each in runs.values()]


def _median_run(runs: list[Result]) -> Result:
    if len(runs) == 1:
        return runs[0]
    ordered = sorted(runs, key=lambda run: (not run.ok, run.wall))
    median = ordered[(len(ordered) - 1) // 2]
    return dataclasses.replace(median, walls=sorted(run.wall for run in runs))


def run_one(dag: Dag, folder: Path, proxy_url: str, runner: str, turn: int) -> Result:
    work = folder / f"{dag.name}-{runner.replace(' ', '_').replace('-', '')}-{turn}"
    work.mkdir()
    manifest, dag_file = dag.write(work)
    base = [sys.executable, "-m", "runner", "run", str(manifest), "--progress", "none"]
    remote = ["--api-url", proxy_url, "--api-key", KEY]
    command = {
        "sievefile": [*base, *remote, "--json"],
        "sievefile --listen": [*base, *remote, "--json", "--listen", "127.0.0.1:0"],
        "sievefile embedded": [*base, "--local", "--json"],
        "script: sequential": [sys.executable, "-m", "benchmarks.baselines.sequential"],
        "script: thread per job": [sys.executable, "-m", "benchmarks.baselines.threads"],
    }[runner]
    if runner.startswith("script"):
        command += ["--url", proxy_url, "--key", KEY, "--dag", str(dag_file)]
    if proxy_url:
        proxy_reset(proxy_url)
    wall, done = timed(command, ROOT)
    requests = proxy_requests(proxy_url) if proxy_url else None
    note = ""
    if runner == "sievefile embedded":
        summary = json.loads(done.stdout) if done.returncode == 0 else {}
        requests = summary.get("requests")
    ok = done.returncode == 0
    if not ok:
        note = (done.stderr or done.stdout).strip().splitlines()[-1:][0][:120]
    result = Result(dag, runner, wall, requests, ok, note)
    print(f"  {dag.name:22} {runner:24} {wall:7.2f} s  {result.ratio:5.2f} x  "
          f"req/job {result.per_job or 0:.2f}  {'ok' if ok else 'FAILED ' + note}",
          flush=True)  # fmt: skip
    return result


# -- the in-flight case ----------------------------------------------------------------------


@dataclass
class InFlight:
    jobs: int
    pushed: int = 0
    push_seconds: float = 0.0
    hold_seconds: float = 0.0
    hold_cpu: float = 0.0
    hold_requests: int = 0
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    wall: float = 0.0
    notes: list[str] = field(default_factory=list)


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_inflight(jobs: int, hold: float, folder: Path) -> InFlight:
    result = InFlight(jobs)
    manifest = folder / "inflight.toml"
    manifest.write_text(
        'version = 1\n[jobs.hold]\nfunction = "local/sleep"\n'
        f"matrix = {{ i = {list(range(jobs))} }}\nmax_instances = {jobs}\n"
        'inputs = { seconds = 3600, payload = "${{ matrix.i }}" }\n'
    )
    with serve(100, folder) as url:
        command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", url]
        command += ["--api-key", KEY, "-j", str(jobs), "--progress", "json", "--detach"]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=folder
        )
        assert process.stdout is not None
        all_pushed = threading.Event()

        def count() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if '"job.pushed"' in line:  # `--progress json`: one object per event
                    result.pushed += 1
                    if result.pushed == jobs:
                        all_pushed.set()

        reader = threading.Thread(target=count, daemon=True)
        reader.start()
        if not all_pushed.wait(600):
            result.notes.append(f"only {result.pushed} of {jobs} pushed after 600 s")
        result.push_seconds = time.perf_counter() - started
        stats = f"{url}/v2/_stats"
        before = httpx.get(stats, headers={"X-API-Key": KEY}, timeout=60).json()["requests"]
        cpu_before = _cpu_of(process.pid)
        time.sleep(hold)
        result.hold_cpu = _cpu_of(process.pid) - cpu_before
        after = httpx.get(stats, headers={"X-API-Key": KEY}, timeout=60).json()["requests"]
        result.hold_requests = sum(after.values()) - sum(before.values()) - 1
        result.hold_seconds = hold
        process.send_signal(signal.SIGINT)  # --detach: the jobs stay, the runner exits
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        result.wall = time.perf_counter() - started
        reader.join(10)
    result.peak_rss_mb = usage.ru_maxrss / 1024
    result.cpu_seconds = usage.ru_utime + usage.ru_stime
    print(f"  in flight {result.pushed:,}: push {result.push_seconds:.1f} s, peak RSS "
          f"{result.peak_rss_mb:.0f} MB, CPU {result.cpu_seconds:.1f} s "
          f"({result.cpu_seconds / jobs * 1000:.2f} ms/job); holding: "
          f"{result.hold_cpu / hold:.2f} CPU s/s, {result.hold_requests / hold:.1f} requests/s",
          flush=True)  # fmt: skip
    return result


# -- the report ------------------------------------------------------------------------------


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def dag_table(results: list[Result]) -> list[str]:
    lines = [
        "| DAG (critical path) | runner | wall time | wall / critical path | requests per job "
        "| sievefile / sequential | sievefile / thread per job |",
        "|---|---|---|---|---|---|---|",
    ]
    by_dag: dict[str, dict[str, Result]] = {}
    for result in results:
        by_dag.setdefault(result.dag.name, {})[result.runner] = result
    for name, runs in by_dag.items():
        for runner, result in runs.items():
            vs = []
            for baseline in ("script: sequential", "script: thread per job"):
                other = runs.get(baseline)
                if (
                    runner.startswith("sievefile")
                    and other is not None
                    and runner != ("sievefile embedded")
                ):
                    vs.append(f"{result.wall / other.wall:.2f}")
                else:
                    vs.append("")
            wall = f"{result.wall:.2f} s" + ("" if result.ok else " (failed)")
            if result.walls:
                low, high = result.walls[0], result.walls[-1]
                wall += f" (median of {len(result.walls)}: {low:.2f}-{high:.2f})"
            lines.append(
                f"| {name} ({result.dag.critical_path:g} s) | {runner} | {wall} | "
                f"{result.ratio:.2f} | {_fmt(result.per_job)} | {vs[0]} | {vs[1]} |"
            )
    return lines


def targets(results: list[Result], inflight: InFlight | None) -> list[str]:
    def find(runner: str) -> Result | None:
        for result in results:
            if result.dag.name.startswith("chains") and result.runner == runner:
                return result
        return None

    polling, listen, threads = (
        find("sievefile"),
        find("sievefile --listen"),
        find("script: thread per job"),
    )
    rows: list[tuple[str, str, float | None, float]] = [
        ("wall / critical path, polling, seed-spec endpoints only", "<= 1.2",
         polling.ratio if polling else None, 1.2),
        ("wall / critical path, `--listen`", "<= 1.05", listen.ratio if listen else None, 1.05),
        ("requests per job, polling", "<= 1.3", polling.per_job if polling else None, 1.3),
        ("requests per job, `--listen`", "<= 1.1", listen.per_job if listen else None, 1.1),
        ("sievefile / thread-per-job script, wall time", "<= 0.7",
         polling.wall / threads.wall if polling and threads else None, 0.7),
        ("10,000 jobs in flight: runner peak RSS (MB)", "< 300",
         inflight.peak_rss_mb if inflight else None, 300),
    ]  # fmt: skip
    lines = ["| measure (chains case) | target | measured | |", "|---|---|---|---|"]
    for label, target, value, limit in rows:
        met = "" if value is None else ("met" if value <= limit else "**missed**")
        lines.append(f"| {label} | {target} | {_fmt(value)} | {met} |")
    return lines


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    block = f"{START}\n{text.rstrip()}\n{END}"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        doc = head + block + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(doc)


def compile_bytecode() -> None:
    """Bytecode for the contestants' own modules, as `pip install` writes it: each contestant is
    a fresh process, and a source tree without it (or with PYTHONDONTWRITEBYTECODE set, as on
    CI) would compile sievefile anew at every start, about 0.1 s that no installed copy pays."""
    for package in ("runner", "plugins", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, nothing written")
    parser.add_argument("--case", action="append", choices=["dags", "inflight"])
    parser.add_argument("--delay", type=float, default=0.04, help="seconds per request")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--runner", action="append", help="only these runners (e.g. 'sievefile')")
    parser.add_argument(
        "--repeat", type=int, help="runs of each contestant on the chains (default 3; --quick 1)"
    )
    parser.add_argument(
        "--dag", action="append", choices=["chains", "fan", "independent"], help="only these DAGs"
    )
    args = parser.parse_args()
    cases = args.case or ["dags", "inflight"]
    quick = args.quick
    args.repeat = max(1, args.repeat or (1 if quick else 3))
    seconds = 0.2 if quick else 0.6
    dags = (
        [chains(10, 3, seconds), fan(50, seconds), independent(50, seconds)]
        if quick
        else [chains(100, 10, seconds), fan(1000, seconds), independent(1000, seconds)]
    )
    if args.dag:
        dags = [dag for dag in dags if dag.name.split("-")[0] in args.dag]
    embedded = chains(4, 3 if quick else 10, seconds)
    contestants = args.runner or [
        "sievefile", "sievefile --listen", "script: thread per job", "script: sequential",
    ]  # fmt: skip
    results: list[Result] = []
    inflight: InFlight | None = None
    started = time.time()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if "dags" in cases:
            workers = max(len(dag.jobs) for dag in dags)
            print(f"dags: the local backend ({workers} workers), {args.delay * 1000:g} ms a "
                  "request, seed-spec endpoints only", flush=True)  # fmt: skip
            with delay_server(workers, args.delay, True) as proxy_url:
                for dag in dags:
                    # the targets are read on the chains: their runs are repeated
                    repeat = args.repeat if dag.name.startswith("chains") else 1
                    results += run_dag(dag, folder, proxy_url, contestants, repeat)
            if not args.runner or "sievefile embedded" in args.runner:
                results += run_dag(embedded, folder, "", ["sievefile embedded"])
        if "inflight" in cases:
            jobs = 1000 if quick else 10_000
            print(f"inflight: {jobs:,} jobs held by one runner", flush=True)
            inflight_folder = folder / "inflight"
            inflight_folder.mkdir()
            inflight = run_inflight(jobs, 3.0 if quick else 10.0, inflight_folder)
    failed = [r for r in results if not r.ok]
    command = "python -m benchmarks" + "".join(f" {a}" for a in sys.argv[1:])
    text = report(command, results, inflight, started)
    print()
    print(text)
    if not quick and not args.no_write:
        write_doc(text)
        print(f"written to {DOC.relative_to(ROOT)}")
    if failed:
        raise SystemExit(f"{len(failed)} runs failed")


def report(command: str, results: list[Result], inflight: InFlight | None, started: float) -> str:
    when = datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
    load = os.getloadavg()
    lines = [
        f"Produced by `{command}` on {when:%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} at the end "
        "(the machine is shared).",
        "",
    ]
    if results:
        lines += [*dag_table(results), ""]
    if inflight is not None:
        lines += [
            "| jobs in flight | push time | peak RSS | CPU per job | while holding them all |",
            "|---|---|---|---|---|",
            f"| {inflight.pushed:,} of {inflight.jobs:,} | {inflight.push_seconds:.1f} s | "
            f"{inflight.peak_rss_mb:.0f} MB | {inflight.cpu_seconds / inflight.jobs * 1000:.2f} ms "
            f"({inflight.cpu_seconds:.1f} s in all) | "
            f"{inflight.hold_cpu / inflight.hold_seconds:.2f} CPU s/s, "
            f"{inflight.hold_requests / inflight.hold_seconds:.1f} requests/s |",
            "",
        ]
        lines += [f"Note: {note}" for note in inflight.notes]
    if results:
        lines += ["Targets (issue 12):", "", *targets(results, inflight)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
