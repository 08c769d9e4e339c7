"""What delivering outputs costs: the same run with no sink, with a `local` sink, and again
with the outputs already delivered (a resume that finds nothing missing).

    python benchmarks/delivery.py [--jobs 300] [--size 1048576]

`--jobs` instances of a job that writes a file of `--size` bytes (plus a JSON output) run on
the embedded backend; with the sink each instance's two outputs are streamed into a folder
(temporary file, fsync, atomic rename) and recorded in the run ledger. Prints wall time per
case and milliseconds of delivery per output.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner import File, RegisterFunction, hookimpl
from runner.execute import ledger as states
from runner.execute.ledger import Ledger
from runner.execute.run import RunRequest, execute
from runner.plugins import build_plugin_manager


class BlobFunction:
    """A plugin with `bench/blob`: a file of `size` bytes and a JSON output."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def blob(self, index: int, size: int = 1024) -> Iterator[Any]:
        """A file of `size` bytes, then its description."""
        path = self.folder / f"blob-{index}.bin"
        path.write_bytes(bytes([index % 256]) * size)
        yield File(path=path)
        yield {"index": index, "size": size}

    @hookimpl
    def register_functions(self, register: RegisterFunction) -> None:
        register(self.blob, name="bench/blob")


MANIFEST = """
version = 1
[run]
max_parallel = 32
[jobs.blob]
function = "bench/blob"
max_instances = 100000
matrix = {{ index = {indexes} }}
inputs = {{ index = "${{{{ matrix.index }}}}", size = {size} }}
"""

SINK = """
[[sinks]]
use = "local"
path = "out/{run}/{key}"
"""


def run_once(folder: Path, manifest: str, plugins: Any, **options: Any) -> tuple[float, Any]:
    path = folder / "bench.toml"
    path.write_text(manifest)
    started = time.perf_counter()
    summary = asyncio.run(execute(RunRequest(path, plugins=plugins, **options)))
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        plugins = build_plugin_manager(("plugins.local_sink",), load_entry_points=False)
        plugins.register(BlobFunction(root))
        base = MANIFEST.format(indexes=list(range(args.jobs)), size=args.size)
        (root / "bare").mkdir()
        bare, _ = run_once(root / "bare", base, plugins, force=True)
        (root / "sink").mkdir()
        with_sink, summary = run_once(root / "sink", base + SINK, plugins, force=True)
        outputs = summary.deliveries.delivered
        resumed_from = summary.run_id
        # nothing missing: every output is recorded as delivered, so a resume delivers nothing
        ledger = Ledger.for_manifest(root / "sink" / "bench.toml")
        ledger.end_run(resumed_from, states.RUN_INTERRUPTED)
        ledger.close()
        again, resumed = run_once(root / "sink", base + SINK, plugins, resume=True)
    mib = args.jobs * args.size / 2**20
    print(f"{args.jobs} jobs, {outputs} outputs delivered ({mib:.0f} MiB of files)")
    print(f"  no sink:                 {bare:6.2f} s")
    print(f"  local sink:              {with_sink:6.2f} s")
    print(f"  delivery per output:     {(with_sink - bare) / max(outputs, 1) * 1000:6.2f} ms")
    print(f"  resume, all delivered:   {again:6.2f} s ({resumed.deliveries.delivered} delivered)")


if __name__ == "__main__":
    main()
