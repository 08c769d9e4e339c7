"""The deliver step of a run: sinks and notifiers from plugins, hooks, durability of deliveries.

A test plugin (`Recorder`) offers a `collect` sink that keeps what it is given (and can fail
the first N deliveries) and a `remember` notifier; runs go against a real local server.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest

from runner import (
    Delivery,
    DeliveryError,
    JobRecord,
    Notification,
    NotifierKind,
    PluginContext,
    RunInfo,
    RunResult,
    SinkKind,
    hookimpl,
)
from runner.errors import ManifestError, ValidationError
from runner.execute import ledger as states
from runner.execute.delivery import DeliveryPolicy
from runner.execute.ledger import Ledger
from runner.execute.outcome import Status
from runner.execute.records import find_record
from runner.plugins import build_plugin_manager

COLLECT_SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "fail": {"type": "integer", "minimum": 0},
        # how a failure says to go on (a DeliveryError), instead of an OSError
        "retry_after": {"type": "number"},
        "permanent": {"type": "boolean"},
    },
    "required": ["label"],
    "additionalProperties": False,
}


class Recorder:
    """A plugin: the `collect` sink and `remember` notifier, and every lifecycle hook."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: list[tuple[str, str, int, Any, bytes | None]] = []
        self.notifications: list[Notification] = []
        self.hooks: list[tuple[str, Any]] = []
        #: failures left per delivery (`label/key/output`), from the sink's `fail` setting
        self.failures: dict[str, int] = {}
        self.settings: list[Mapping[str, Any]] = []

    def make_sink(self, settings: Mapping[str, Any], context: PluginContext) -> Any:
        self.settings.append(settings)
        label = settings["label"]
        recorder = self

        class Collect:
            def deliver(self, delivery: Delivery) -> str:
                which = f"{label}/{delivery.job.key}/{delivery.output.index}"
                with recorder.lock:
                    left = recorder.failures.setdefault(which, settings.get("fail", 0))
                    if left > 0:
                        recorder.failures[which] = left - 1
                        if "retry_after" in settings or "permanent" in settings:
                            raise DeliveryError(
                                "the store said no",
                                retry_after=settings.get("retry_after"),
                                permanent=settings.get("permanent", False),
                            )
                        raise OSError("the store is down")
                content = None
                if delivery.output.is_file:
                    with delivery.output.open() as stream:
                        content = stream.read()
                with recorder.lock:
                    recorder.delivered.append(
                        (label, delivery.job.key, delivery.output.index, delivery.output.data,
                         content)
                    )  # fmt: skip
                return f"collect://{label}/{delivery.job.key}/{delivery.output.name}"

        return Collect()

    def make_notifier(self, settings: Mapping[str, Any], context: PluginContext) -> Any:
        recorder = self

        class Remember:
            def notify(self, notification: Notification) -> None:
                with recorder.lock:
                    recorder.notifications.append(notification)

        return Remember()

    @hookimpl
    def register_sinks(self, register: Any) -> None:
        register(
            SinkKind(
                "collect",
                COLLECT_SCHEMA,
                self.make_sink,
                destination=lambda settings: f"collect://{settings['label']}",
            )
        )

    @hookimpl
    def register_notifiers(self, register: Any) -> None:
        register(NotifierKind("remember", {"type": "object"}, self.make_notifier))

    @hookimpl
    def run_started(self, run: RunInfo) -> None:
        self.hooks.append(("run_started", run))

    @hookimpl
    def job_pushed(self, job: JobRecord) -> None:  # a subset of the hook's arguments
        self.hooks.append(("job_pushed", job))

    @hookimpl
    def job_finished(self, run: RunInfo, job: JobRecord) -> None:
        self.hooks.append(("job_finished", job))

    @hookimpl
    def run_finished(self, summary: RunResult) -> None:
        self.hooks.append(("run_finished", summary))

    def hook_names(self) -> list[str]:
        return [name for name, _ in self.hooks]


class Broken:
    """A plugin whose lifecycle hooks raise."""

    @hookimpl
    def job_finished(self) -> None:
        raise RuntimeError("the plugin has a bug")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def manager(recorder: Recorder) -> pluggy.PluginManager:
    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(recorder, name="recorder")
    return manager


FAST = DeliveryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)

WRITE = """
version = 1
[jobs.write]
function = "exec/write"
inputs = { text = "hello sinks", name = "greeting.txt" }
[jobs.echo]
function = "local/echo"
inputs.value = "${{ jobs.write.outputs[1] }}"

[[sinks]]
use = "collect"
label = "all"

[[sinks]]
use = "collect"
label = "only-echo"
jobs = ["echo"]

[[notify]]
use = "remember"
on = ["run.started", "job.finished", "run.finished"]
"""


def test_outputs_reach_each_sink_that_takes_their_job(run_text, manager, recorder) -> None:
    run = run_text(WRITE, plugins=manager, delivery=FAST)
    assert run.summary.ok
    assert run.summary.delivered
    got = {(label, key, index) for label, key, index, _, _ in recorder.delivered}
    assert got == {("all", "write", 0), ("all", "write", 1), ("all", "echo", 0),
                   ("only-echo", "echo", 0)}  # fmt: skip
    by_key = {(label, key, index): (data, content) for label, key, index, data, content
              in recorder.delivered}  # fmt: skip
    assert by_key[("all", "write", 0)][1] == b"hello sinks"  # streamed over HTTP
    assert by_key[("all", "write", 1)] == ({"name": "greeting.txt", "length": 11}, None)
    assert run.summary.deliveries.delivered == 4
    # each sink's factory ran once (it was called again when the deliveries started)
    assert [settings["label"] for settings in recorder.settings] == ["all", "only-echo"]
    # where the outputs went: the prefix each sink's locations share
    assert run.summary.deliveries.destinations == (
        "collect: collect://all/",
        "collect: collect://only-echo/echo/",
    )
    assert [event.kind for event in run.events].count("delivered") == 4


def test_every_delivery_is_in_the_ledger_with_the_files_checksum(
    run_text, manager, tmp_path: Path
) -> None:
    import hashlib

    run = run_text(WRITE, plugins=manager, delivery=FAST)
    ledger = Ledger.for_manifest(tmp_path / "manifest.toml")
    try:
        rows = ledger.deliveries(run.summary.run_id or "")
    finally:
        ledger.close()
    assert len(rows) == 4
    assert {row.status for row in rows} == {states.DELIVERED}
    file_row = next(r for r in rows if r.key == "write" and r.output == 0 and "[0]" in r.target)
    assert file_row.sha256 == hashlib.sha256(b"hello sinks").hexdigest()
    assert file_row.location == "collect://all/write/output_0"
    record = find_record(tmp_path / ".sievefile", run.summary.run_id or "")
    recorded = record["jobs"]["write"]["deliveries"]
    assert sorted((item["output"], item["status"]) for item in recorded) == [
        (0, "delivered"),
        (1, "delivered"),
    ]
    assert any(item.get("sha256") == file_row.sha256 for item in recorded)


def test_lifecycle_hooks_get_records_and_take_a_subset_of_arguments(
    run_text, manager, recorder
) -> None:
    run = run_text(WRITE, plugins=manager, delivery=FAST)
    names = recorder.hook_names()
    assert names[0] == "run_started"
    assert names[-1] == "run_finished"
    assert names.count("job_pushed") == 2
    assert names.count("job_finished") == 2
    started: RunInfo = recorder.hooks[0][1]
    assert started.run_id == run.summary.run_id
    assert started.name == "manifest"
    assert started.planned_jobs == 2
    pushed = [job for name, job in recorder.hooks if name == "job_pushed"]
    assert all(job.status == "pushed" and job.job_id for job in pushed)
    finished = {job.key: job for name, job in recorder.hooks if name == "job_finished"}
    assert finished["write"].status == "finished"
    assert finished["write"].function == "exec/write"
    assert finished["write"].outputs[0].is_file
    assert finished["write"].outputs[0].url
    assert finished["echo"].outputs[0].data["value"] == {"name": "greeting.txt", "length": 11}
    summary: RunResult = recorder.hooks[-1][1]
    assert summary.status == "finished"
    assert summary.counts["finished"] == 2
    assert summary.deliveries.delivered == 4  # the sinks were done before run_finished


def test_notifiers_hear_the_events_they_listen_to(run_text, manager, recorder) -> None:
    run_text(WRITE, plugins=manager, delivery=FAST)
    events = [n.event for n in recorder.notifications]
    assert events[0] == "run.started"
    assert events[-1] == "run.finished"
    assert sorted(events[1:-1]) == ["job.finished", "job.finished"]
    final = recorder.notifications[-1]
    assert final.summary is not None
    assert final.summary.ok
    assert final.to_json()["summary"]["counts"]["finished"] == 2


def test_a_raising_hook_is_reported_with_its_plugin_and_the_run_goes_on(
    run_text, manager, recorder
) -> None:
    manager.register(Broken(), name="broken-plugin")
    run = run_text(WRITE, plugins=manager, delivery=FAST)
    assert run.summary.ok
    assert run.summary.deliveries.delivered == 4
    problems = [event for event in run.events if event.kind == "plugin-error"]
    assert len(problems) == 2  # one per job
    assert "broken-plugin" in problems[0].message
    assert "the plugin has a bug" in problems[0].message
    assert recorder.hook_names().count("job_finished") == 2  # the other plugin still heard


def test_a_failing_sink_is_retried_by_the_framework(run_text, manager, recorder) -> None:
    text = WRITE.replace('label = "all"', 'label = "all"\nfail = 2')
    run = run_text(text, plugins=manager, delivery=FAST)
    assert run.summary.delivered
    assert run.summary.deliveries.delivered == 4
    retries = [e for e in run.events if e.kind == "retrying" and "sinks[0]" in e.message]
    assert len(retries) == 3 * 2  # three outputs go to sinks[0], each failing twice
    assert "OSError: the store is down" in retries[0].message


def test_a_permanent_failure_is_not_tried_again(run_text, manager, recorder) -> None:
    text = WRITE.replace('label = "all"', 'label = "all"\nfail = 1\npermanent = true')
    run = run_text(text, plugins=manager, delivery=FAST)
    assert not [e for e in run.events if e.kind == "retrying" and "sinks[0]" in e.message]
    assert run.summary.deliveries.failed == 3  # one try each: FAST would allow three
    assert run.summary.deliveries.delivered == 1  # only-echo
    assert all(
        "the store said no (not tried again: the receiver refused it)" in error
        for error in run.summary.deliveries.errors
    )


def test_a_retry_after_is_waited_for_however_short_the_backoff(run_text, manager, recorder) -> None:
    text = WRITE.replace('label = "all"', 'label = "all"\nfail = 1\nretry_after = 0.3')
    run = run_text(text, plugins=manager, delivery=FAST)  # FAST backs off 0.01 s
    retries = [e for e in run.events if e.kind == "retrying" and "sinks[0]" in e.message]
    assert len(retries) == 3
    assert all(e.message.endswith("try 2 of 3 in 0.3s") for e in retries)
    assert run.summary.delivered


def test_a_retry_after_longer_than_a_run_waits_is_not_tried_again(
    run_text, manager, recorder
) -> None:
    text = WRITE.replace('label = "all"', 'label = "all"\nfail = 1\nretry_after = 3600')
    run = run_text(text, plugins=manager, delivery=FAST)
    assert not [e for e in run.events if e.kind == "retrying" and "sinks[0]" in e.message]
    assert run.summary.deliveries.failed == 3
    assert "asked to wait 3600s, longer than a run waits" in run.summary.deliveries.errors[0]


def test_a_sink_that_keeps_failing_ends_delivered_with_errors_and_resume_redelivers(
    run_text, manager, recorder, tmp_path: Path
) -> None:
    text = WRITE.replace('label = "all"', 'label = "all"\nfail = 3')
    first = run_text(text, plugins=manager, delivery=FAST)
    assert first.summary.ok
    assert not first.summary.delivered
    assert first.summary.deliveries.failed == 3
    assert first.summary.deliveries.delivered == 1
    assert "not delivered" in first.summary.deliveries.errors[0]
    ledger = Ledger.for_manifest(tmp_path / "manifest.toml")
    try:
        assert ledger.run(first.summary.run_id or "").status == states.RUN_UNDELIVERED  # type: ignore[union-attr]
    finally:
        ledger.close()
    before = list(recorder.delivered)
    # the same sink, which works now (its three failures per output are spent)
    second = run_text(text, plugins=manager, delivery=FAST, resume=True)
    assert second.summary.run_id == first.summary.run_id
    assert second.summary.delivered
    assert second.summary.deliveries.delivered == 3
    redelivered = recorder.delivered[len(before) :]
    assert sorted((label, key, index) for label, key, index, *_ in redelivered) == [
        ("all", "echo", 0),
        ("all", "write", 0),
        ("all", "write", 1),
    ]  # only what was missing; only-echo had its output already
    assert {o.status for o in second.summary.outcomes} == {Status.FINISHED}
    assert all(kind != "pushed" for kind in (e.kind for e in second.events))


def test_a_cached_job_is_delivered_to_a_sink_added_since(run_text, manager, recorder) -> None:
    plain = WRITE.split("[[sinks]]")[0]
    first = run_text(plain, plugins=manager, delivery=FAST)
    assert first.summary.ok
    assert recorder.delivered == []
    second = run_text(WRITE, plugins=manager, delivery=FAST)
    assert "cached" in second.kinds("write")
    assert "pushed" not in second.kinds("write")
    assert {(label, key) for label, key, *_ in recorder.delivered} >= {("all", "write")}
    finished = {job.key: job for name, job in recorder.hooks if name == "job_finished"}
    assert finished["write"].status == "cached"


def test_bad_sink_settings_are_located_and_nothing_is_pushed(
    run_text, manager, exec_server
) -> None:
    text = WRITE.replace('label = "all"', "label = 5").replace(
        'use = "remember"', 'use = "remembr"'
    )
    with pytest.raises(ManifestError) as caught:
        run_text(text, plugins=manager)
    message = str(caught.value)
    assert "manifest.toml:12:9: sinks[0].label: expected a string, got an integer (5)" in message
    assert "notify[0].use: no notifier kind 'remembr' (did you mean 'remember'?)" in message
    assert exec_server.backend.stats.pushes == 0


def test_sink_settings_from_the_environment_are_resolved_and_masked(
    run_text, manager, recorder, exec_server
) -> None:
    text = WRITE.replace('label = "all"', 'label = "${{ env.SINK_LABEL }}"')
    run = run_text(text, plugins=manager, delivery=FAST, environ={"SINK_LABEL": "hush-1234"})
    assert recorder.settings[0]["label"] == "hush-1234"
    assert "hush-1234" not in " ".join(run.summary.deliveries.destinations)
    assert all("hush-1234" not in event.message for event in run.events)
    bad = text.replace("fail = 0", "").replace(
        'label = "only-echo"', 'label = "only-echo"\nfail = -1'
    )
    with pytest.raises(ManifestError) as caught:
        run_text(bad, plugins=manager, environ={"SINK_LABEL": "hush-1234"})
    assert "sinks[1].fail: expected at least 0" in str(caught.value)
    assert exec_server.backend.stats.pushes == 2  # only the first run pushed


def test_a_sink_selector_that_matches_no_job_is_located(run_text, manager) -> None:
    text = WRITE.replace('jobs = ["echo"]', 'jobs = ["ecko"]')
    with pytest.raises(ManifestError, match=r"sinks\[1\]\.jobs: .*ecko"):
        run_text(text, plugins=manager)


def test_a_resume_plans_with_the_vars_its_run_started_with(
    run_text, manager, tmp_path: Path
) -> None:
    text = """
    version = 1
    [vars]
    number = "not-a-number"
    [jobs.slow]
    function = "exec/nap"
    inputs = { seconds = 0.05, value = 1 }
    [jobs.count]
    function = "local/echo"
    inputs = { value = "${{ jobs.slow.outputs[0] }}", number = "${{ vars.number }}" }
    """
    first = run_text(text, plugins=manager, variables={"number": 5})
    assert first.summary.ok
    # leave it unfinished, as a crash would: the resume must check what it runs (number = 5),
    # not the manifest's default, which the function rejects
    ledger = Ledger.for_manifest(tmp_path / "manifest.toml")
    try:
        ledger.end_run(first.summary.run_id or "", states.RUN_INTERRUPTED)
    finally:
        ledger.close()
    resumed = run_text(text, plugins=manager, resume=True)
    assert resumed.summary.ok
    assert resumed.outcome("count").outputs == first.outcome("count").outputs
    with pytest.raises(ValidationError, match=r"inputs\.number: expected a number"):
        run_text(text, plugins=manager)


def test_an_unset_variable_is_not_judged_by_validate_but_its_value_is_by_run(
    manager, tmp_path: Path
) -> None:
    from runner.execute.delivery import configure_delivery
    from runner.manifest import load_manifest_text

    text = WRITE.replace('label = "all"', 'label = "${{ env.SINK_LABEL }}"')
    manifest = load_manifest_text(text, tmp_path / "manifest.toml", require_env=False)
    plan = configure_delivery(manifest, manager, {}, require_env=False)
    assert [sink.entry.index for sink in plan.sinks] == [0, 1]
    plan.create()
    assert plan.sinks[0].sink is None  # not built from the reference's text
    assert plan.sinks[1].sink is not None
    with pytest.raises(ManifestError, match=r"sinks\[0\]\.label: .*does not match"):
        configure_delivery(manifest, manager, {"SINK_LABEL": "Not A Label"})


def test_a_sink_setting_in_a_jobs_outputs_leaves_them_reusable_but_masked_when_shown(
    run_text, manager, exec_server
) -> None:
    # the label's value also appears in exec/write's JSON output ("greeting.txt")
    text = WRITE.replace('label = "all"', 'label = "${{ env.SINK_LABEL }}"')
    environ = {"SINK_LABEL": "greeting"}
    first = run_text(text, plugins=manager, delivery=FAST, environ=environ)
    assert first.summary.ok
    assert first.outcome("write").outputs[1] == {"name": "greeting.txt", "length": 11}
    assert all("greeting" not in event.message for event in first.events)
    second = run_text(text, plugins=manager, delivery=FAST, environ=environ)
    assert "cached" in second.kinds("write")
    assert exec_server.backend.stats.pushes == 2  # the first run's two pushes only


# a receiver's Retry-After of 50 s is not waited for once the run is stopping (the timeout
# catches a run that would wait it out)
@pytest.mark.timeout(30)
@pytest.mark.parametrize("failure", ["fail = 99", "fail = 99\nretry_after = 50"])
def test_an_interrupted_run_tries_no_delivery_again(
    exec_server, manager, recorder, tmp_path: Path, failure: str
) -> None:
    import asyncio
    import textwrap

    from runner.backend import Backend
    from runner.execute.run import RunRequest, execute

    path = tmp_path / "manifest.toml"
    path.write_text(textwrap.dedent(WRITE.replace('label = "all"', f'label = "all"\n{failure}')))
    schedulers: list[Any] = []
    events: list[Any] = []

    def report(event: Any) -> None:
        events.append(event)
        if event.kind == "retrying" and "sinks[0]" in event.message:
            schedulers[0].interrupt()  # as Ctrl-C does

    request = RunRequest(
        path,
        backend=Backend(kind="remote", url=exec_server.url, api_key=exec_server.api_key),
        plugins=manager,
        delivery=DeliveryPolicy(attempts=5, base_delay=0.01, max_delay=0.01),
    )
    summary = asyncio.run(execute(request, report=report, on_scheduler=schedulers.append))
    failed = [e for e in events if e.kind == "undelivered" and "sinks[0]" in e.message]
    assert failed
    assert all("not tried again: the run was interrupted" in e.message for e in failed)
    assert not any("try 3 of 5" in e.message for e in events)  # at most one retry each
    assert summary.deliveries.failed == len(failed)


def test_a_key_of_the_other_section_or_a_misspelled_own_key_is_named(
    manager, tmp_path: Path
) -> None:
    from runner.execute.delivery import configure_delivery
    from runner.manifest import load_manifest_text

    text = WRITE.replace('label = "only-echo"', 'label = "only-echo"\non = ["run.finished"]')
    text = text.replace('use = "remember"', 'use = "remember"\njobs = ["echo"]\nonn = []')
    manifest = load_manifest_text(text, tmp_path / "manifest.toml")
    with pytest.raises(ManifestError) as caught:
        configure_delivery(manifest, manager, {})
    message = str(caught.value)
    assert "sinks[1].on: `on` lists a notifier's events; a sink takes `jobs`" in message
    assert "notify[0].jobs: `jobs` chooses a sink's jobs; a notifier takes `on`" in message
    assert "notify[0].onn: unknown key 'onn' (did you mean 'on'?)" in message


def test_a_whole_setting_from_the_environment_takes_the_type_its_schema_asks_for(
    manager, recorder, tmp_path: Path
) -> None:
    from runner.execute.delivery import configure_delivery
    from runner.manifest import load_manifest_text

    text = WRITE.replace('label = "all"', 'label = "all"\nfail = "${{ env.FAILURES }}"')
    manifest = load_manifest_text(text, tmp_path / "manifest.toml", environ={"FAILURES": "2"})
    plan = configure_delivery(manifest, manager, {"FAILURES": "2"})
    assert plan.sinks[0].settings["fail"] == 2
    with pytest.raises(ManifestError, match=r"sinks\[0\]\.fail: expected an integer, got a string"):
        configure_delivery(manifest, manager, {"FAILURES": "two"})


def test_a_setting_from_the_environment_inside_longer_text_is_its_text(
    manager, tmp_path: Path
) -> None:
    # An environment value is kept as text that may become a number when it is a whole
    # setting; inside longer text it was written as JSON, quotes and all ("Bearer \"tok\"").
    from runner.execute.delivery import configure_delivery
    from runner.manifest import load_manifest_text

    text = WRITE.replace('label = "all"', 'label = "a-${{ env.SINK_LABEL }}-b"')
    manifest = load_manifest_text(text, tmp_path / "manifest.toml", environ={"SINK_LABEL": "tok"})
    plan = configure_delivery(manifest, manager, {"SINK_LABEL": "tok"})
    assert plan.sinks[0].settings["label"] == "a-tok-b"
