"""`sievefile run --report junit.xml`: the run as a JUnit XML report, for CI test views.

One `<testsuite>` per run (named after the manifest), one `<testcase>` per job instance:
`classname` is the job, `name` the instance key, `time` its duration. A failed or cancelled
instance has a `<failure>` with its (masked) error; a skipped one a `<skipped>` with the
reason; a tolerated failure (`continue_on_error`) is `<skipped>` too, saying so; a cached one
passes with a `<system-out>` naming where its outputs came from. A run that stops before it
starts (an invalid manifest or input: nothing pushed) is one failed test case, `manifest`.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from runner.execute.outcome import JobOutcome, RunSummary, Status


def junit_document(summary: RunSummary, name: str) -> ET.ElementTree:
    """The JUnit XML tree of `summary` (a run of the manifest called `name`)."""
    suites = ET.Element("testsuites", name="sievefile")
    suite = ET.SubElement(suites, "testsuite", name=name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for outcome in summary.outcomes:
        counts["tests"] += 1
        case = ET.SubElement(
            suite,
            "testcase",
            classname=outcome.job,
            name=outcome.key,
            time=f"{outcome.duration or 0.0:.3f}",
        )
        total_time += outcome.duration or 0.0
        kind = _case_body(case, outcome)
        if kind:
            counts[kind] += 1
    properties = ET.Element("properties")
    for key, value in (("run_id", summary.run_id), ("status", summary.status)):
        if value:
            ET.SubElement(properties, "property", name=key, value=value)
    suite.insert(0, properties)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    suite.attrib.update({key: str(value) for key, value in counts.items()})
    suite.set("time", f"{summary.wall_time if summary.wall_time is not None else total_time:.3f}")
    suite.set("timestamp", stamp)
    suites.attrib.update({key: str(value) for key, value in counts.items()})
    return ET.ElementTree(suites)


def _case_body(case: ET.Element, outcome: JobOutcome) -> str:
    """Add the failure, skip or note of `outcome` to `case`; which counter it adds to."""
    if outcome.status is Status.FINISHED:
        if outcome.cached_from:
            ET.SubElement(case, "system-out").text = f"cached: outputs of {outcome.cached_from}"
        return ""
    if outcome.allowed:
        message = f"failed, tolerated (continue_on_error): {outcome.error}"
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    if outcome.status is Status.SKIPPED or outcome.detached:
        ET.SubElement(case, "skipped", message=outcome.error or str(outcome.status))
        return "skipped"
    failure = ET.SubElement(case, "failure", message=outcome.error, type=outcome.state)
    failure.text = outcome.error + (f"\njob id: {outcome.job_id}" if outcome.job_id else "")
    return "failures"


def stopped_document(name: str, message: str) -> ET.ElementTree:
    """The report of a run that stopped before it started (an invalid manifest or input):
    one failed test case, `manifest`, with the error."""
    suites = ET.Element("testsuites", name="sievefile", tests="1", failures="1")
    suite = ET.SubElement(suites, "testsuite", name=name, tests="1", failures="1", errors="0")
    suite.set("skipped", "0")
    case = ET.SubElement(suite, "testcase", classname="manifest", name="manifest", time="0")
    failure = ET.SubElement(case, "failure", message=message.splitlines()[0], type="invalid")
    failure.text = message
    return ET.ElementTree(suites)


def write_junit(
    path: str | os.PathLike[str],
    summary: RunSummary | ET.ElementTree,
    name: str,
    mask: Callable[[str], str] = str,
) -> Path:
    """Write the report of `summary` (or a document from `stopped_document`) to `path`
    (atomically: a reader never sees half of it); `mask` hides secrets in every text of it
    (errors are masked already: this is a second fence, as for every other output of `run`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tree = summary if isinstance(summary, ET.ElementTree) else junit_document(summary, name)
    ET.indent(tree)
    for element in tree.iter():
        element.attrib.update({key: mask(value) for key, value in element.attrib.items()})
        if element.text:
            element.text = mask(element.text)
    temporary = target.with_name(target.name + ".tmp")
    tree.write(temporary, encoding="utf-8", xml_declaration=True)
    os.replace(temporary, target)
    return target
