"""Validate and plan a batch of 100,000 rows read from a data file (`matrix.rows`).

Target (issue 15): well under 2 s and under 300 MB peak RSS on a 2-core machine. Run by hand:

    python benchmarks/matrix_rows.py [--rows 100000] [--repeat 3] [--format csv|tsv|jsonl|json]

Without `--format`, each format is measured in a fresh process of its own (so each peak RSS is
that format's alone). The manifest has one `sieve/speech_transcriber` job over the file, with
`matrix.key`; each row has an id, a URL, a language and a speaker count left as CSV text (the
function's schema turns it into an integer). The steps are what `sievefile validate` and
`sievefile plan` do: load (TOML, schema, read and check every row), plan (expand 100,000
instances), and check every instance's inputs against the function's schema (the static check
`validate` and `run` make before the first push), using the schema derived from the fixture in
tests/fixtures/functions/.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runner.manifest import build_plan, load_manifest  # noqa: E402
from runner.manifest.model import FunctionRef  # noqa: E402
from runner.schemas import derive_schema  # noqa: E402
from runner.schemas.jobs import static_input_errors  # noqa: E402

FUNCTION = "sieve/speech_transcriber"
FIXTURE = ROOT / "tests" / "fixtures" / "functions" / "sieve__speech_transcriber.json"
FORMATS = ("csv", "tsv", "jsonl", "json")
LANGUAGES = ("en", "fr", "de", "es")

MANIFEST = f"""\
version = 1
name = "rows"
[jobs.transcribe]
function = "{FUNCTION}"
matrix.rows = "videos.{{suffix}}"
matrix.key = "id"
max_instances = {{rows}}
inputs.file = {{{{ url = "${{{{{{{{ matrix.url }}}}}}}}" }}}}
inputs.source_language = "${{{{{{{{ matrix.language }}}}}}}}"
inputs.min_speakers = "${{{{{{{{ matrix.speakers }}}}}}}}"
"""


def write_data(folder: Path, kind: str, rows: int) -> Path:
    path = folder / f"videos.{kind}"
    records = (
        {
            "id": f"v{number:06d}",
            "url": f"https://example.com/videos/{number}.mp4",
            "language": LANGUAGES[number % len(LANGUAGES)],
            "speakers": 1 + number % 3,
        }
        for number in range(rows)
    )
    with path.open("w", encoding="utf-8", newline="") as handle:
        if kind in ("csv", "tsv"):
            separator = "," if kind == "csv" else "\t"
            handle.write(separator.join(("id", "url", "language", "speakers")) + "\n")
            for record in records:
                handle.write(separator.join(str(value) for value in record.values()) + "\n")
        elif kind == "jsonl":
            for record in records:
                handle.write(json.dumps(record) + "\n")
        else:
            json.dump(list(records), handle, indent=1)
    (folder / "rows.toml").write_text(MANIFEST.format(suffix=kind, rows=rows))
    return folder / "rows.toml"


def run_once(path: Path) -> tuple[float, float, float, int]:
    schema = derive_schema(json.loads(FIXTURE.read_text()))
    started = time.perf_counter()
    manifest = load_manifest(path, environ={})
    loaded = time.perf_counter()
    plan = build_plan(manifest, environ={})
    planned = time.perf_counter()
    errors = static_input_errors(plan, {FunctionRef.parse(FUNCTION): schema})
    checked = time.perf_counter()
    if errors:
        raise SystemExit(f"unexpected problems: {errors[:3]}")
    return loaded - started, planned - loaded, checked - planned, plan.instance_count()


def measure(kind: str, rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_data(Path(folder), kind, rows)
        size = (Path(folder) / f"videos.{kind}").stat().st_size / 1e6
        totals = []
        for _ in range(repeat):
            load, plan, check, count = run_once(path)
            totals.append(load + plan + check)
            print(
                f"{kind}: {count:,} instances from {size:.1f} MB: load {load * 1000:.0f} ms, "
                f"plan {plan * 1000:.0f} ms, check inputs {check * 1000:.0f} ms, "
                f"total {totals[-1]:.2f} s"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{kind}: median total {statistics.median(totals):.2f} s; peak RSS {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", choices=FORMATS)
    options = parser.parse_args()
    if options.format:
        measure(options.format, options.rows, options.repeat)
        return
    for kind in FORMATS:
        command = [sys.executable, __file__, "--format", kind, "--rows", str(options.rows)]
        subprocess.run([*command, "--repeat", str(options.repeat)], check=True)


if __name__ == "__main__":
    main()
