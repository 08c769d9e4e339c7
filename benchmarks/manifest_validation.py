"""What `validate` / `run` add before the first push, for a manifest with many job instances.

Run by hand: `python benchmarks/manifest_validation.py [--instances N] [--repeat R]`. Writes a
manifest whose one job is a matrix of N `sieve/translate` instances plus one job per other
public function, caches the public-function schemas (tests/fixtures/functions/) and locks them,
then times, offline (lock and cache, no backend): loading and planning the manifest, resolving
its schemas from the lock and the cache, and checking every instance's static inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from runner.manifest import build_plan, load_manifest
from runner.schemas import SchemaCache, derive_schema, write_lock
from runner.schemas.jobs import function_locations, manifest_schemas, static_input_errors

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "functions"


def write_project(folder: Path, instances: int) -> Path:
    (folder / ".git").mkdir()
    side = int(instances**0.5) or 1
    rows = [json.dumps(f"text {i}") for i in range(side)]
    targets = [json.dumps(f"l{i}") for i in range(max(1, instances // side))]
    manifest = folder / "big.toml"
    manifest.write_text(
        "version = 1\n"
        "[defaults]\nmax_instances = 1000000\n"
        '[jobs.say]\nfunction = "sieve/translate"\n'
        f"matrix = {{ text = [{', '.join(rows)}], target = [{', '.join(targets)}] }}\n"
        'inputs = { text = "${{ matrix.text }}", target = "${{ matrix.target }}" }\n'
        '[jobs.fetch]\nfunction = "sieve/youtube_to_mp4"\n'
        'inputs = { url = "https://youtu.be/x", resolution = "720p" }\n'
        '[jobs.tokens]\nfunction = "sieve/tiktoken"\n'
        'inputs = { text = "${{ jobs.say.outputs }}" }\n'
    )
    cache = SchemaCache(folder / "schemas")
    loaded = load_manifest(manifest)
    schemas = {}
    for ref in function_locations(loaded):
        metadata = json.loads((FIXTURES / f"{ref.owner}__{ref.name}.json").read_text())
        schemas[ref] = derive_schema(metadata)
        cache.write(schemas[ref])
    write_lock(Path(f"{manifest}.lock"), schemas)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        manifest_path = write_project(Path(folder), args.instances)
        phases: dict[str, list[float]] = {"load + plan": [], "schemas": [], "check": []}
        count = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            manifest = load_manifest(manifest_path)
            plan = build_plan(manifest)
            loaded = time.perf_counter()
            schemas = asyncio.run(manifest_schemas(manifest, None, offline=True, locked=True))
            resolved = time.perf_counter()
            errors = static_input_errors(plan, schemas)
            checked = time.perf_counter()
            assert errors == [], errors[:3]
            count = plan.instance_count()
            phases["load + plan"].append(loaded - started)
            phases["schemas"].append(resolved - loaded)
            phases["check"].append(checked - resolved)
        print(f"{count} job instances, lock and cache present, offline:")
        for phase, timings in phases.items():
            print(
                f"  {phase:12} median {statistics.median(timings) * 1000:7.1f} ms, "
                f"best {min(timings) * 1000:7.1f} ms over {args.repeat} runs"
            )


if __name__ == "__main__":
    main()
