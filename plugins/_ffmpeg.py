"""The bundled ffmpeg, for the `plugins.media` functions; not a plugin itself: running it
cancellably, and reading media metadata from what it prints.

sievefile uses the ffmpeg binary shipped in the `imageio-ffmpeg` wheel, so no system ffmpeg and no
download is needed. That wheel has no ffprobe, so `probe` parses the stream summary that
`ffmpeg -i FILE` prints, and `decoded_duration` decodes the whole file to measure it exactly.

Every run polls `runner.check_cancelled()`: when the job that runs it is cancelled, ffmpeg is
killed within `POLL_INTERVAL` and `JobCancelled` is raised. Only the public API is used.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from runner import JobCancelled, LocalFunctionError, check_cancelled

#: How often a running ffmpeg is checked for cancellation, in seconds.
POLL_INTERVAL = 0.05

# ffmpeg's own chatter that says nothing about why it failed.
_NOISE = re.compile(r"^(\s|Input #|Output #|Stream |Metadata:|Duration:|frame=|size=|\[out#)")
# The "[component @ 0x55d0...] " that starts many of ffmpeg's lines.
_COMPONENT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")


@lru_cache(maxsize=1)
def ffmpeg_executable() -> str:
    """The path of the ffmpeg binary bundled with imageio-ffmpeg."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as error:
        raise LocalFunctionError(
            f"the bundled ffmpeg is missing ({error}); reinstall sievefile with its "
            "dependencies (pip install --force-reinstall imageio-ffmpeg)"
        ) from None


def run_ffmpeg(arguments: Sequence[str | os.PathLike[str]], *, check: bool = True) -> str:
    """Run ffmpeg with `arguments` (after the binary) and return what it wrote to stderr.

    Raises `JobCancelled` (after killing ffmpeg) when the current job is cancelled, and
    `LocalFunctionError` quoting ffmpeg's own explanation when it exits non-zero and `check`.
    """
    command = [
        ffmpeg_executable(),
        "-hide_banner",
        "-nostdin",
        *(os.fspath(argument) for argument in arguments),
    ]
    # stderr goes to a file rather than a pipe: ffmpeg can print more than a pipe buffer holds
    # while we only poll, and a full pipe would stall it.
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            while True:
                try:
                    returncode = process.wait(timeout=POLL_INTERVAL)
                    break
                except subprocess.TimeoutExpired:
                    try:
                        check_cancelled()
                    except JobCancelled:
                        raise JobCancelled("job was cancelled; ffmpeg was stopped") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        output = stderr.read().decode("utf-8", errors="replace")
    if check and returncode != 0:
        raise LocalFunctionError(f"ffmpeg failed (exit {returncode}): {explain_failure(output)}")
    return output


def explain_failure(stderr: str) -> str:
    """The lines of ffmpeg's stderr that say what went wrong, joined on one line."""
    reasons: list[str] = []
    for line in stderr.replace("\r", "\n").splitlines():
        if not line.strip() or _NOISE.match(line):
            continue
        reason = _COMPONENT.sub("", line.strip())
        if reason not in reasons:
            reasons.append(reason)
    # The last lines carry the reason; earlier ones are usually configuration chatter.
    return "; ".join(reasons[-2:]) if reasons else "no explanation printed"


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Media metadata of the file at `path`, from the summary ffmpeg prints for an input.

    Returns `{"format", "duration", "bit_rate", "size_bytes", "streams", "width", "height",
    "fps", "video_codec", "audio_codec", "sample_rate", "channels", "has_video", "has_audio"}`;
    `duration` (seconds) and `bit_rate` (bits/s) are None when the container does not say
    (a still image); the per-stream details are in `streams`, the first video and audio
    stream's details are repeated at the top level (None without such a stream).
    Raises `LocalFunctionError` when ffmpeg cannot read the file.
    """
    file = Path(path)
    if not file.is_file():
        raise LocalFunctionError(f"cannot probe {file}: no such file")
    # With an input and no output ffmpeg prints the summary and exits 1; that is the only way
    # to ask the bundled binary for it, so the exit status says nothing here.
    stderr = run_ffmpeg(["-i", file], check=False)
    return parse_probe_output(stderr, file)


_INPUT = re.compile(r"^Input #0, (?P<format>[^ ]+), from ", re.MULTILINE)
_DURATION = re.compile(
    r"^\s*Duration: (?P<duration>[^,]+)(?:, start: [^,]+)?, bitrate: (?P<bitrate>.+)$", re.MULTILINE
)
_STREAM = re.compile(r"^\s*Stream #0:(?P<index>\d+)\S*: (?P<kind>\w+): (?P<spec>.*)$", re.MULTILINE)
_SIZE = re.compile(r"\b(?P<width>\d{1,5})x(?P<height>\d{1,5})\b")
_FPS = re.compile(r"(?P<rate>\d+(?:\.\d+)?k?) (?:fps|tbr)\b")
_SAMPLE_RATE = re.compile(r"\b(?P<rate>\d+) Hz\b")
_BIT_RATE = re.compile(r"\b(?P<rate>\d+) kb/s\b")
_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def parse_probe_output(stderr: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse the input summary of `ffmpeg -i` (see `probe`); `path` names the file in errors."""
    header = _INPUT.search(stderr)
    if header is None:
        raise LocalFunctionError(
            f"{os.fspath(path)} is not readable media: {explain_failure(stderr)}"
        )
    duration_match = _DURATION.search(stderr)
    streams = [_parse_stream(match) for match in _STREAM.finditer(stderr)]
    video = next((s for s in streams if s["type"] == "video"), None)
    audio = next((s for s in streams if s["type"] == "audio"), None)
    return {
        "format": header["format"],
        "duration": _seconds(duration_match["duration"]) if duration_match else None,
        "bit_rate": _kilobits(duration_match["bitrate"]) if duration_match else None,
        "size_bytes": os.path.getsize(path),
        "streams": streams,
        "has_video": video is not None,
        "has_audio": audio is not None,
        "width": video["width"] if video else None,
        "height": video["height"] if video else None,
        "fps": video["fps"] if video else None,
        "video_codec": video["codec"] if video else None,
        "audio_codec": audio["codec"] if audio else None,
        "sample_rate": audio["sample_rate"] if audio else None,
        "channels": audio["channels"] if audio else None,
    }


def _parse_stream(match: re.Match[str]) -> dict[str, Any]:
    spec = match["spec"]
    stream: dict[str, Any] = {
        "index": int(match["index"]),
        "type": match["kind"].lower(),
        "codec": spec.split(maxsplit=1)[0].rstrip(","),
    }
    bit_rate = _BIT_RATE.search(spec)
    stream["bit_rate"] = int(bit_rate["rate"]) * 1000 if bit_rate else None
    if stream["type"] == "video":
        size = _SIZE.search(spec)
        fps = _FPS.search(spec)
        stream["width"] = int(size["width"]) if size else None
        stream["height"] = int(size["height"]) if size else None
        stream["fps"] = _rate(fps["rate"]) if fps else None
    elif stream["type"] == "audio":
        sample_rate = _SAMPLE_RATE.search(spec)
        stream["sample_rate"] = int(sample_rate["rate"]) if sample_rate else None
        stream["channels"] = _channels(spec)
    return stream


def _channels(spec: str) -> int | None:
    # The field after the sample rate: "mono", "stereo", "5.1(side)", "3 channels", ...
    fields = [field.strip() for field in spec.split(",")]
    for position, field in enumerate(fields):
        if field.endswith(" Hz") and position + 1 < len(fields):
            layout = fields[position + 1]
            counted = re.match(r"(\d+) channels", layout)
            if counted:
                return int(counted[1])
            return _CHANNEL_LAYOUTS.get(layout.split("(")[0])
    return None


def _rate(text: str) -> float:
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _seconds(timestamp: str) -> float | None:
    """`HH:MM:SS.ss` as seconds; None for `N/A`."""
    parts = timestamp.strip().split(":")
    if len(parts) != 3:
        return None
    hours, minutes, seconds = parts
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _kilobits(text: str) -> int | None:
    match = re.match(r"\s*(\d+) kb/s", text)
    return int(match[1]) * 1000 if match else None


_PROGRESS_TIME = re.compile(r"time=(?P<time>\d+:\d\d:\d\d(?:\.\d+)?)")


def decoded_duration(path: str | os.PathLike[str]) -> float:
    """The duration of the file at `path` in seconds, measured by decoding all of it.

    Exact where the container's header is an estimate (MP3) or absent; slower than `probe`.
    """
    stderr = run_ffmpeg(["-i", path, "-f", "null", "-"])
    times = _PROGRESS_TIME.findall(stderr)
    if not times:
        raise LocalFunctionError(f"ffmpeg decoded nothing from {os.fspath(path)}")
    hours, minutes, seconds = times[-1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
