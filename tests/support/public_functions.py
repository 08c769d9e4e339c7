"""A test plugin: Sieve's public functions from the reference page, as local functions.

Each function has the signature the live `sieve/<name>` publishes (see
docs/schemas.md and tests/fixtures/functions/ for the same functions as live metadata) and
returns a small, plausible output, so the local backend can serve manifests written for the
real service. Register it with a plugin manager:

    manager = build_plugin_manager(builtins=("tests.support.public_functions",))
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import runner
from runner import RegisterFunction
from runner.local.types import File

OWNER = "sieve"

DemucsModel = Literal[
    "htdemucs",
    "htdemucs_ft",
    "htdemucs_6s",
    "hdemucs_mmi",
    "mdx",
    "mdx_extra",
    "mdx_q",
    "mdx_extra_q",
]
Resolution = Literal[
    "highest-available",
    "lowest-available",
    "1080p",
    "720p",
    "480p",
    "360p",
    "240p",
    "144p",
]
Encoding = Literal["cl100k_base", "p50k_edit", "p50k_base", "r50k_base", "gpt2"]


def _output_file(stem: str, suffix: str, content: bytes) -> File:
    """A file in a fresh temporary folder; the server stores it and serves it by URL."""
    folder = Path(tempfile.mkdtemp(prefix="sievefile-public-"))
    path = folder / f"{stem}{suffix}"
    path.write_bytes(content)
    return File(path=path)


def _source_bytes(file: File) -> bytes:
    return Path(file.path).read_bytes() if file.path is not None else b""


def translate(
    text: str, source: str = "auto", target: str = "es", backend: str = "seamless"
) -> str:
    """Translate text between languages.

    Args:
        text: The text to translate.
        source: Source language code, or "auto" to detect it.
        target: Target language code.
        backend: Translation backend.

    Returns:
        The translated text.
    """
    return f"[{source}->{target}] {text}"


def tiktoken(text: str, encoding: Encoding = "cl100k_base") -> list:
    """Count and encode tokens with OpenAI's tiktoken.

    Args:
        text: The text to encode.
        encoding: The tiktoken encoding.

    Returns:
        The token ids.
    """
    seed = encoding.encode()
    return [
        int.from_bytes(hashlib.sha256(seed + word.encode()).digest()[:2], "big")
        for word in text.split()
    ]


def youtube_to_mp4(
    url: str, resolution: Resolution = "highest-available", include_audio: bool = True
) -> File:
    """Download a YouTube video as an MP4 file.

    Args:
        url: The YouTube video URL.
        resolution: The video resolution.
        include_audio: Keep the audio track.

    Returns:
        The MP4 file.
    """
    note = f"video of {url} at {resolution}, audio={include_audio}\n"
    return _output_file("video", ".mp4", note.encode())


def demucs(
    file: File,
    model: DemucsModel = "htdemucs_ft",
    two_stems: Literal["None", "vocals", "drums", "bass", "other"] = "None",
    overlap: float = 0.25,
    shifts: int = 0,
    audio_format: Literal["wav", "mp3", "flac"] = "wav",
) -> Iterator[File]:
    """Separate music into stems.

    Args:
        file: The audio file to separate.
        model: The demucs model.
        two_stems: Separate into this stem and the rest, or "None" for all stems.
        overlap: Overlap between prediction windows.
        shifts: Random shifts for equivariant stabilization.
        audio_format: Format of the output files.

    Yields:
        One file per stem.
    """
    stems = ["vocals", "drums", "bass", "other"] if two_stems == "None" else [two_stems]
    source = _source_bytes(file)
    for stem in stems:
        yield _output_file(stem, f".{audio_format}", stem.encode() + b":" + source[:64])


def speech_transcriber(
    file: File,
    word_level_timestamps: bool = True,
    speaker_diarization: bool = False,
    speed_boost: bool = False,
    backend: str = "stable-ts",
    source_language: str = "",
    target_language: str = "",
    min_speakers: int = -1,
    max_speakers: int = -1,
    min_silence_length: float = 0.4,
) -> Iterator[dict]:
    """Transcribe speech with word-level timestamps.

    Args:
        file: The audio or video file to transcribe.
        word_level_timestamps: Return word-level timestamps.
        speaker_diarization: Label the speakers.
        speed_boost: Trade accuracy for speed.
        backend: The transcription backend.
        source_language: Language of the audio; empty to detect it.
        target_language: Translate the transcript into this language; empty to keep it.
        min_speakers: Minimum number of speakers (-1: detect).
        max_speakers: Maximum number of speakers (-1: detect).
        min_silence_length: Silence (seconds) that splits segments.

    Yields:
        Transcript segments.
    """
    words = ["hello", "from", "sievefile"]
    segment: dict = {"start": 0.0, "end": 1.5, "text": " ".join(words)}
    if word_level_timestamps:
        segment["words"] = [
            {"word": word, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, word in enumerate(words)
        ]
    if speaker_diarization:
        segment["speaker"] = "SPEAKER_0"
    yield {"segments": [segment], "language": source_language or "en"}


def text_to_video_lipsync(
    source_video: File,
    text: str,
    lipsync_engine: Literal["sievesync", "musetalk", "video_retalking"] = "sievesync",
    downsample_video: bool = True,
    voice_stability: float = 0.5,
    voice_style: float = 0,
) -> File:
    """Make a person in a video say the given text.

    Args:
        source_video: The video of the speaker.
        text: What the speaker should say.
        lipsync_engine: The lip-sync engine.
        downsample_video: Downsample the video for speed.
        voice_stability: Voice stability, 0 to 1.
        voice_style: Voice style exaggeration, 0 to 1.

    Returns:
        The lip-synced video.
    """
    return _output_file("lipsync", ".mp4", f"{lipsync_engine}: {text}\n".encode())


def mediapipe_face_detector(
    file: File,
    confidence_threshold: float = 0.5,
    start_frame: int = 0,
    end_frame: int = -1,
    fps: int = -1,
) -> list:
    """Detect faces in images and videos.

    Args:
        file: The image or video.
        confidence_threshold: Minimum detection confidence.
        start_frame: First frame to process.
        end_frame: Last frame to process (-1: the end).
        fps: Frames per second to sample (-1: every frame).

    Returns:
        Detected faces per frame.
    """
    box = {"x": 0.25, "y": 0.2, "width": 0.5, "height": 0.6, "confidence": 0.93}
    return [
        {
            "frame_number": start_frame,
            "boxes": [box] if box["confidence"] >= confidence_threshold else [],
        }
    ]


def pyscenedetect(video: File, threshold: float = 27.0, adaptive_threshold: bool = False) -> dict:
    """Detect scene changes in a video.

    Args:
        video: The video to split into scenes.
        threshold: Content-change threshold.
        adaptive_threshold: Use the adaptive detector.

    Returns:
        Scenes with start and end times.
    """
    return {"scenes": [{"start_seconds": 0.0, "end_seconds": 2.0, "scene_number": 1}]}


def dubbing(
    source_file: File,
    target_language: str,
    voice_engine: Literal[
        "sieve-default-cloning", "elevenlabs-voice-cloning", "openai-alloy", "openai-nova"
    ] = "sieve-default-cloning",
    translation_engine: Literal["gpt4", "seamless"] = "gpt4",
    enable_lipsyncing: bool = False,
    preserve_background_audio: bool = True,
    safewords: str = "",
    # The live signature has a dict default; it is never mutated here.
    translation_dictionary: dict = {},  # noqa: B006
    start_time: float = 0,
    end_time: float = -1,
) -> File:
    """Dub a video or audio file into another language.

    Args:
        source_file: The video or audio file to dub.
        target_language: The language to dub into.
        voice_engine: The voice engine.
        translation_engine: The translation engine.
        enable_lipsyncing: Also lip-sync the video.
        preserve_background_audio: Keep music and effects under the new voice.
        safewords: Comma-separated words never to translate.
        translation_dictionary: Fixed translations for words or phrases.
        start_time: Where to start, in seconds.
        end_time: Where to stop, in seconds (-1: the end).

    Returns:
        The dubbed file.
    """
    suffix = Path(str(source_file.path or source_file.url or "x.mp4")).suffix or ".mp4"
    dubbed = f"dubbed into {target_language} with {voice_engine}\n".encode()
    return _output_file("dubbed", suffix, dubbed + _source_bytes(source_file)[:64])


PUBLIC_FUNCTIONS = (
    translate,
    tiktoken,
    youtube_to_mp4,
    demucs,
    speech_transcriber,
    text_to_video_lipsync,
    mediapipe_face_detector,
    pyscenedetect,
    dubbing,
)


@runner.hookimpl
def register_functions(register: RegisterFunction) -> None:
    """Serve every public function as `sieve/<name>`."""
    for function in PUBLIC_FUNCTIONS:
        register(function, name=f"{OWNER}/{function.__name__}")
