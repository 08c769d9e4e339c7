"""The built-in `local` and `s3` sinks in a real run: a local server runs the jobs, moto's S3
server on 127.0.0.1 takes the objects, the ledger records where each output went."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.execute.delivery import DeliveryPolicy
from runner.execute.ledger import Ledger
from runner.plugins import build_plugin_manager
from tests.support.outputs import s3_server

boto3 = pytest.importorskip("boto3")

KEY_ID = "AKIDSIEVEFILERUN"
SECRET = "run-secret-5b4a3c2d1e"

MANIFEST = """
version = 1
name = "sinks"

[jobs.write]
function = "exec/write"
matrix = { lang = ["en", "fr"] }
inputs = { text = "hello ${{ matrix.lang }}", name = "greeting.txt" }

[[sinks]]
use = "local"
path = "out/{run}/{job}"

[[sinks]]
use = "s3"
bucket = "BUCKET"
region = "us-east-1"
endpoint_url = "${{ env.S3_ENDPOINT }}"
access_key_id = "${{ env.S3_KEY_ID }}"
secret_access_key = "${{ env.S3_SECRET }}"
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


def test_a_runs_outputs_reach_a_folder_and_a_bucket(
    run_text: Any, endpoint: str, tmp_path: Path
) -> None:
    bucket = f"run-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    s3.create_bucket(Bucket=bucket)
    environ = {"S3_ENDPOINT": endpoint, "S3_KEY_ID": KEY_ID, "S3_SECRET": SECRET}
    run = run_text(
        MANIFEST.replace("BUCKET", bucket),
        plugins=build_plugin_manager(("plugins.local_sink", "plugins.s3"), load_entry_points=False),
        environ=environ,
        delivery=DeliveryPolicy(attempts=2, base_delay=0.01, max_delay=0.01),
    )
    assert run.summary.ok
    assert run.summary.deliveries.delivered == 8  # 2 instances x 2 outputs x 2 sinks
    run_id = run.summary.run_id

    for lang in ("en", "fr"):
        folder = tmp_path / "out" / run_id / "write" / f"lang={lang}"
        assert (folder / "output_0.txt").read_text() == f"hello {lang}"
        assert json.loads((folder / "output_1.json").read_text()) == {
            "name": "greeting.txt",
            "length": 8,
        }
        prefix = f"sinks/{run_id}/write[lang={lang}]/"
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}output_0.txt")["Body"].read()
        assert body == f"hello {lang}".encode()

    ledger = Ledger.for_manifest(tmp_path / "manifest.toml")
    try:
        rows = ledger.deliveries(run_id)
    finally:
        ledger.close()
    locations = {row.location for row in rows}
    assert str(tmp_path / "out" / run_id / "write" / "lang=en" / "output_0.txt") in locations
    assert f"s3://{bucket}/sinks/{run_id}/write[lang=fr]/output_0.txt" in locations
    en_files = [r for r in rows if r.key == "write[lang=en]" and r.output == 0]
    assert {r.sha256 for r in en_files} == {hashlib.sha256(b"hello en").hexdigest()}
    shown = " ".join(event.message for event in run.events) + " ".join(map(str, locations))
    assert SECRET not in shown
