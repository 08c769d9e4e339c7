"""Built-in plugin: local media functions that do real work with the bundled ffmpeg.

Registers `local/test-pattern`, `local/probe`, `local/extract-audio`, `local/thumbnail`,
`local/trim` and `local/transcode`. Each is a plain Python callable (call it directly in a test);
file inputs arrive as `File` values with a local `path`, file outputs are written into a fresh
temporary directory and returned as `File(path=...)` for the server to store. A cancelled job
stops ffmpeg at once (see `plugins._ffmpeg.run_ffmpeg`); an ffmpeg failure or unreadable
media raises `LocalFunctionError`, which becomes the job's `error`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from plugins import _ffmpeg as ffmpeg
from runner import Audio, File, Image, LocalFunctionError, RegisterFunction, Video, hookimpl

Container = Literal["mp4", "webm", "mkv", "mov"]
VideoCodec = Literal["auto", "h264", "vp9", "mpeg4"]
AudioCodec = Literal["auto", "aac", "opus", "mp3", "flac"]

# ffmpeg encoder (and its speed options) for each codec name a user picks.
_VIDEO_ENCODERS: dict[str, list[str]] = {
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"],
    "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "5"],
}
_AUDIO_ENCODERS: dict[str, list[str]] = {
    "aac": ["-c:a", "aac"],
    "opus": ["-c:a", "libopus"],
    "mp3": ["-c:a", "libmp3lame"],
    "flac": ["-c:a", "flac"],
}
# What each container can hold; the first codec is the one "auto" picks.
_CONTAINER_CODECS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mp4": (("h264", "mpeg4", "vp9"), ("aac", "mp3", "opus", "flac")),
    "mov": (("h264", "mpeg4"), ("aac", "mp3")),
    "mkv": (("h264", "vp9", "mpeg4"), ("aac", "opus", "mp3", "flac")),
    "webm": (("vp9",), ("opus",)),
}
_AUDIO_FORMATS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4"],
    "flac": ["-c:a", "flac"],
}


def make_test_pattern(
    duration: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    format: Container = "mp4",
    frequency: int = 440,
) -> Video:
    """Synthesize a test video: ffmpeg's moving test pattern with a sine tone.

    Args:
        duration: Length in seconds (at most 3600).
        width: Width in pixels (even, 16 to 4096).
        height: Height in pixels (even, 16 to 4096).
        fps: Frames per second (1 to 120).
        format: Container; its usual codecs are used (H.264/AAC, VP9/Opus for webm).
        frequency: Pitch of the mono 44.1 kHz tone, in Hz.

    Returns:
        The video file.
    """
    _require(0 < duration <= 3600, "duration", duration, "between 0 (exclusive) and 3600 seconds")
    _require(16 <= width <= 4096 and width % 2 == 0, "width", width, "an even number, 16 to 4096")
    _require(
        16 <= height <= 4096 and height % 2 == 0, "height", height, "an even number, 16 to 4096"
    )
    _require(1 <= fps <= 120, "fps", fps, "between 1 and 120")
    _require(20 <= frequency <= 20000, "frequency", frequency, "between 20 and 20000 Hz")
    video_codec, audio_codec = _codecs_for(format, "auto", "auto")
    output = _output_path("test-pattern", format)
    ffmpeg.run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}",
            "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100:d={duration}",
            *_VIDEO_ENCODERS[video_codec], *_AUDIO_ENCODERS[audio_codec],
            "-t", str(duration), "-y", output,
        ]
    )  # fmt: skip
    return Video(path=_produced(output))


def probe(file: File) -> dict:
    """Read a media file's metadata: container, duration, streams, codecs, sizes, rates.

    Args:
        file: The media file (video, audio or image).

    Returns:
        A dict: `format`, `duration` (s), `bit_rate` (bit/s), `size_bytes`, `streams` (each
        with `type`, `codec`, and `width`/`height`/`fps` for video, `sample_rate`/`channels`
        for audio), and the first video and audio stream's details at the top level
        (`width`, `height`, `fps`, `video_codec`, `audio_codec`, `sample_rate`, `channels`,
        `has_video`, `has_audio`).
    """
    return ffmpeg.probe(_local_path(file))


def extract_audio(
    file: File, format: Literal["wav", "mp3", "flac"] = "wav", sample_rate: int = 0
) -> Audio:
    """Extract the audio track of a media file.

    Args:
        file: A video or audio file with an audio stream.
        format: Audio file format (wav is 16-bit PCM).
        sample_rate: Resample to this rate in Hz; 0 keeps the source's rate.

    Returns:
        The audio file.
    """
    source = _local_path(file)
    _require(sample_rate == 0 or 8000 <= sample_rate <= 192000, "sample_rate", sample_rate,
             "0 (keep) or between 8000 and 192000 Hz")  # fmt: skip
    if not ffmpeg.probe(source)["has_audio"]:
        raise LocalFunctionError(f"{source.name} has no audio stream to extract")
    output = _output_path(f"{source.stem}-audio", format)
    resample = ["-ar", str(sample_rate)] if sample_rate else []
    ffmpeg.run_ffmpeg(["-i", source, "-vn", *_AUDIO_FORMATS[format], *resample, "-y", output])
    return Audio(path=_produced(output))


def thumbnail(
    file: File, time: float = 0.0, width: int = 0, format: Literal["jpg", "png"] = "jpg"
) -> Image:
    """Take one frame of a video as an image.

    Args:
        file: The video.
        time: When, in seconds from the start (before the end of the video).
        width: Scale to this width in pixels, keeping the aspect ratio; 0 keeps the size.
        format: Image format.

    Returns:
        The image file.
    """
    source = _local_path(file)
    _require(width == 0 or 16 <= width <= 8192, "width", width, "0 (keep) or 16 to 8192")
    metadata = ffmpeg.probe(source)
    if not metadata["has_video"]:
        raise LocalFunctionError(f"{source.name} has no video stream to take a thumbnail from")
    duration = metadata["duration"]
    _require(time >= 0, "time", time, "0 or more seconds")
    if duration is not None and time >= duration:
        raise LocalFunctionError(
            f"time {time} is past the end of {source.name}, which lasts {duration} seconds"
        )
    output = _output_path(f"{source.stem}-thumbnail", format)
    scale = ["-vf", f"scale={width}:-2"] if width else []
    ffmpeg.run_ffmpeg(
        ["-ss", str(time), "-i", source, "-frames:v", "1", *scale, "-update", "1", "-y", output]
    )
    return Image(path=_produced(output))


def trim(file: File, start: float = 0.0, duration: float = 1.0) -> File:
    """Cut a part out of a video or audio file, frame-accurately (it is re-encoded).

    Args:
        file: The video or audio file.
        start: Where the part starts, in seconds (before the end of the file).
        duration: How long the part lasts, in seconds (less if the file ends first).

    Returns:
        The part, in the same container as the input.
    """
    source = _local_path(file)
    _require(start >= 0, "start", start, "0 or more seconds")
    _require(duration > 0, "duration", duration, "more than 0 seconds")
    length = ffmpeg.probe(source)["duration"]
    if length is not None and start >= length:
        raise LocalFunctionError(
            f"start {start} is past the end of {source.name}, which lasts {length} seconds"
        )
    output = _output_path(f"{source.stem}-trimmed", source.suffix.lstrip(".") or "mkv")
    ffmpeg.run_ffmpeg(["-ss", str(start), "-i", source, "-t", str(duration), "-y", output])
    return File(path=_produced(output))


def transcode(
    file: File,
    container: Container = "mp4",
    video_codec: VideoCodec = "auto",
    audio_codec: AudioCodec = "auto",
    height: int = 0,
) -> File:
    """Re-encode a media file into another container and codecs.

    Args:
        file: The video or audio file.
        container: Output container.
        video_codec: Video codec; auto picks the container's usual one (h264; vp9 for webm).
        audio_codec: Audio codec; auto picks the container's usual one (aac; opus for webm).
        height: Scale the video to this height in pixels, keeping the aspect ratio; 0 keeps it.

    Returns:
        The re-encoded file.
    """
    source = _local_path(file)
    _require(height == 0 or 16 <= height <= 4096, "height", height, "0 (keep) or 16 to 4096")
    video, audio = _codecs_for(container, video_codec, audio_codec)
    metadata = ffmpeg.probe(source)
    arguments: list[str | Path] = ["-i", source]
    arguments += _VIDEO_ENCODERS[video] if metadata["has_video"] else ["-vn"]
    arguments += _AUDIO_ENCODERS[audio] if metadata["has_audio"] else ["-an"]
    if height and metadata["has_video"]:
        arguments += ["-vf", f"scale=-2:{height}"]
    output = _output_path(f"{source.stem}-transcoded", container)
    ffmpeg.run_ffmpeg([*arguments, "-y", output])
    return File(path=_produced(output))


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    """Register the media functions under the `local` owner."""
    register(make_test_pattern, name="local/test-pattern")
    register(probe, name="local/probe")
    register(extract_audio, name="local/extract-audio")
    register(thumbnail, name="local/thumbnail")
    register(trim, name="local/trim")
    register(transcode, name="local/transcode")


def _codecs_for(container: str, video_codec: str, audio_codec: str) -> tuple[str, str]:
    """The (video, audio) codecs to use, checked against what `container` can hold."""
    if container not in _CONTAINER_CODECS:
        raise LocalFunctionError(
            f"container {container!r} is not one of {', '.join(_CONTAINER_CODECS)}"
        )
    video_choices, audio_choices = _CONTAINER_CODECS[container]
    video = video_choices[0] if video_codec == "auto" else video_codec
    audio = audio_choices[0] if audio_codec == "auto" else audio_codec
    if video not in video_choices:
        raise LocalFunctionError(
            f"{container} cannot hold {video} video; choose one of {', '.join(video_choices)}"
        )
    if audio not in audio_choices:
        raise LocalFunctionError(
            f"{container} cannot hold {audio} audio; choose one of {', '.join(audio_choices)}"
        )
    return video, audio


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise LocalFunctionError(f"{name} must be {expected}, got {value!r}")


def _local_path(file: File) -> Path:
    """The local path of a file input: its `path`, or a `file://` URL or plain-path `url`."""
    if file.path is not None:
        path = Path(file.path)
    else:
        url = file.url or ""
        parsed = urlparse(url)
        if parsed.scheme == "file":
            path = Path(unquote(parsed.path))
        elif parsed.scheme == "":
            path = Path(url)
        else:
            raise LocalFunctionError(
                f"file {url!r} is not local; the local backend downloads URLs before calling"
            )
    if not path.is_file():
        raise LocalFunctionError(f"input file {path} does not exist")
    return path


def _output_path(stem: str, extension: str) -> Path:
    """A path named `stem.extension` in a fresh temporary directory (the server copies it)."""
    return Path(tempfile.mkdtemp(prefix="sievefile-media-")) / f"{stem}.{extension}"


def _produced(path: Path) -> Path:
    """`path`, after checking that ffmpeg really wrote something there."""
    if not path.is_file() or path.stat().st_size == 0:
        raise LocalFunctionError(f"ffmpeg reported success but wrote nothing to {path.name}")
    return path
