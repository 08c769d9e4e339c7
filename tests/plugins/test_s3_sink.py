"""The `s3` sink against a real S3 server (moto's server mode on 127.0.0.1): keys, bytes,
multipart uploads, redelivery to the same key, hostile names, and the errors a user can hit."""

from __future__ import annotations

import hashlib
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins._sinks import PathTemplate
from plugins.s3 import MIN_MULTIPART_THRESHOLD, S3Sink
from runner import ConfigError, DeliveryError, OutputRecord, PluginContext
from runner.plugins import build_plugin_manager, sink_kinds
from tests.support.outputs import (
    HOSTILE_NAMES,
    disk_opener,
    file_output,
    hostile_delivery,
    http_opener,
    json_output,
    make_delivery,
    s3_server,
    serve_directory,
    serve_http,
)
from tests.support.ports import free_port

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

RUN = "20261202-140000-abcd"
ACCESS_KEY = "AKIDTESTSIEVEFILE"
SECRET_KEY = "not-a-real-secret-9f8e7d"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


@pytest.fixture
def s3(endpoint: str) -> Any:
    """A plain boto3 client of the server, to look at what the sink stored."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"sievefile-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def s3_sink(
    endpoint: str,
    bucket: str,
    *,
    index: int = 0,
    secrets: frozenset[str] = frozenset(),
    **extra: Any,
) -> S3Sink:
    config = {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        **extra,
    }
    context = PluginContext(
        manifest=Path("sievefile.toml"), manifest_dir=Path("."), index=index, secrets=secrets
    )
    return S3Sink.from_config({k: v for k, v in config.items() if v is not None}, context)


def keys_of(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_file_and_json_outputs_land_under_the_default_prefix(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" * 1000)
    sink = s3_sink(endpoint, bucket)
    with serve_directory(tmp_path) as base:
        url = f"{base}/clip.mp4"
        video = sink.deliver(make_delivery(file_output(0, url, http_opener(url))))
    data = {"text": "grüße"}
    text = sink.deliver(make_delivery(json_output(1, data)))

    prefix = f"podcast/{RUN}/transcribe/"
    assert (video, text) == (
        f"s3://{bucket}/{prefix}output_0.mp4",
        f"s3://{bucket}/{prefix}output_1.json",
    )
    assert keys_of(s3, bucket) == [f"{prefix}output_0.mp4", f"{prefix}output_1.json"]
    stored = s3.get_object(Bucket=bucket, Key=f"{prefix}output_0.mp4")
    assert stored["Body"].read() == (tmp_path / "clip.mp4").read_bytes()
    assert stored["ContentType"] == "video/mp4"
    stored = s3.get_object(Bucket=bucket, Key=f"{prefix}output_1.json")
    assert stored["ContentType"] == "application/json"
    assert stored["Body"].read().decode("utf-8") == '{\n  "text": "grüße"\n}\n'


def test_a_prefix_naming_the_output_is_the_whole_key(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    output = file_output(3, "file:///tmp/a.wav", disk_opener(tmp_path / "a.wav"))
    sink = s3_sink(endpoint, bucket, prefix="/audio//{job}-{output}")
    delivered = sink.deliver(make_delivery(output, instance="lang=fr"))
    assert delivered == f"s3://{bucket}/audio/lang=fr/transcribe-output_3.wav"
    assert keys_of(s3, bucket) == ["audio/lang=fr/transcribe-output_3.wav"]


def test_a_large_file_goes_up_in_parts_and_round_trips(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    payload = random.Random(10).randbytes(12 * 1024 * 1024 + 123)
    (tmp_path / "big.mkv").write_bytes(payload)
    sink = s3_sink(endpoint, bucket, multipart_threshold=MIN_MULTIPART_THRESHOLD)
    with serve_directory(tmp_path) as base:
        url = f"{base}/big.mkv"
        location = sink.deliver(make_delivery(file_output(0, url, http_opener(url))))
    key = location.removeprefix(f"s3://{bucket}/")
    stored = s3.get_object(Bucket=bucket, Key=key)
    # S3 gives a multipart object the ETag `"<md5 of the parts' md5s>-<number of parts>"`
    assert stored["ETag"].strip('"').endswith("-3")
    assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(payload).digest()


def test_a_small_file_goes_up_in_one_request(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "small.mp4").write_bytes(b"x" * 1024)
    output = file_output(0, "file:///small.mp4", disk_opener(tmp_path / "small.mp4"))
    location = s3_sink(endpoint, bucket).deliver(make_delivery(output))
    stored = s3.head_object(Bucket=bucket, Key=location.removeprefix(f"s3://{bucket}/"))
    assert "-" not in stored["ETag"]
    assert stored["ETag"].strip('"') == hashlib.md5(b"x" * 1024).hexdigest()


def test_redelivery_overwrites_the_same_key_with_the_same_bytes(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    (tmp_path / "clip.mp4").write_bytes(b"the same take")
    output = file_output(0, "file:///clip.mp4", disk_opener(tmp_path / "clip.mp4"))
    sink = s3_sink(endpoint, bucket)
    first = sink.deliver(make_delivery(output))
    second = s3_sink(endpoint, bucket).deliver(make_delivery(output))  # a resumed run's sink
    assert first == second
    key = first.removeprefix(f"s3://{bucket}/")
    assert keys_of(s3, bucket) == [key]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [version["Key"] for version in versions] == [key, key]
    bodies = {
        s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert bodies == {b"the same take"}


def test_hostile_names_and_urls_make_no_climbing_keys(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"bytes")
    sink = s3_sink(endpoint, bucket, prefix="safe/{run}/{name}/{job}/{instance}/{function}/{key}")
    for number, hostile in enumerate(HOSTILE_NAMES):
        url = f"http://127.0.0.1/{hostile}"
        output = file_output(number, url, disk_opener(tmp_path / "clip.mp4"))
        sink.deliver(hostile_delivery(output, hostile))
    keys = keys_of(s3, bucket)
    assert len(keys) == len(HOSTILE_NAMES)
    for key in keys:
        segments = key.split("/")
        assert segments[0] == "safe"
        assert not {"", ".", ".."} & set(segments), key
        assert not {"\\", "\x00"} & set(key)
        assert len(key.encode("utf-8")) <= 1024


def test_a_missing_bucket_is_one_line_naming_the_sink_and_the_destination(endpoint: str) -> None:
    sink = s3_sink(endpoint, "no-such-bucket-here", index=2)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_delivery(json_output(0, {"a": 1})))
    assert caught.value.permanent  # S3's 404: no later try finds the bucket either
    message = str(caught.value)
    assert message.startswith("sinks[2] (s3): cannot upload to s3://no-such-bucket-here/podcast/")
    assert "NoSuchBucket" in message
    assert "\n" not in message
    assert SECRET_KEY not in message
    assert ACCESS_KEY not in message


def test_an_unreachable_endpoint_is_reported_with_secrets_masked() -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # a secret that the error would otherwise show: the configuration's endpoint
    sink = s3_sink(endpoint, "bucket", secrets=frozenset({f"127.0.0.1:{port}"}))
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_delivery(json_output(0, 1)))
    assert not caught.value.permanent  # the endpoint may be up for the next try
    message = str(caught.value)
    assert message.startswith("sinks[0] (s3): cannot upload to s3://bucket/")
    assert "***" in message
    assert f"127.0.0.1:{port}" not in message


def test_credentials_come_from_the_aws_chain_when_the_entry_has_none(
    endpoint: str, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    anonymous = s3_sink(endpoint, bucket, access_key_id=None, secret_access_key=None)
    with pytest.raises(DeliveryError, match="no AWS credentials") as caught:
        anonymous.deliver(make_delivery(json_output(0, 1)))
    assert caught.value.permanent

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    from_env = s3_sink(endpoint, bucket, access_key_id=None, secret_access_key=None)
    location = from_env.deliver(make_delivery(json_output(0, 1)))
    assert keys_of(s3, bucket) == [location.removeprefix(f"s3://{bucket}/")]


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` sees when absent
    with pytest.raises(ConfigError, match=r"sinks\[0\] \(s3\): .*pip install 'sievefile\[s3\]'"):
        s3_sink("http://127.0.0.1:9", "bucket")


def test_a_bad_prefix_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.prefix: .* '\.\.' segment"):
        s3_sink("http://127.0.0.1:9", "bucket", prefix="../{run}/")


def test_destination_and_schema_defaults() -> None:
    kind = sink_kinds(build_plugin_manager(load_entry_points=False))["s3"][0]
    assert kind.destination is not None
    assert kind.destination({"bucket": "media"}) == "s3://media/{name}/{run}/{key}/"
    assert kind.destination({"bucket": "media", "prefix": "p/{run}/"}) == "s3://media/p/{run}/"
    import jsonschema

    validator = jsonschema.Draft202012Validator(kind.config_schema)
    assert [e.validator for e in validator.iter_errors({"bucket": "b", "access_key_id": "k"})] == [
        "dependentRequired"
    ]
    assert [
        e.validator for e in validator.iter_errors({"bucket": "b", "multipart_threshold": 1})
    ] == ["minimum"]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(min_size=0, max_size=2000), min_size=6, max_size=6), url=st.text())
def test_keys_never_climb_and_fit_in_1024_bytes(values: list[str], url: str) -> None:
    # a leading and a trailing `/`: empty segments, never in a key
    template = PathTemplate.parse(
        "/{run}/{name}/{job}/{instance}/{function}/{key}/", where="t", anchored=False
    )
    sink = S3Sink(None, None, "bucket", template, "sinks[0] (s3)", frozenset())
    run, name, job, instance, key, function = values
    output = OutputRecord(index=7, data={"url": url}, url=url)
    delivery = make_delivery(
        output, run_id=run, name=name, job=job, instance=instance, key=key, function=function
    )
    object_key = sink.key(delivery)
    assert len(object_key.encode("utf-8")) <= 1024
    assert not {"", ".", ".."} & set(object_key.split("/"))
    assert object_key.split("/")[-1].startswith("output_7")


def test_an_empty_file_from_a_stream_is_an_empty_object(
    endpoint: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "empty.srt").write_bytes(b"")
    with serve_directory(tmp_path) as base:
        url = f"{base}/empty.srt"
        location = s3_sink(endpoint, bucket).deliver(
            make_delivery(file_output(0, url, http_opener(url)))
        )
    assert location.endswith("/output_0.srt")
    key = location.removeprefix(f"s3://{bucket}/")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b""


@pytest.mark.parametrize(
    ("status", "code", "headers", "permanent", "retry_after"),
    [
        (400, "RequestTimeout", {}, False, None),  # a 4xx S3 means as "try again"
        (409, "OperationAborted", {}, False, None),
        (503, "SlowDown", {"Retry-After": "3"}, False, 3.0),
        (403, "AccessDenied", {}, True, None),
        (400, "InvalidArgument", {}, True, None),
    ],
)
def test_s3s_answer_decides_whether_to_try_again(
    status: int, code: str, headers: dict[str, str], permanent: bool, retry_after: float | None
) -> None:
    """A real HTTP server on 127.0.0.1 answering every upload as S3 does when it refuses."""
    from http.server import BaseHTTPRequestHandler

    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>as S3 says it</Message><RequestId>r1</RequestId></Error>"
    ).encode()

    class Refusing(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            for name, value in {"Content-Type": "application/xml", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_http(Refusing) as url, pytest.raises(DeliveryError, match=code) as caught:
        s3_sink(url, "bucket").deliver(make_delivery(json_output(0, {"a": 1})))
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after
