"""How long `sievefile --help` takes in a fresh process (median of N runs).

    python benchmarks/startup.py [--runs 20]

Prints the median and minimum wall time, and the baseline of a bare `python -c pass` for
comparison, so the figure says what sievefile itself adds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_command(argv: list[str], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    baseline = time_command([sys.executable, "-c", "pass"], args.runs)
    help_run = time_command([sys.executable, "-m", "runner", "--help"], args.runs)
    for label, timings in (("python -c pass", baseline), ("sievefile --help", help_run)):
        print(
            f"{label:18} median {statistics.median(timings) * 1000:6.1f} ms"
            f"   min {min(timings) * 1000:6.1f} ms   ({args.runs} runs)"
        )
    added = statistics.median(help_run) - statistics.median(baseline)
    print(f"sievefile adds     median {added * 1000:6.1f} ms over the bare interpreter")


if __name__ == "__main__":
    main()
