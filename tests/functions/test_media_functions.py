"""The media functions, called as plain Python callables; their files are read back by ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins import _ffmpeg as ffmpeg
from plugins import media
from runner.errors import LocalFunctionError
from runner.local.types import Audio, File, Image, Video


def _path(file: File) -> Path:
    assert file.path is not None
    return Path(file.path)


@pytest.mark.parametrize(
    ("container", "format_name", "video_codec", "audio_codec"),
    [
        ("mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac"),
        ("webm", "matroska,webm", "vp9", "opus"),
        ("mkv", "matroska,webm", "h264", "aac"),
        ("mov", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac"),
    ],
)
def test_test_pattern_has_the_asked_for_duration_size_rate_and_format(
    container: str, format_name: str, video_codec: str, audio_codec: str
) -> None:
    video = media.make_test_pattern(duration=1.2, width=176, height=144, fps=15, format=container)
    assert isinstance(video, Video)
    assert _path(video).suffix == f".{container}"
    info = ffmpeg.probe(_path(video))
    assert info["format"] == format_name
    assert (info["width"], info["height"], info["fps"]) == (176, 144, 15.0)
    assert (info["video_codec"], info["audio_codec"]) == (video_codec, audio_codec)
    assert info["has_audio"]
    assert info["sample_rate"] in (44100, 48000)  # opus always runs at 48 kHz
    assert ffmpeg.decoded_duration(_path(video)) == pytest.approx(1.2, abs=0.1)


def test_test_pattern_rejects_odd_sizes_with_the_parameter_named() -> None:
    with pytest.raises(LocalFunctionError, match=r"width must be an even number.*got 101"):
        media.make_test_pattern(width=101)


def test_probe_reports_streams_and_top_level_details(sample_video: File) -> None:
    info = media.probe(sample_video)
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    assert info["size_bytes"] == _path(sample_video).stat().st_size
    assert [stream["type"] for stream in info["streams"]] == ["video", "audio"]
    video_stream, audio_stream = info["streams"]
    assert (video_stream["codec"], video_stream["width"], video_stream["height"]) == (
        "h264",
        320,
        240,
    )
    assert (audio_stream["codec"], audio_stream["sample_rate"], audio_stream["channels"]) == (
        "aac",
        44100,
        1,
    )
    assert info["bit_rate"] > 0


def test_probe_accepts_a_file_url(sample_video: File) -> None:
    info = media.probe(File(url=_path(sample_video).as_uri()))
    assert info["width"] == 320


@pytest.mark.parametrize(
    ("audio_format", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3"), ("flac", "flac")]
)
def test_extract_audio_writes_the_asked_for_format(
    sample_video: File, audio_format: str, codec: str
) -> None:
    audio = media.extract_audio(sample_video, format=audio_format)
    assert isinstance(audio, Audio)
    info = ffmpeg.probe(_path(audio))
    assert info["format"] == audio_format
    assert (info["has_video"], info["audio_codec"], info["sample_rate"]) == (False, codec, 44100)
    assert ffmpeg.decoded_duration(_path(audio)) == pytest.approx(2.0, abs=0.1)


def test_extract_audio_resamples(sample_video: File) -> None:
    audio = media.extract_audio(sample_video, format="wav", sample_rate=16000)
    assert ffmpeg.probe(_path(audio))["sample_rate"] == 16000


def test_extract_audio_from_a_video_without_audio_says_so(silent_video: File) -> None:
    with pytest.raises(LocalFunctionError, match=r"silent\.mp4 has no audio stream"):
        media.extract_audio(silent_video)


@pytest.mark.parametrize(("image_format", "codec"), [("jpg", "mjpeg"), ("png", "png")])
def test_thumbnail_is_one_image_of_the_asked_for_width(
    sample_video: File, image_format: str, codec: str
) -> None:
    image = media.thumbnail(sample_video, time=1.0, width=160, format=image_format)
    assert isinstance(image, Image)
    assert _path(image).suffix == f".{image_format}"
    info = ffmpeg.probe(_path(image))
    assert (info["video_codec"], info["width"], info["height"]) == (codec, 160, 120)
    assert not info["has_audio"]


def test_thumbnails_at_different_times_differ(sample_video: File) -> None:
    # testsrc2 moves, so frames at different times are different pictures.
    first = media.thumbnail(sample_video, time=0.1, format="png")
    later = media.thumbnail(sample_video, time=1.5, format="png")
    assert _path(first).read_bytes() != _path(later).read_bytes()


def test_thumbnail_past_the_end_is_a_clear_error(sample_video: File) -> None:
    with pytest.raises(LocalFunctionError, match=r"time 5.0 is past the end of .*lasts 2"):
        media.thumbnail(sample_video, time=5.0)


def test_trim_keeps_the_container_and_lasts_the_asked_for_time(sample_video: File) -> None:
    trimmed = media.trim(sample_video, start=0.5, duration=0.8)
    assert _path(trimmed).suffix == ".mp4"
    assert ffmpeg.decoded_duration(_path(trimmed)) == pytest.approx(0.8, abs=0.1)
    info = ffmpeg.probe(_path(trimmed))
    assert (info["width"], info["height"], info["has_audio"]) == (320, 240, True)


def test_trim_of_audio_stays_audio(sample_video: File) -> None:
    audio = media.extract_audio(sample_video, format="flac")
    trimmed = media.trim(audio, start=1.0, duration=0.5)
    info = ffmpeg.probe(_path(trimmed))
    assert (info["format"], info["has_video"]) == ("flac", False)
    assert ffmpeg.decoded_duration(_path(trimmed)) == pytest.approx(0.5, abs=0.05)


def test_trim_starting_past_the_end_is_a_clear_error(sample_video: File) -> None:
    with pytest.raises(LocalFunctionError, match=r"start 3\.0 is past the end"):
        media.trim(sample_video, start=3.0, duration=1.0)


@pytest.mark.parametrize(
    ("container", "video_codec", "audio_codec", "expected"),
    [
        ("webm", "auto", "auto", ("vp9", "opus")),
        ("mkv", "mpeg4", "flac", ("mpeg4", "flac")),
        ("mp4", "h264", "mp3", ("h264", "mp3")),
    ],
)
def test_transcode_uses_the_asked_for_container_codecs_and_height(
    sample_video: File, container: str, video_codec: str, audio_codec: str, expected: tuple
) -> None:
    video = media.transcode(
        sample_video,
        container=container,
        video_codec=video_codec,
        audio_codec=audio_codec,
        height=120,
    )
    assert _path(video).suffix == f".{container}"
    info = ffmpeg.probe(_path(video))
    assert (info["video_codec"], info["audio_codec"]) == expected
    assert (info["width"], info["height"]) == (160, 120)
    assert ffmpeg.decoded_duration(_path(video)) == pytest.approx(2.0, abs=0.1)


def test_transcode_of_a_video_without_audio_keeps_no_audio(silent_video: File) -> None:
    info = ffmpeg.probe(_path(media.transcode(silent_video, container="mkv")))
    assert (info["video_codec"], info["has_audio"]) == ("h264", False)


def test_transcode_refuses_a_codec_the_container_cannot_hold(sample_video: File) -> None:
    with pytest.raises(LocalFunctionError, match="webm cannot hold h264 video; choose one of vp9"):
        media.transcode(sample_video, container="webm", video_codec="h264")


@pytest.mark.parametrize(
    "call",
    [
        media.probe,
        media.extract_audio,
        media.thumbnail,
        media.trim,
        media.transcode,
    ],
)
def test_bad_media_is_a_clear_error_naming_the_file(call, garbage_file: File) -> None:
    with pytest.raises(
        LocalFunctionError, match=r"broken.mp4 is not readable media: .*Invalid data"
    ):
        call(garbage_file)


def test_a_missing_input_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalFunctionError, match=r"input file .*nowhere.mp4 does not exist"):
        media.probe(File(path=tmp_path / "nowhere.mp4"))


def test_a_remote_url_is_refused_rather_than_fetched() -> None:
    with pytest.raises(LocalFunctionError, match="is not local"):
        media.probe(File(url="https://example.com/video.mp4"))


def test_every_output_lands_in_its_own_fresh_directory(sample_video: File) -> None:
    first = media.extract_audio(sample_video, format="wav")
    second = media.extract_audio(sample_video, format="wav")
    assert _path(first).parent != _path(second).parent
    assert _path(first).name == _path(second).name == "test-pattern-audio.wav"
