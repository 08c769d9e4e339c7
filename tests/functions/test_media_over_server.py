"""A media pipeline pushed through the real local server over a socket: each job's file output
(served back by URL) is the next job's file input, and the results read back correctly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from plugins import _ffmpeg as ffmpeg
from runner.client import SieveClient

if TYPE_CHECKING:
    from tests.conftest import LocalServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _run(client: SieveClient, function: str, inputs: dict) -> dict:
    pushed = await client.push(function, inputs)
    job = await client.wait_for_job(pushed["id"], interval=0.05)
    assert job["status"] == "finished", job["error"]
    return job


def _download(url: str, into: Path, headers: dict[str, str]) -> Path:
    path = into / url.rsplit("/", 1)[-1]
    path.write_bytes(httpx.get(url, headers=headers).raise_for_status().content)
    return path


async def test_media_pipeline_through_the_server(local_server: LocalServer, tmp_path: Path) -> None:
    async with SieveClient(local_server.url, local_server.api_key) as client:
        video_job = await _run(
            client, "local/test-pattern", {"duration": 1.5, "width": 256, "height": 144}
        )
        video = video_job["outputs"][0]
        assert video["type"] == "sieve.Video"
        assert video["data"]["url"].startswith(f"{local_server.url}/v2/files/")

        probed = (await _run(client, "local/probe", {"file": video["data"]}))["outputs"][0]
        assert (probed["data"]["width"], probed["data"]["height"]) == (256, 144)
        assert probed["data"]["duration"] == pytest.approx(1.5, abs=0.1)

        audio_job = await _run(
            client, "local/extract-audio", {"file": video["data"], "format": "flac"}
        )
        trimmed_job = await _run(
            client,
            "local/trim",
            {"file": audio_job["outputs"][0]["data"], "start": 0.5, "duration": 0.5},
        )
        thumbnail_job = await _run(
            client, "local/thumbnail", {"file": video["data"], "time": 1.0, "format": "png"}
        )

    trimmed = _download(trimmed_job["outputs"][0]["data"]["url"], tmp_path, local_server.headers)
    assert ffmpeg.probe(trimmed)["format"] == "flac"
    assert ffmpeg.decoded_duration(trimmed) == pytest.approx(0.5, abs=0.05)
    thumbnail = _download(
        thumbnail_job["outputs"][0]["data"]["url"], tmp_path, local_server.headers
    )
    info = ffmpeg.probe(thumbnail)
    assert (info["video_codec"], info["width"], info["height"]) == ("png", 256, 144)


async def test_bad_media_ends_the_job_with_ffmpegs_explanation(
    local_server: LocalServer, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"definitely not media\n" * 20)
    async with SieveClient(local_server.url, local_server.api_key) as client:
        pushed = await client.push("local/extract-audio", {"file": {"url": bad.as_uri()}})
        job = await client.wait_for_job(pushed["id"], interval=0.05)
    assert job["status"] == "error"
    assert "is not readable media" in job["error"]
    assert "Invalid data found when processing input" in job["error"]


async def test_cancelling_a_running_media_job_stops_it(local_server: LocalServer) -> None:
    async with SieveClient(local_server.url, local_server.api_key) as client:
        pushed = await client.push("local/test-pattern", {"duration": 3600})
        while (await client.get_job(pushed["id"]))["status"] == "queued":
            await asyncio.sleep(0.02)
        await client.cancel_job(pushed["id"])
        job = await client.wait_for_job(pushed["id"], interval=0.05)
    assert job["status"] == "cancelled"
    assert job["outputs"] == []
