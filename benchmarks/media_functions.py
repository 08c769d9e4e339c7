"""How long each built-in media function takes on a short clip (run by hand).

    python benchmarks/media_functions.py [--duration 10] [--size 640x360] [--repeat 3]

Synthesizes one clip with `local/test-pattern`, then times each function on it, calling the
Python callables directly (no server), and prints the median wall time of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from plugins import media


def timed(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    width, height = (int(part) for part in options.size.split("x"))
    clip = media.make_test_pattern(duration=options.duration, width=width, height=height)
    cases: dict[str, Callable[[], Any]] = {
        f"test-pattern mp4 {options.size} {options.duration:g}s": lambda: media.make_test_pattern(
            duration=options.duration, width=width, height=height
        ),
        "probe": lambda: media.probe(clip),
        "extract-audio wav": lambda: media.extract_audio(clip, format="wav"),
        "extract-audio mp3": lambda: media.extract_audio(clip, format="mp3"),
        "thumbnail jpg": lambda: media.thumbnail(clip, time=options.duration / 2),
        "trim 2s": lambda: media.trim(clip, start=1.0, duration=2.0),
        "transcode webm (vp9/opus)": lambda: media.transcode(clip, container="webm"),
        "transcode mkv 180p": lambda: media.transcode(clip, container="mkv", height=180),
    }
    print(f"{'function':40} median of {options.repeat}")
    for name, call in cases.items():
        print(f"{name:40} {timed(call, options.repeat):7.3f} s")


if __name__ == "__main__":
    main()
