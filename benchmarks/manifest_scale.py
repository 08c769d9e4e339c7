"""Load, expand and plan a manifest that expands to 100,000 job instances.

Target (issue 4): under 2 s and under 300 MB peak RSS on a 2-core machine. Run by hand:

    python benchmarks/manifest_scale.py [--jobs 100] [--per-job 1000] [--repeat 3]

The generated manifest has `--jobs` jobs in layers of ten (each job needs the job ten before
it and references its outputs), each with a two-axis matrix of `--per-job` instances whose
inputs mix matrix values, vars and an upstream reference. "Plan" means: expand every matrix,
group jobs in waves and resolve every instance's static inputs (what `sievefile plan` shows).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.manifest import build_plan, load_manifest
from runner.manifest.render import plan_to_dict


def make_manifest(jobs: int, per_job: int) -> str:
    rows = 40 if per_job % 40 == 0 else 1
    cols = per_job // rows
    lines = [
        "version = 1",
        'name = "scale"',
        "[vars]",
        f"rows = {list(range(rows))}",
        'language = "fr"',
        "[defaults]",
        f"max_instances = {per_job}",
        'timeout = "30m"',
    ]
    for number in range(jobs):
        lines += [
            f"[jobs.job{number}]",
            'function = "sieve/speech_transcriber"',
            'matrix = { row = "${{ vars.rows }}", col = ' + str(list(range(cols))) + " }",
            'inputs.file = { url = "https://example.com/${{ matrix.row }}/${{ matrix.col }}.mp3" }',
            'inputs.source_language = "${{ vars.language }}"',
            "inputs.min_speakers = 1",
        ]
        if number >= 10:
            lines.append(f'inputs.previous = "${{{{ jobs.job{number - 10}.outputs[0] }}}}"')
    return "\n".join(lines) + "\n"


def run_once(path: Path) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    manifest = load_manifest(path, environ={})
    loaded = time.perf_counter()
    plan = build_plan(manifest, environ={})
    planned = time.perf_counter()
    count = 0
    for instance in plan.expanded_instances():
        plan.resolve_static(instance)
        count += 1
    resolved = time.perf_counter()
    return loaded - started, planned - loaded, resolved - planned, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--per-job", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--json", action="store_true", help="also time what `sievefile plan --json` builds"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scale.toml"
        path.write_text(make_manifest(options.jobs, options.per_job))
        totals = []
        for attempt in range(options.repeat):
            load, expand, resolve, count = run_once(path)
            total = load + expand + resolve
            totals.append(total)
            print(
                f"run {attempt + 1}: {count:,} instances: load {load * 1000:.0f} ms, "
                f"expand+waves {expand * 1000:.0f} ms, resolve static inputs "
                f"{resolve * 1000:.0f} ms, total {total:.2f} s"
            )
        if options.json:
            started = time.perf_counter()
            text = json.dumps(plan_to_dict(build_plan(load_manifest(path, environ={}))))
            elapsed = time.perf_counter() - started
            print(f"plan --json equivalent: {len(text) / 1e6:.0f} MB of JSON in {elapsed:.2f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median total {statistics.median(totals):.2f} s; peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
