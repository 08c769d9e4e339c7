"""Built-in plugin: the `s3` sink uploads job outputs to an S3 bucket (AWS or S3-compatible).

```toml
[[sinks]]
use = "s3"
bucket = "media-results"
prefix = "podcast/{run}/"                  # default "{name}/{run}/{key}/"
endpoint_url = "${{ env.S3_ENDPOINT }}"    # MinIO, R2, ...; omit for AWS
```

An output's key is the rendered `prefix` followed by its file name (`output_0.mp4`,
`output_1.json`), with the same naming and sanitising as the `local` sink (`plugins._sinks`):
the key depends only on the run and the output, so a redelivery overwrites the same object.
Files are streamed from the output into `upload_fileobj`, which switches to a multipart upload
above `multipart_threshold`. Credentials come from the entry or else boto3's usual chain
(environment, shared files, instance roles). boto3 is an optional dependency, imported only when
an `s3` sink is built: `pip install 'sievefile[s3]'`.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugins._sinks import PLACEHOLDERS, PathTemplate, fit, open_output, sink_label
from runner import (
    ConfigError,
    Delivery,
    DeliveryError,
    PluginContext,
    RegisterSink,
    SinkKind,
    hookimpl,
)

KIND = "s3"
#: S3 error codes that a later try can get past, whatever their HTTP status (some are 4xx):
#: timeouts, throttling, a conflicting operation still running, credentials that refresh.
_TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "OperationAborted",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)
DEFAULT_PREFIX = "{name}/{run}/{key}/"
_MIB = 1024 * 1024
#: S3 refuses parts under 5 MiB (but the last), so no smaller threshold can work.
MIN_MULTIPART_THRESHOLD = 5 * _MIB
DEFAULT_MULTIPART_THRESHOLD = 8 * _MIB
# Parts held in memory at once per upload: the stream is not seekable, so each part in flight
# is a buffer, and several deliveries may upload at the same time.
_UPLOAD_THREADS = 4
#: S3's limit on a key's length, in bytes of UTF-8.
_MAX_KEY_BYTES = 1024
_CREDENTIALS = ("access_key_id", "secret_access_key", "session_token")

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["bucket"],
    "properties": {
        "bucket": {"type": "string", "minLength": 1, "description": "The bucket's name."},
        "prefix": {
            "type": "string",
            "default": DEFAULT_PREFIX,
            "description": "Key prefix (a folder unless it contains {output}); placeholders: "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
        },
        "endpoint_url": {
            "type": "string",
            "minLength": 1,
            "description": "An S3-compatible service's URL; omit for AWS.",
        },
        "region": {"type": "string", "minLength": 1},
        "access_key_id": {"type": "string", "minLength": 1},
        "secret_access_key": {"type": "string", "minLength": 1},
        "session_token": {"type": "string", "minLength": 1},
        "addressing_style": {
            "enum": ["auto", "path", "virtual"],
            "description": "Bucket in the path or the host name; default 'path' with an "
            "endpoint_url (what most S3-compatible services need), else 'auto'.",
        },
        "multipart_threshold": {
            "type": "integer",
            "minimum": MIN_MULTIPART_THRESHOLD,
            "default": DEFAULT_MULTIPART_THRESHOLD,
            "description": "Files of at least this many bytes go up in parts of this size.",
        },
    },
    "dependentRequired": {
        "access_key_id": ["secret_access_key"],
        "secret_access_key": ["access_key_id"],
        "session_token": ["access_key_id", "secret_access_key"],
    },
}


@dataclass(frozen=True)
class S3Sink:
    """Uploads each output to `bucket` under the key its template renders."""

    client: Any
    transfer: Any
    bucket: str
    template: PathTemplate
    label: str
    secrets: frozenset[str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: PluginContext) -> S3Sink:
        """An S3Sink for one `[[sinks]]` entry; ConfigError for a bad prefix or missing boto3."""
        label = sink_label(KIND, context)
        template = PathTemplate.parse(
            str(config.get("prefix", DEFAULT_PREFIX)),
            where=f"sinks[{context.index}].prefix",
            anchored=False,
        )
        client, transfer = _client(config, label)
        secrets = context.secrets | {str(config[key]) for key in _CREDENTIALS if key in config}
        return cls(client, transfer, str(config["bucket"]), template, label, secrets)

    def key(self, delivery: Delivery) -> str:
        """The object key of `delivery`: never a leading `/`, an empty or a `..` segment, and
        within S3's 1024 bytes (the folders cut, with a hash, to make room for the name)."""
        *folders, name = self.template.render(delivery)
        if not folders:
            return name
        room = _MAX_KEY_BYTES - len(name.encode("utf-8")) - 1
        return f"{fit('/'.join(folders), room)}/{name}"

    def deliver(self, delivery: Delivery) -> str:
        """Upload one output; returns `s3://bucket/key`."""
        # botocore is there: the factory imported boto3 (an optional dependency) to build us
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        key = self.key(delivery)
        location = f"s3://{self.bucket}/{key}"
        extra = {"ContentType": _content_type(key)}
        try:
            with open_output(delivery.output) as source:
                self.client.upload_fileobj(
                    source, self.bucket, key, ExtraArgs=extra, Config=self.transfer
                )
        except (BotoCoreError, ClientError) as error:
            message = _mask(
                f"{self.label}: cannot upload to {location}: {_describe(error)}", self.secrets
            )
            if isinstance(error, ClientError):  # S3 answered: a missing bucket, a bad key, ...
                answer = error.response.get("ResponseMetadata", {})
                status = int(answer.get("HTTPStatusCode") or 500)
                if error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES:
                    status = 503  # what they mean, whatever status S3 sent them with
                raise DeliveryError.for_http_answer(
                    message, status, answer.get("HTTPHeaders", {}).get("retry-after")
                ) from error
            # without credentials no later try can sign its request
            raise DeliveryError(message, permanent=isinstance(error, NoCredentialsError)) from error
        return location


def _client(config: Mapping[str, Any], label: str) -> tuple[Any, Any]:
    """A boto3 S3 client and TransferConfig for `config`, boto3 imported only now."""
    try:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config
    except ImportError:
        raise ConfigError(
            f"{label}: the s3 sink needs boto3, which is not installed: pip install 'sievefile[s3]'"
        ) from None
    endpoint = config.get("endpoint_url")
    style = config.get("addressing_style", "path" if endpoint else "auto")
    session = boto3.session.Session(
        aws_access_key_id=config.get("access_key_id"),
        aws_secret_access_key=config.get("secret_access_key"),
        aws_session_token=config.get("session_token"),
        region_name=config.get("region"),
    )
    client = session.client(
        "s3",
        endpoint_url=endpoint,
        # sievefile retries a failed delivery with backoff; boto3 retrying too would multiply
        # the attempts and hide a dead endpoint for minutes
        config=Config(
            s3={"addressing_style": style},
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )
    threshold = int(config.get("multipart_threshold", DEFAULT_MULTIPART_THRESHOLD))
    transfer = TransferConfig(
        multipart_threshold=threshold,
        multipart_chunksize=threshold,
        max_concurrency=_UPLOAD_THREADS,
    )
    return client, transfer


def _content_type(key: str) -> str:
    if key.endswith(".json"):
        return "application/json"
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _describe(error: Exception) -> str:
    """One line for a boto error: `NoSuchBucket: The specified bucket does not exist`."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "") or str(error)
        return f"{code}: {message}" if code else message
    if type(error).__name__ == "NoCredentialsError":
        return "no AWS credentials: set access_key_id and secret_access_key, or AWS_* variables"
    return " ".join(str(error).split())


def _mask(text: str, secrets: frozenset[str]) -> str:
    """`text` with each secret replaced by `***` (longest first: no tail of one is left)."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _destination(config: Mapping[str, Any]) -> str:
    return f"s3://{config['bucket']}/{config.get('prefix', DEFAULT_PREFIX)}"


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register(
        SinkKind(
            name=KIND,
            config_schema=CONFIG_SCHEMA,
            factory=S3Sink.from_config,
            description="Upload outputs to an S3 bucket (AWS or S3-compatible; needs boto3).",
            destination=_destination,
        )
    )
