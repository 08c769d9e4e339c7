"""The live service's dialect over real sockets: the local backend sends the SDK's shapes
(`Literal` + `schema.options`, pickled defaults), and the commands read them: a bad choice is
refused before any push, `schemas show` prints decoded defaults, a pinned version is checked
against the versions endpoint, and everything falls back quietly where an endpoint is absent
(a fault proxy in front of the server answers 404 or 405 for it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from runner.cli import cli
from runner.schemas import derive_schema
from tests.schemas.conftest import PUBLIC_FUNCTIONS, PUBLIC_PLUGIN
from tests.support.faultproxy import FaultProxy, Respond, Transform

DEMUCS = """version = 1

[jobs.stems]
function = "sieve/demucs"
inputs = { file = { url = "https://example.com/song.wav" }, model = "htdemucs_f" }
"""

TRANSLATE = """version = 1

[jobs.hello]
function = "{function}"
inputs = {{ text = "two", target = {target} }}
"""


def invoke(*args: str) -> Result:
    # No configured Sieve service: only the flags choose the backend.
    env = {"SIEVE_API_KEY": "", "SIEVE_API_URL": "", "HOME": "/nonexistent"}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def proxy(public_server: Any) -> Iterator[FaultProxy]:
    with FaultProxy(public_server.url) as started:
        yield started


def _translate_version(server: Any) -> str:
    return str(server.backend.registry.get("sieve", "translate").version_id)


def _newer_latest(body: Any) -> Any:
    """The function as the service describes it after a new deployment: another latest id
    (the versions endpoint still has the old version)."""
    if isinstance(body, dict) and isinstance(body.get("latest_version"), dict):
        body["latest_version"]["id"] = "f00dcafe-0000-4000-8000-000000000001"
    return body


def test_validate_and_run_refuse_a_bad_choice_before_any_push(
    tmp_path: Path, public_server: Any
) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(DEMUCS)
    expected = (
        f"{manifest}:5:61: job 'stems', inputs.model: expected one of \"htdemucs\", "
        '"htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx", "mdx_extra", "mdx_q", '
        '"mdx_extra_q", got "htdemucs_f" '
        "(did you mean 'htdemucs_ft', 'htdemucs' or 'htdemucs_6s'?)"
    )
    result = invoke("validate", str(manifest), "--api-url", public_server.url)
    assert result.exit_code == 1, result.output
    assert expected in result.output.splitlines()
    result = invoke("run", str(manifest), "--api-url", public_server.url)
    assert result.exit_code == 1, result.output
    assert f"  {expected}" in result.output.splitlines()
    assert public_server.backend.stats.pushes == 0


def test_schemas_show_prints_decoded_defaults_from_wherever_it_starts(
    tmp_path: Path, public_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case: a folder without schemas/ (and not a repository), a manifest below it.
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.toml").write_text(DEMUCS)
    monkeypatch.chdir(tmp_path)
    metadata = httpx.get(f"{public_server.url}/v2/functions/sieve/demucs").json()
    model = next(i for i in metadata["latest_version"]["inputs"] if i["name"] == "model")
    assert model["type"] == "Literal"
    assert model["data"] == "gAWVDwAAAAAAAACMC2h0ZGVtdWNzX2Z0lC4="  # what the live service sends
    assert invoke("lock", "manifests/m.toml", "--api-url", public_server.url).exit_code == 0
    for folder in (tmp_path, tmp_path / "manifests"):
        monkeypatch.chdir(folder)
        result = invoke("schemas", "show", "sieve/demucs")
        assert result.exit_code == 0, result.output
        rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
                if line.count("│") >= 4}  # fmt: skip
        assert '"htdemucs_ft"' in rows["model"]
        assert "choice" in rows["model"]
        assert '"None"' in rows["two_stems"]
        assert "0.25" in rows["overlap"]
        assert "gAWV" not in result.output
        assert "unchecked" not in result.output


@pytest.mark.parametrize("slug", PUBLIC_FUNCTIONS)
def test_pickled_and_plain_json_defaults_derive_the_same_schema(
    start_local_server: Any, slug: str
) -> None:
    schemas = []
    for defaults in ("pickle", "json"):
        server = start_local_server(
            builtins=(), plugins=[PUBLIC_PLUGIN], api_key=None, defaults=defaults
        )
        schemas.append(derive_schema(httpx.get(f"{server.url}/v2/functions/{slug}").json()))
    pickled, plain = schemas
    assert pickled.digest == plain.digest
    assert pickled.warnings == ()


def test_a_pinned_version_is_checked_against_the_versions_endpoint(
    tmp_path: Path, public_server: Any, proxy: FaultProxy
) -> None:
    version = _translate_version(public_server)
    proxy.add_fault(Transform(body=_newer_latest), path="/v2/functions/sieve/translate", times=99)
    manifest = tmp_path / "m.toml"
    manifest.write_text(TRANSLATE.format(function=f"sieve/translate:{version}", target=3))
    result = invoke("validate", str(manifest), "--api-url", proxy.url)
    assert result.exit_code == 1, result.output
    assert f"{manifest}:5:26: job 'hello', inputs.target: expected a string, got 3" in (
        result.output.splitlines()
    )
    asked = [seen.path for seen in proxy.log]
    assert f"/v2/functions/sieve/translate/versions/{version}" in asked

    manifest.write_text(TRANSLATE.format(function=f"sieve/translate:{version}", target='"fr"'))
    result = invoke("validate", str(manifest), "--api-url", proxy.url)
    assert result.exit_code == 0, result.output


def test_a_locked_version_is_fetched_from_the_versions_endpoint(
    tmp_path: Path, public_server: Any, proxy: FaultProxy
) -> None:
    (tmp_path / ".git").mkdir()
    manifest = tmp_path / "m.toml"
    manifest.write_text(TRANSLATE.format(function="sieve/translate", target='"fr"'))
    assert invoke("lock", str(manifest), "--api-url", public_server.url).exit_code == 0
    for cached in (tmp_path / "schemas").rglob("*.json"):
        cached.unlink()
    proxy.add_fault(Transform(body=_newer_latest), path="/v2/functions/sieve/translate", times=99)
    result = invoke("schemas", "pull", str(manifest), "--api-url", proxy.url)
    assert result.exit_code == 0, result.output
    version = _translate_version(public_server)
    assert result.stdout.splitlines() == [f"sieve/translate:{version}"]
    assert (
        tmp_path / "schemas" / "functions" / "sieve" / "translate" / f"{version}.json"
    ).is_file()


def test_a_pinned_version_the_service_no_longer_has_is_a_located_error(
    tmp_path: Path, public_server: Any
) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(TRANSLATE.format(function="sieve/translate:gone-version", target='"fr"'))
    result = invoke("validate", str(manifest), "--api-url", public_server.url)
    assert result.exit_code == 1
    latest = _translate_version(public_server)
    assert result.output.splitlines()[0] == (
        f"{manifest}:4:12: function: sieve/translate is pinned at version gone-version, which "
        f"the Sieve API at {public_server.url} no longer has (it serves {latest} now); pin a "
        f"version it has, such as `sieve/translate:{latest}`, or remove the pin"
    )


@pytest.mark.parametrize(
    "absent",
    [Respond(404, {"detail": "Not Found"}), Respond(405, {"detail": "Method Not Allowed"})],
)
def test_without_the_versions_endpoint_only_the_latest_is_known(
    tmp_path: Path, public_server: Any, proxy: FaultProxy, absent: Respond
) -> None:
    proxy.add_fault(absent, path="/v2/functions/sieve/translate/versions", times=99)
    manifest = tmp_path / "m.toml"
    manifest.write_text(TRANSLATE.format(function="sieve/translate:gone-version", target='"fr"'))
    result = invoke("validate", str(manifest), "--api-url", proxy.url)
    assert result.exit_code == 1
    latest = _translate_version(public_server)
    assert result.output.splitlines()[0] == (
        f"{manifest}:4:12: function: sieve/translate is pinned at version gone-version, which "
        f"is not in the schema cache, and the Sieve API at {proxy.url} now serves {latest} (it "
        f"only describes its latest version); pin `sieve/translate:{latest}`"
    )
    # The latest version itself never needs the versions endpoint.
    manifest.write_text(TRANSLATE.format(function=f"sieve/translate:{latest}", target='"fr"'))
    assert invoke("validate", str(manifest), "--api-url", proxy.url).exit_code == 0


PLAIN = """version = 1
{run}
[jobs.hello]
function = "sieve/translate"
inputs = {{ text = "two" }}
"""


def test_plan_shows_the_organisations_concurrency(tmp_path: Path, public_server: Any) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(PLAIN.format(run=""))
    result = invoke("plan", str(manifest), "--api-url", public_server.url)
    assert result.exit_code == 0, result.output
    # The fixture's server runs 2 workers: its max_concurrency.
    assert result.output.splitlines()[-1] == (
        "service: max_concurrency 2 (0 processing, 0 queued); this run: max_parallel 2"
    )
    result = invoke("plan", str(manifest), "--api-url", public_server.url, "--json")
    document = json.loads(result.output)
    assert document["run"]["max_parallel"] == 2
    assert document["concurrency"] == {
        "max_concurrency": 2,
        "num_current": 0,
        "num_processing": 0,
        "num_queued": 0,
        "num_limited": 0,
    }
    # A max_parallel the manifest sets is kept.
    manifest.write_text(PLAIN.format(run="\n[run]\nmax_parallel = 5\n"))
    result = invoke("plan", str(manifest), "--api-url", public_server.url, "--json")
    assert json.loads(result.output)["run"]["max_parallel"] == 5


@pytest.mark.parametrize("status", [404, 405])
def test_plan_without_the_concurrency_endpoint_changes_nothing(
    tmp_path: Path, proxy: FaultProxy, status: int
) -> None:
    proxy.add_fault(Respond(status, {"detail": "Not Found"}), path="/v2/user/concurrency")
    manifest = tmp_path / "m.toml"
    manifest.write_text(PLAIN.format(run=""))
    offline = invoke("plan", str(manifest))
    result = invoke("plan", str(manifest), "--api-url", proxy.url)
    assert result.exit_code == 0, result.output
    assert result.output == offline.output
    assert [seen.path for seen in proxy.log] == ["/v2/user/concurrency"]
    proxy.add_fault(Respond(status, {"detail": "Not Found"}), path="/v2/user/concurrency")
    document = json.loads(invoke("plan", str(manifest), "--api-url", proxy.url, "--json").output)
    assert document["concurrency"] is None
    assert document["run"]["max_parallel"] == 1000
