"""The runner SIGKILLed in the middle of delivering outputs, then resumed: nothing missing,
nothing pushed twice, each file and object written once or rewritten with the same bytes.

`deliver:<n>` kills the runner after the n-th delivery reached its sink but before the ledger
recorded it; `delivered:<n>` right after the n-th was recorded. The job server (a thread of
this process) and moto's S3 server (versioned bucket: every write is kept) survive.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.outputs import files_under, s3_server
from tests.support.runs import run_cli

boto3 = pytest.importorskip("boto3")

KEY_ID = "AKIDCRASHTEST"
SECRET = "crash-secret-0f9e8d7c"
LANGS = ("en", "fr", "de")

MANIFEST = """\
version = 1
name = "crash"
[jobs.write]
function = "exec/write"
matrix = { lang = ["en", "fr", "de"] }
inputs = { text = "hello ${{ matrix.lang }}", name = "greeting.txt" }

[[sinks]]
use = "local"
path = "out/{job}"

[[sinks]]
use = "s3"
bucket = "BUCKET"
prefix = "crash/{key}/"
region = "us-east-1"
endpoint_url = "${{ env.S3_ENDPOINT }}"
access_key_id = "${{ env.S3_KEY_ID }}"
secret_access_key = "${{ env.S3_SECRET }}"
"""
DELIVERIES = len(LANGS) * 2 * 2  # instances x outputs x sinks


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


def _s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def _run(manifest: Path, server: Any, endpoint: str, *args: str, crash: str | None = None) -> Any:
    env = {
        "S3_ENDPOINT": endpoint,
        "S3_KEY_ID": KEY_ID,
        "S3_SECRET": SECRET,
        "SIEVEFILE_LOAD_PLUGINS": "plugins.local_sink,plugins.s3",
    }
    return run_cli(manifest, server, *args, crash=crash, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("crashes", [["deliver:1"], ["delivered:5"], ["deliver:3", "deliver:2"]])
def test_a_run_killed_while_delivering_resumes_and_delivers_the_rest(
    crashes: list[str], exec_server: Any, endpoint: str, tmp_path: Path
) -> None:
    s3 = _s3(endpoint)
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(MANIFEST.replace("BUCKET", bucket))

    killed = _run(manifest, exec_server, endpoint, crash=crashes[0])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    for crash in crashes[1:]:
        again = _run(manifest, exec_server, endpoint, "--resume", crash=crash)
        assert again.returncode == -signal.SIGKILL, again.stderr
    resumed = _run(manifest, exec_server, endpoint, "--resume")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    summary = json.loads(resumed.stdout)
    assert summary["deliveries"]["failed"] == 0
    assert exec_server.backend.stats.pushes == len(LANGS)  # the jobs were never pushed again

    expected_files = {
        Path("write") / f"lang={lang}" / name for lang in LANGS
        for name in ("output_0.txt", "output_1.json")
    }  # fmt: skip
    out = tmp_path / "out"
    assert {path.relative_to(out) for path in files_under(out)} == expected_files
    for lang in LANGS:
        assert (out / "write" / f"lang={lang}" / "output_0.txt").read_text() == f"hello {lang}"

    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    keys = {version["Key"] for version in versions}
    assert keys == {
        f"crash/write[lang={lang}]/{name}" for lang in LANGS
        for name in ("output_0.txt", "output_1.json")
    }  # fmt: skip
    for key in keys:  # written once, or again with the same bytes
        etags = {v["ETag"] for v in versions if v["Key"] == key}
        assert len(etags) == 1, key
    body = s3.get_object(Bucket=bucket, Key="crash/write[lang=de]/output_0.txt")["Body"].read()
    assert body == b"hello de"
    assert SECRET not in resumed.stdout + resumed.stderr
    for path in files_under(tmp_path):  # the ledger, run records, delivered files
        assert SECRET.encode() not in path.read_bytes(), path
