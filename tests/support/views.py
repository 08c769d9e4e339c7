"""Shared by the run-view tests (tests/ui): a manifest that exercises every kind of event
(retries, a failure, a skip, a matrix, a sink, a secret) and the environment of a run."""

from __future__ import annotations

import uuid
from typing import Any

#: The value of the secret the manifest reads from the environment; never to be printed.
SECRET = f"s3cr3t-{uuid.uuid4().hex}"
SECRET_ENV = "SIEVEFILE_UI_TEST_SECRET"

MIXED = """\
version = 1
name = "mixed"

[jobs.hello]
function = "local/echo"
inputs = { value = "hello" }

[jobs.fan]
function = "exec/nap"
matrix = { i = [1, 2, 3] }
inputs = { seconds = 0.01, value = "${{ matrix.i }}" }

[jobs.flaky]
function = "exec/flaky"
retries = 1
inputs = { token = "TOKEN", failures = 1, value = "second time lucky" }

[jobs.bad]
function = "exec/fail"
inputs = { message = "boom ${{ env.SIEVEFILE_UI_TEST_SECRET }}" }

[jobs.after]
function = "local/echo"
inputs.value = "${{ jobs.bad.outputs[0] }}"

[[sinks]]
use = "local"
path = "out/{job}"
"""
#: The job instances of MIXED.
MIXED_KEYS = {"hello", "fan[i=1]", "fan[i=2]", "fan[i=3]", "flaky", "bad", "after"}


def run_env(server: Any, **extra: str) -> dict[str, str]:
    """The environment of a run against `server`, with the secret set."""
    return {
        "SIEVE_API_KEY": server.api_key,
        "SIEVE_API_URL": server.url,
        SECRET_ENV: SECRET,
        "NO_COLOR": "",
        **extra,
    }
