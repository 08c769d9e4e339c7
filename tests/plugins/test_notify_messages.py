"""What the built-in notifiers say, built without a network: the summary text (slack and
email), Slack's blocks, email subjects and messages, and the stable delivery id."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from plugins import _summary, slack
from plugins._notify import delivery_id
from plugins.email import EmailNotifier, render_subject
from runner import JobStatus, PluginContext
from tests.support.notifications import RUN, finished_run, job, job_event, run_started

CONTEXT = PluginContext(manifest=Path("/work/podcast.toml"), manifest_dir=Path("/work"), index=0)


def test_run_finished_text_has_status_counts_duration_failures_and_destinations() -> None:
    text = _summary.render_text(finished_run(failed=1, errors=("s3: thumbnail: AccessDenied",)))
    assert text.splitlines()[0] == "podcast: run failed (1 of 4 jobs failed, 1h30m12s)"
    assert "Status: failed" in text
    assert "Jobs: 1 finished, 1 error, 0 cancelled, 1 cached, 1 skipped" in text
    assert "Duration: 1h30m12s" in text
    assert "Outputs delivered: 3, failed: 1" in text
    assert "Delivery errors: 1" in text
    assert "Run: 20261202-143000-ab12" in text
    assert (
        "Failed jobs (1):\n"
        "  job transcribe[lang=fr] (sieve/whisper) error: model crashed: CUDA out of memory"
    ) in text
    assert "Outputs:\n  local: out/20261202-143000-ab12\n  s3: s3://media/podcast/" in text
    assert "Delivery errors (1):\n  s3: thumbnail: AccessDenied" in text


def test_a_clean_run_has_no_failure_or_delivery_error_section() -> None:
    text = _summary.render_text(finished_run((job("a"), job("b")), status="finished"))
    assert text.startswith("podcast: run finished (2 jobs, 1h30m12s)\n")
    assert "Failed jobs" not in text
    assert "Delivery errors" not in text


def test_long_lists_are_capped_and_errors_kept_to_one_short_line() -> None:
    failures = tuple(
        job(f"clip[n={n}]", JobStatus.ERROR, error="line one\nline two " + "x" * 1000)
        for n in range(25)
    )
    (facts, failed, _outputs) = _summary.sections(finished_run(failures))
    assert facts.lines[0] == "Status: failed"
    assert failed.title == "Failed jobs (25)"
    assert len(failed.lines) == _summary.MAX_LINES + 1
    assert failed.lines[-1] == "and 15 more"
    assert failed.lines[0].startswith("job clip[n=0] (sieve/whisper) error: line one line two xx")
    error = failed.lines[0].split(" error: ", 1)[1]
    assert len(error) == _summary.MAX_ERROR
    assert error.endswith("…")


def test_tolerated_failures_are_not_listed_as_failed_but_say_allowed_in_their_event() -> None:
    tolerated = job("probe", JobStatus.ERROR, error="bad file", allowed_failure=True)
    assert "Failed jobs" not in _summary.render_text(finished_run((tolerated,), status="finished"))
    assert _summary.headline(job_event(tolerated)) == (
        "podcast: job probe (sieve/whisper) error (allowed): bad file"
    )


def test_job_and_run_started_events_are_one_line() -> None:
    notification = job_event(job("transcribe[lang=fr]", JobStatus.CANCELLED))
    assert _summary.render_text(notification) == (
        "podcast: job transcribe[lang=fr] (sieve/whisper) cancelled\n"
    )
    assert _summary.sections(notification) == ()
    assert _summary.render_text(run_started()) == "podcast: run started (4 jobs)\n"
    assert _summary.headline(run_started(resumed=True)) == "podcast: run resumed (4 jobs)"


def test_slack_message_lays_out_the_same_text_as_blocks() -> None:
    notification = finished_run()
    document = slack.message(notification)
    assert document["text"] == _summary.render_text(notification)
    header, facts, failed, outputs = document["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": _summary.headline(notification)},
    }
    assert facts["text"]["type"] == "mrkdwn"
    assert "Jobs: 1 finished, 1 error, 0 cancelled, 1 cached, 1 skipped" in facts["text"]["text"]
    assert failed["text"]["text"].startswith("*Failed jobs (1)*\n• job transcribe[lang=fr]")
    assert outputs["text"]["text"] == (
        "*Outputs*\n• local: out/20261202-143000-ab12\n• s3: s3://media/podcast/"
    )
    json.dumps(document)  # what is posted must be JSON


def test_slack_message_escapes_mentions_and_keeps_within_slacks_limits() -> None:
    shouting = job("x", JobStatus.ERROR, error="<!channel> a & b <http://evil|click>")
    document = slack.message(finished_run((shouting,), status="failed"))
    failed = document["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; a &amp; b &lt;http://evil|click&gt;" in failed
    assert "<!channel>" not in failed
    assert "&lt;!channel&gt;" in document["text"]
    assert "<!channel>" not in document["text"]
    long_name = replace(finished_run(), run=replace(RUN, name="n" * 400))
    header = slack.message(long_name)["blocks"][0]
    assert header["type"] == "header"
    assert len(header["text"]["text"]) == 150


def test_slack_one_line_events_are_one_section_that_keeps_a_long_error() -> None:
    failed = job_event(job("x", JobStatus.ERROR, error="e" * 250))
    document = slack.message(failed)
    (block,) = document["blocks"]
    assert block["type"] == "section"
    assert block["text"]["text"] == _summary.headline(failed)
    assert block["text"]["text"].endswith("e" * 250)


def test_slack_payload_adds_channel_and_username() -> None:
    notifier = slack.SlackNotifier.from_config(
        {"webhook_url": "https://hooks.slack.com/services/T/B/X", "channel": "#media"}, CONTEXT
    )
    payload = notifier.payload(run_started())
    assert payload["channel"] == "#media"
    assert "username" not in payload


def test_email_subject_template_and_message_headers() -> None:
    notifier = EmailNotifier.from_config(
        {"to": "ops@example.com", "host": "smtp.example.com", "from": "bot@example.com"},
        CONTEXT,
    )
    message = notifier.build(finished_run())
    assert message["Subject"] == "[sievefile] podcast: failed"
    assert message["To"] == "ops@example.com"
    assert message["From"] == "bot@example.com"
    assert message["Message-ID"] == f"<{delivery_id(finished_run())}@sievefile>"
    assert message.get_content() == _summary.render_text(finished_run())
    assert message["Date"].datetime.timestamp() == 1_764_691_212  # the event's time
    failed_job = job_event(job("dub", JobStatus.ERROR, function="me/dub"))
    template = "{event} {job} {function} {run}\n{status}"
    assert render_subject(template, failed_job) == (
        "job.error dub me/dub 20261202-143000-ab12 error"
    )


def test_delivery_id_is_the_same_for_a_resent_event_and_differs_between_events() -> None:
    error = job_event(job("a", JobStatus.ERROR, error="boom"))
    assert delivery_id(error) == delivery_id(replace(error, time=error.time + 3600))
    pushed_again = job_event(job("a", JobStatus.ERROR, error="boom", job_id="job-a-2"))
    assert delivery_id(pushed_again) != delivery_id(error)
    assert delivery_id(job_event(job("b", JobStatus.ERROR))) != delivery_id(error)
    assert delivery_id(finished_run(status="interrupted")) != delivery_id(finished_run())
    assert delivery_id(run_started(resumed=True)) != delivery_id(run_started())
    assert len(delivery_id(error)) == 64
    int(delivery_id(error), 16)
