"""Media made once per test session by the real bundled ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins import _ffmpeg as ffmpeg
from plugins import media
from runner.local.types import File


@pytest.fixture(scope="session")
def sample_video() -> File:
    """A 2-second 320x240 25 fps H.264/AAC mp4 with a tone."""
    return media.make_test_pattern(duration=2.0, width=320, height=240, fps=25, format="mp4")


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> File:
    """A 1-second mp4 with a video stream and no audio stream."""
    path = tmp_path_factory.mktemp("silent") / "silent.mp4"
    ffmpeg.run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "mpeg4", path]
    )
    return File(path=path)


@pytest.fixture
def garbage_file(tmp_path: Path) -> File:
    """A file named like a video that holds no media at all."""
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video\n" * 50)
    return File(path=path)
