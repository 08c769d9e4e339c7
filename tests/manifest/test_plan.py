"""Matrix expansion, waves, run-time matrices and reference resolution (what the executor calls)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.errors import ManifestError
from runner.manifest import Manifest, Plan, build_plan
from runner.manifest.matrix import axis_labels

Load = Callable[..., Manifest]
Problems = Callable[..., list[str]]

PIPELINE = """
[vars]
episodes = ["https://example.com/a.m4a", "https://example.com/b.m4a"]
[jobs.fetch]
function = "sieve/youtube_to_mp4"
inputs = { url = "https://youtu.be/xyz", resolution = "720p" }
[jobs.transcribe]
function = "sieve/speech_transcriber"
inputs.file = "${{ jobs.fetch.outputs[0] }}"
inputs.language = "en"
[jobs.dub]
function = "sieve/dubbing"
matrix = { episode = "${{ vars.episodes }}", lang = ["spanish", "french"] }
inputs.source_file = { url = "${{ matrix.episode }}" }
inputs.target_language = "${{ matrix.lang }}"
env = { OPENAI_API_KEY = "${{ env.OPENAI_API_KEY }}" }
[jobs.summary]
function = "sieve/translate"
needs = ["dub"]
inputs.text = "Transcript: ${{ jobs.transcribe.outputs[0].text }} (${{ jobs.transcribe.id }})"
inputs.dubs = "${{ jobs.dub.outputs[0].url }}"
inputs.statuses = "${{ jobs.dub.status }}"
"""
ENV = {"OPENAI_API_KEY": "sk-very-secret"}


def finished(job_id: str, *outputs: Any) -> dict[str, Any]:
    return {"id": job_id, "status": "finished", "outputs": list(outputs)}


@pytest.fixture
def plan(load: Load) -> Plan:
    return build_plan(load(PIPELINE, environ=ENV), environ=ENV)


def test_matrix_instances_are_named_and_ordered(plan: Plan) -> None:
    keys = [instance.key for instance in plan.instances("dub")]
    assert keys == [
        "dub[episode=0,lang=spanish]",
        "dub[episode=0,lang=french]",
        "dub[episode=1,lang=spanish]",
        "dub[episode=1,lang=french]",
    ]
    assert plan.instances("dub")[3].matrix == {
        "episode": "https://example.com/b.m4a",
        "lang": "french",
    }
    assert [instance.key for instance in plan.instances("fetch")] == ["fetch"]


def test_waves_follow_dependencies_in_file_order(plan: Plan) -> None:
    assert plan.waves == [["fetch", "dub"], ["transcribe"], ["summary"]]
    assert plan.dependencies("summary") == ("dub", "transcribe")
    assert plan.dependents("fetch") == ("transcribe",)
    assert plan.instance_count() == 7


def test_static_resolution_shows_placeholders_and_no_secret(plan: Plan) -> None:
    dub = plan.resolve_static(plan.instances("dub")[1])
    assert dub.inputs == {
        "source_file": {"url": "https://example.com/a.m4a"},
        "target_language": "french",
    }
    assert dub.env == {"OPENAI_API_KEY": "${{ env.OPENAI_API_KEY }}"}
    summary = plan.resolve_static(plan.instances("summary")[0])
    assert summary.inputs["text"] == (
        "Transcript: ${{ jobs.transcribe.outputs[0].text }} (${{ jobs.transcribe.id }})"
    )
    assert "sk-very-secret" not in repr(plan.resolve_static(plan.instances("dub")[0]))


def test_run_time_resolution_uses_upstream_results(plan: Plan) -> None:
    results: dict[str, Any] = {
        "fetch": finished("j1", {"url": "https://cdn/video.mp4"}),
        "transcribe": finished("j2", {"text": "hello", "segments": []}),
    }
    for number, instance in enumerate(plan.instances("dub")):
        results[instance.key] = finished(f"d{number}", {"url": f"https://cdn/dub{number}.mp3"})
    transcribe = plan.resolve(plan.instances("transcribe")[0], results)
    # a whole-string reference keeps the value's type: the file object itself
    assert transcribe.inputs == {"file": {"url": "https://cdn/video.mp4"}, "language": "en"}
    summary = plan.resolve(plan.instances("summary")[0], results)
    assert summary.inputs == {
        "text": "Transcript: hello (j2)",
        # a reference to a matrix job is the list over its instances, in matrix order
        "dubs": [f"https://cdn/dub{number}.mp3" for number in range(4)],
        "statuses": ["finished"] * 4,
    }


def test_env_values_are_resolved_and_reported_as_secrets(plan: Plan) -> None:
    dub = plan.resolve(plan.instances("dub")[0], {})
    assert dub.env == {"OPENAI_API_KEY": "sk-very-secret"}
    assert "sk-very-secret" in dub.secrets
    assert dub.secrets.mask(f"pushing with {dub.env}") == "pushing with {'OPENAI_API_KEY': '***'}"
    assert "sk-very-secret" not in repr(dub.secrets)


def test_missing_upstream_result_is_a_located_error(plan: Plan) -> None:
    with pytest.raises(ManifestError) as caught:
        plan.resolve(plan.instances("transcribe")[0], {})
    message = str(caught.value)
    assert message.endswith(
        "job 'transcribe', inputs.file: ${{ jobs.fetch.outputs[0] }}: job 'fetch' has no "
        "result: it has not finished"
    )
    assert ":9:15:" in message


def test_output_index_and_key_errors_name_what_exists(plan: Plan) -> None:
    results = {"fetch": finished("j1")}
    with pytest.raises(ManifestError, match=r"jobs.fetch.outputs has 0 items: index \[0\] is out"):
        plan.resolve(plan.instances("transcribe")[0], results)
    results = {"transcribe": finished("j2", {"txt": "hi"})}
    with pytest.raises(ManifestError) as caught:
        plan.resolve(plan.instances("summary")[0], results)
    assert str(caught.value).endswith(
        "job 'summary', inputs.text: ${{ jobs.transcribe.outputs[0].text }}: "
        "jobs.transcribe.outputs[0] has no key 'text' (did you mean 'txt'?)"
    )
    results = {"transcribe": finished("j2", {"words": []})}
    with pytest.raises(ManifestError, match=r"has no key 'text' \(keys: 'words'\)"):
        plan.resolve(plan.instances("summary")[0], results)


def test_missing_env_at_run_time_is_a_located_error(load: Load) -> None:
    manifest = load(PIPELINE, environ=ENV)
    plan = build_plan(manifest, environ={})
    with pytest.raises(ManifestError, match="environment variable 'OPENAI_API_KEY' is not set"):
        plan.resolve(plan.instances("dub")[0], {})


RUNTIME = """
[jobs.split]
function = "sieve/pyscenedetect"
inputs.video = { url = "https://example.com/v.mp4" }
[jobs.clips]
function = "sieve/speech_transcriber"
matrix = { clip = "${{ jobs.split.outputs }}", mode = ["fast", "slow"] }
max_instances = 6
inputs.file = "${{ matrix.clip }}"
inputs.mode = "${{ matrix.mode }}"
[jobs.report]
function = "sieve/translate"
inputs.text = "${{ jobs.clips.outputs[0] }}"
"""


def test_run_time_matrix_expands_from_upstream_outputs(load: Load) -> None:
    plan = build_plan(load(RUNTIME))
    assert not plan.is_expanded("clips")
    with pytest.raises(KeyError, match="run-time matrix"):
        plan.instances("clips")
    pending = plan.pending_instance("clips")
    assert pending.key == "clips[clip=*,mode=*]"
    assert plan.resolve_static(pending).inputs == {
        "file": "${{ matrix.clip }}",
        "mode": "${{ matrix.mode }}",
    }
    results: dict[str, Any] = {
        "split": finished("s", {"url": "https://c/1"}, {"url": "https://c/2"})
    }
    instances = plan.expand("clips", results)
    assert [instance.key for instance in instances] == [
        "clips[clip=0,mode=fast]",
        "clips[clip=0,mode=slow]",
        "clips[clip=1,mode=fast]",
        "clips[clip=1,mode=slow]",
    ]
    assert plan.resolve(instances[2], results).inputs == {
        "file": {"url": "https://c/2"},
        "mode": "fast",
    }
    for number, instance in enumerate(instances):
        results[instance.key] = finished(f"c{number}", number)
    assert plan.resolve(plan.instances("report")[0], results).inputs == {"text": [0, 1, 2, 3]}


def test_run_time_matrix_guards(load: Load) -> None:
    plan = build_plan(load(RUNTIME))
    too_many = {"split": finished("s", *range(4))}
    with pytest.raises(ManifestError) as caught:
        plan.expand("clips", too_many)
    assert "job 'clips', matrix: the matrix expands to 8 instances (4 x 2), more than " in str(
        caught.value
    )
    not_a_list = {"split": {"id": "s", "status": "finished", "outputs": "oops"}}
    with pytest.raises(ManifestError, match=r"jobs\.split\.outputs is not a list of outputs"):
        plan.expand("clips", not_a_list)


def test_a_matrix_axis_over_a_matrix_job_is_a_list_per_instance(load: Load) -> None:
    manifest = load(
        """
        [jobs.download]
        function = "sieve/youtube_to_mp4"
        matrix = { url = ["https://y/1", "https://y/2", "https://y/3"] }
        inputs.url = "${{ matrix.url }}"
        [jobs.transcribe]
        function = "sieve/speech_transcriber"
        matrix = { file = "${{ jobs.download.outputs[0] }}" }
        inputs.file = "${{ matrix.file }}"
        """
    )
    plan = build_plan(manifest)
    results = {
        instance.key: finished(instance.key, {"url": f"https://f/{number}"})
        for number, instance in enumerate(plan.instances("download"))
    }
    assert [instance.key for instance in plan.expand("transcribe", results)] == [
        "transcribe[file=0]",
        "transcribe[file=1]",
        "transcribe[file=2]",
    ]


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        (["spanish", "french"], ["spanish", "french"]),
        ([720, 1080, True], ["720", "1080", "true"]),
        (["https://a/b", "x"], ["0", "1"]),
        (["1", 1], ["0", "1"]),
        ([{"a": 1}], ["0"]),
    ],
)
def test_labels_are_readable_and_unique(values: list[Any], labels: list[str]) -> None:
    assert axis_labels(values) == labels


def test_matrix_exclude_leaves_out_matching_combinations(load: Load) -> None:
    manifest = load(
        """
        [vars]
        skip = "de"
        [jobs.t]
        function = "sieve/translate"
        matrix.lang = ["fr", "de", "es"]
        matrix.size = [1, 2]
        matrix.exclude = [{ lang = "${{ vars.skip }}" }, { lang = "es", size = 2 }]
        inputs.target = "${{ matrix.lang }}"
        """
    )
    plan = build_plan(manifest)
    instances = plan.instances("t")
    assert [instance.key for instance in instances] == [
        "t[lang=fr,size=1]",
        "t[lang=fr,size=2]",
        "t[lang=es,size=1]",
    ]
    assert [instance.index for instance in instances] == [0, 1, 2]


def test_matrix_exclude_with_unknown_axis_is_located(problems: Problems) -> None:
    assert problems(
        """
        [jobs.t]
        function = "sieve/translate"
        matrix = { lang = ["fr"], exclude = [{ lnag = "fr" }] }
        """
    ) == [
        "m.toml:4:40: job 't', matrix.exclude[0].lnag: the matrix has no axis 'lnag' "
        "(did you mean 'lang'?) (axes: lang)"
    ]


def test_run_time_inputs_are_those_with_upstream_env_or_run_time_axis_references(
    load: Load,
) -> None:
    manifest = load(RUNTIME)
    # the run-time matrix's stand-in instance has no values for its static axis either
    assert manifest.jobs["clips"].run_time_inputs == {"file", "mode"}
    assert manifest.jobs["report"].run_time_inputs == {"text"}
    assert manifest.jobs["split"].run_time_inputs == frozenset()
    manifest = load(PIPELINE, environ=ENV)
    assert manifest.jobs["dub"].run_time_inputs == frozenset()
    assert manifest.jobs["summary"].run_time_inputs == {"text", "dubs", "statuses"}


def test_resolved_values_can_be_changed_without_touching_the_manifest(plan: Plan) -> None:
    fetch = plan.instances("fetch")[0]
    first = plan.resolve(fetch, {})
    first.inputs["url"] = "changed"
    assert plan.resolve(fetch, {}).inputs["url"] == "https://youtu.be/xyz"
    results = {"fetch": finished("j1", {"url": "https://cdn/video.mp4"})}
    transcribe = plan.resolve(plan.instances("transcribe")[0], results)
    transcribe.inputs["file"]["url"] = "changed"
    assert results["fetch"]["outputs"][0] == {"url": "https://cdn/video.mp4"}


def test_the_plan_names_its_sinks_and_notifiers_but_not_their_settings(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        'version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs = { value = 1 }\n'
        '[jobs.b]\nfunction = "local/echo"\ninputs = { value = 2 }\n'
        '[[sinks]]\nuse = "local"\npath = "out/{job}"\njobs = ["b"]\n'
        '[[sinks]]\nuse = "local"\npath = "all/{job}"\n'
        '[[notify]]\nuse = "webhook"\nurl = "https://hooks.example.com/t0ken-in-the-path"\n'
        '[[notify]]\nuse = "webhook"\nurl = "https://hooks.example.com/x"\n'
        'on = ["run.started", "job.error"]\n'
    )
    text = CliRunner().invoke(cli, ["plan", str(manifest)])
    assert text.exit_code == 0, text.output
    assert "outputs\n  sinks[0] (local): b\n  sinks[1] (local): every job\n" in text.output
    assert "notifications\n  notify[0] (webhook): on run.finished\n" in text.output
    assert "notify[1] (webhook): on run.started, job.error" in text.output
    assert "t0ken" not in text.output
    document = json.loads(CliRunner().invoke(cli, ["plan", str(manifest), "--json"]).output)
    assert document["sinks"] == [
        {"index": 0, "use": "local", "jobs": ["b"]},
        {"index": 1, "use": "local", "jobs": []},
    ]
    assert document["notify"][1] == {
        "index": 1,
        "use": "webhook",
        "on": ["run.started", "job.error"],
    }
    assert "t0ken" not in json.dumps(document)
