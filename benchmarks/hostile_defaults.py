"""Decode hostile and damaged default pickles; report the time and peak memory of each.

Run by hand: `python benchmarks/hostile_defaults.py [--repeat N]`. Every case but the first
is refused ("has a default, value unknown"); the point is that refusing costs little and is
bounded by the input-size, memo, depth and node limits of `runner.schemas.defaults`, whatever
the stream claims. Timing and memory are measured in separate passes (tracemalloc slows code).
"""

from __future__ import annotations

import argparse
import base64
import pickle
import statistics
import time
import tracemalloc
from typing import Any

from runner.schemas.defaults import decode_pickled


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def cases() -> dict[str, str]:
    laughs: list[Any] = ["lol"]
    for _ in range(40):
        laughs = [laughs, laughs]
    huge = (2**62).to_bytes(8, "little")
    return {
        "plain default (htdemucs_ft)": "gAWVDwAAAAAAAACMC2h0ZGVtdWNzX2Z0lC4=",
        "20,000 list items (over the node limit)": _b64(pickle.dumps([1] * 20000, protocol=5)),
        "2**40 items by sharing (40 levels of [x, x])": _b64(pickle.dumps(laughs, protocol=5)),
        "30,000-deep nesting": _b64(b"\x80\x05" + b"]" * 30000 + b"a" * 29999 + b"."),
        "BINUNICODE8 claiming 2**62 bytes": _b64(b"\x80\x05\x8d" + huge + b"abc."),
        "memo index 2**32 - 1": _b64(b"\x80\x05Nr\xff\xff\xff\xff."),
        "10 MB of base64": "gA" + "A" * 10_000_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"{'case':46} {'result':16} {'median':>10} {'peak memory':>12}")
    for name, text in cases().items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = decode_pickled(text)
            times.append(time.perf_counter() - started)
        tracemalloc.start()
        decode_pickled(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        shown = "refused" if result == (False, None) else repr(result[1] if result else result)
        median = statistics.median(times) * 1000
        print(f"{name:46} {shown:16} {median:8.2f} ms {peak / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
