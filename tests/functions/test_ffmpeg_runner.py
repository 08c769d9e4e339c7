"""Running the bundled ffmpeg: cancellation, failures, and parsing what it prints."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugins import _ffmpeg as ffmpeg
from plugins import media
from runner.errors import LocalFunctionError
from runner.local.types import JobCancelled, bind_cancel_event
from tests.support.waiting import wait_until


def _ffmpeg_children() -> list[int]:
    """Process ids of the ffmpeg processes this test process started and has not reaped."""
    binary = os.path.basename(ffmpeg.ffmpeg_executable())
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, ...
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == os.getpid() and binary.startswith(command):
            children.append(int(entry.name))
    return children


def _run_in_job(call: Callable[[], Any]) -> tuple[threading.Thread, threading.Event, dict]:
    """Run `call` in a thread bound to a fresh cancel event, as a local backend worker would."""
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def worker() -> None:
        bind_cancel_event(cancel)
        try:
            outcome["result"] = call()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    return thread, cancel, outcome


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see ffmpeg")
def test_cancelling_the_job_kills_a_running_ffmpeg() -> None:
    # An hour of video takes minutes to encode: only cancellation can end it within the test.
    thread, cancel, outcome = _run_in_job(lambda: media.make_test_pattern(duration=3600))
    wait_until(_ffmpeg_children, what="ffmpeg to start")
    cancel.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), JobCancelled)
    assert _ffmpeg_children() == []


def test_an_uncancelled_job_runs_to_completion() -> None:
    thread, _cancel, outcome = _run_in_job(lambda: media.make_test_pattern(duration=0.5))
    thread.join(timeout=30)
    assert "error" not in outcome
    assert ffmpeg.probe(outcome["result"].path)["has_video"]


def test_a_failing_ffmpeg_raises_its_own_explanation(tmp_path: Path) -> None:
    with pytest.raises(LocalFunctionError, match=r"ffmpeg failed \(exit \d+\): .*No such file"):
        ffmpeg.run_ffmpeg(["-i", tmp_path / "missing.wav", tmp_path / "out.wav"])


def test_decoded_duration_measures_by_decoding(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    ffmpeg.run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=0.75", path])
    assert ffmpeg.decoded_duration(path) == pytest.approx(0.75, abs=0.01)


STEREO_SUMMARY = """\
Input #0, matroska,webm, from 'talk.mkv':
  Metadata:
    ENCODER         : Lavf60.3.100
  Duration: 01:02:03.50, start: 0.000000, bitrate: 1411 kb/s
  Stream #0:0(eng): Video: vp9 (Profile 0), yuv420p(tv, bt709), 1920x1080, SAR 1:1 DAR 16:9, 29.97 fps, 29.97 tbr, 1k tbn (default)
  Stream #0:1(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
  Stream #0:2(eng): Audio: ac3, 48000 Hz, 5.1(side), fltp, 384 kb/s
  Stream #0:3: Subtitle: subrip
"""  # noqa: E501


def test_probe_output_parsing_handles_many_streams_and_layouts(tmp_path: Path) -> None:
    path = tmp_path / "talk.mkv"
    path.write_bytes(b"x" * 10)
    info = ffmpeg.parse_probe_output(STEREO_SUMMARY, path)
    assert info["duration"] == pytest.approx(3723.5)
    assert info["bit_rate"] == 1411000
    assert [s["type"] for s in info["streams"]] == ["video", "audio", "audio", "subtitle"]
    assert (info["width"], info["height"], info["fps"]) == (1920, 1080, 29.97)
    assert (info["audio_codec"], info["channels"]) == ("opus", 2)
    assert info["streams"][2]["channels"] == 6
    assert info["streams"][2]["bit_rate"] == 384000
    assert info["size_bytes"] == 10


def test_probe_output_without_an_input_summary_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(LocalFunctionError, match=r"x.bin is not readable media: moov atom"):
        ffmpeg.parse_probe_output(
            "[mov @ 0x55d0c0ffee00] moov atom not found\n", tmp_path / "x.bin"
        )
