"""Validate 10,000 job inputs against the public functions' schemas; report the wall time.

Run by hand: `python benchmarks/validate_inputs.py [--jobs N] [--invalid-every K]`. The inputs
are spread over the nine public-function fixtures in tests/fixtures/functions/ (derived once,
as a run does); every K-th job has a wrong type, so error explanation is measured too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from runner.schemas import FunctionSchema, check_inputs, compile_schema, derive_schema

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "functions"

VIDEO = {"url": "https://example.com/episode.mp4"}
SAMPLE_INPUTS: dict[str, dict[str, Any]] = {
    "sieve/translate": {"text": "Hola, mundo", "source": "es", "target": "en"},
    "sieve/tiktoken": {"text": "hello world", "encoding": "cl100k_base"},
    "sieve/youtube_to_mp4": {"url": "https://youtu.be/xyz", "resolution": "720p"},
    "sieve/demucs": {"file": VIDEO, "model": "htdemucs", "overlap": 0.5, "shifts": 1},
    "sieve/speech_transcriber": {
        "file": VIDEO,
        "word_level_timestamps": True,
        "source_language": "en",
        "min_speakers": 1,
        "max_speakers": 3,
        "min_silence_length": 0.3,
    },
    "sieve/text_to_video_lipsync": {"source_video": VIDEO, "text": "Welcome back"},
    "sieve/mediapipe_face_detector": {"file": VIDEO, "confidence_threshold": 0.6},
    "sieve/pyscenedetect": {"video": VIDEO, "threshold": 25.0},
    "sieve/dubbing": {
        "source_file": VIDEO,
        "target_language": "spanish",
        "voice_engine": "sieve-default-cloning",
        "translation_dictionary": {"Sieve": "Sieve"},
        "end_time": 120.5,
    },
}


def load_schemas() -> dict[str, FunctionSchema]:
    return {
        slug: derive_schema(json.loads((FIXTURES / f"{slug.replace('/', '__')}.json").read_text()))
        for slug in SAMPLE_INPUTS
    }


def make_jobs(count: int, invalid_every: int) -> list[tuple[str, dict[str, Any]]]:
    slugs = list(SAMPLE_INPUTS)
    jobs = []
    for index in range(count):
        slug = slugs[index % len(slugs)]
        inputs = json.loads(json.dumps(SAMPLE_INPUTS[slug]))  # each job its own objects
        if invalid_every and index % invalid_every == 0:
            first = next(iter(inputs))
            inputs[first] = 12345
        jobs.append((slug, inputs))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--invalid-every", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    schemas = load_schemas()
    started = time.perf_counter()
    for schema in schemas.values():
        compile_schema(schema)
    compile_ms = (time.perf_counter() - started) * 1000

    jobs = make_jobs(args.jobs, args.invalid_every)
    timings = []
    problems = 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        problems = sum(len(check_inputs(schemas[slug], inputs)) for slug, inputs in jobs)
        timings.append(time.perf_counter() - started)
    expected = len(range(0, args.jobs, args.invalid_every)) if args.invalid_every else 0
    assert problems == expected, (problems, expected)
    print(f"compile {len(schemas)} schemas: {compile_ms:.1f} ms")
    print(
        f"validate {args.jobs} job inputs ({problems} invalid): "
        f"median {statistics.median(timings) * 1000:.0f} ms, "
        f"best {min(timings) * 1000:.0f} ms over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
