"""Plans, graphs and problems as text, JSON, Mermaid and Graphviz dot.

Everything shown comes from `Plan.resolve_static`, so `env.*` and upstream references appear
as `${{ ... }}` placeholders: a plan never contains a secret.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from runner.durations import format_duration
from runner.errors import ManifestError, ValidationError
from runner.hooktypes import DEFAULT_EVENTS
from runner.manifest.matrix import JobInstance
from runner.manifest.model import JobSpec, Manifest
from runner.manifest.plan import Plan

#: How many instances of one job the text plan lists before summarising the rest.
TEXT_INSTANCES_PER_JOB = 10


def problems_to_json(
    problems: Iterable[ManifestError | ValidationError],
) -> list[dict[str, Any]]:
    """Each problem as `{message, file, line, column, job, key_path}` (for `--json`); an
    invalid input's `key_path` is its input path (`inputs.file.url`)."""
    out = []
    for problem in problems:
        location = problem.location
        out.append(
            {
                "message": problem.detail,
                "file": location.path if location else None,
                "line": location.line if location else None,
                "column": location.column if location else None,
                "job": problem.job,
                "key_path": (
                    problem.key_path if isinstance(problem, ManifestError) else problem.input_path
                ),
                "text": str(problem),
            }
        )
    return out


def _instances_for_display(plan: Plan, name: str) -> list[JobInstance]:
    if plan.is_expanded(name):
        return plan.instances(name)
    return [plan.pending_instance(name)]


def _job_settings(job: JobSpec) -> dict[str, Any]:
    return {
        "retries": job.retries,
        "timeout": job.timeout,
        "continue_on_error": job.continue_on_error,
    }


def rows_summary(
    plan: Plan, name: str, finished: Collection[str] | None = None
) -> dict[str, Any] | None:
    """For a job whose matrix has rows: its data file, how many rows and instances come from
    the file and from `matrix.include`, and (given the instance keys earlier runs `finished`)
    the instances that are new. None for other jobs."""
    job = plan.jobs[name]
    table = job.matrix.rows if job.matrix is not None else None
    if table is None or not plan.is_expanded(name):
        return None
    instances = plan.instances(name)
    from_file = sum(1 for i in instances if i.row is not None and i.row.path == table.source)
    summary: dict[str, Any] = {
        "file": table.source,
        "sha256": table.sha256,
        "file_rows": table.file_rows,
        "file_instances": from_file,
        "included_rows": len(table.rows) - table.file_rows,
        "included_instances": len(instances) - from_file,
    }
    if finished is not None:
        summary["new_instances"] = [i.key for i in instances if i.key not in finished]
    return summary


def plan_to_dict(
    plan: Plan,
    finished: Collection[str] | None = None,
    cached: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The plan as JSON-ready data: waves of jobs, each with its instances' static inputs.

    `finished`: the instance keys earlier runs finished, to list each row job's new instances;
    `cached`: the instances the result cache would reuse (key -> `run-id/key` of the origin),
    each marked with `cached_from`.
    """
    cached = cached or {}
    waves = []
    for number, wave in enumerate(plan.waves, start=1):
        jobs = []
        for name in wave:
            job = plan.jobs[name]
            instances = []
            for instance in _instances_for_display(plan, name):
                resolved = plan.resolve_static(instance)
                entry: dict[str, Any] = {"key": instance.key, "inputs": resolved.inputs}
                if instance.matrix:
                    entry["matrix"] = dict(instance.matrix)
                if resolved.env:
                    entry["env"] = resolved.env
                if resolved.webhooks:
                    entry["webhooks"] = resolved.webhooks
                if instance.key in cached:
                    entry["cached_from"] = cached[instance.key]
                instances.append(entry)
            jobs.append(
                {
                    "name": name,
                    "function": str(job.function),
                    "description": job.description,
                    "needs": list(plan.dependencies(name)),
                    "external_needs": list(plan.external_dependencies(name)),
                    "runtime_matrix": not plan.is_expanded(name),
                    **_job_settings(job),
                    **_rows_entry(plan, name, finished),
                    "instances": instances,
                }
            )
        waves.append({"wave": number, "jobs": jobs})
    return {
        "manifest": str(plan.manifest.path),
        "name": plan.manifest.name,
        "jobs": len(plan.jobs),
        "instances": plan.instance_count(),
        "cached": len(cached),
        "run": {
            "max_parallel": plan.manifest.run.max_parallel,
            "fail_fast": plan.manifest.run.fail_fast,
        },
        "waves": waves,
        # which kind and for what, not their settings: those may hold credentials
        "sinks": [
            {"index": entry.index, "use": entry.use, "jobs": list(entry.jobs)}
            for entry in plan.manifest.sinks
        ],
        "notify": [
            {"index": entry.index, "use": entry.use, "on": list(entry.on)}
            for entry in plan.manifest.notify
        ],
    }


def _rows_entry(plan: Plan, name: str, finished: Collection[str] | None) -> dict[str, Any]:
    summary = rows_summary(plan, name, finished)
    return {} if summary is None else {"rows": summary}


def format_plan(
    plan: Plan,
    *,
    all_instances: bool = False,
    finished: Collection[str] | None = None,
    cached: Mapping[str, str] | None = None,
) -> str:
    """A readable plan: a header, then each wave's jobs with function, needs and inputs.

    `finished`: the instance keys earlier runs finished, to say which row instances are new;
    `cached`: the instances the result cache would reuse, marked `(cached: ...)`.
    """
    cached = cached or {}
    pending = [name for name in plan.jobs if not plan.is_expanded(name)]
    header = (
        f"{plan.manifest.name} ({plan.manifest.path}): {len(plan.jobs)} jobs, "
        f"{plan.instance_count()} instances"
        + (f" (+ {len(pending)} run-time matrix)" if pending else "")
        + f", {len(plan.waves)} waves"
        + (f"; the cache would reuse {len(cached)}" if cached else "")
    )
    lines = [header]
    for number, wave in enumerate(plan.waves, start=1):
        lines.append("")
        lines.append(f"wave {number}")
        for name in wave:
            lines.extend(_format_job(plan, name, all_instances, finished, cached))
    lines.extend(_format_deliveries(plan.manifest))
    return "\n".join(lines)


def _format_deliveries(manifest: Manifest) -> list[str]:
    """Where outputs go and who is told, without the entries' settings (credentials)."""
    lines = []
    if manifest.sinks:
        lines += ["", "outputs"]
        for entry in manifest.sinks:
            jobs = ", ".join(entry.jobs) if entry.jobs else "every job"
            lines.append(f"  {entry.label}: {jobs}")
    if manifest.notify:
        lines += ["", "notifications"]
        for entry in manifest.notify:
            events = ", ".join(entry.on or DEFAULT_EVENTS)
            lines.append(f"  {entry.label}: on {events}")
    return lines


def _format_rows(summary: dict[str, Any], finished: Collection[str] | None) -> list[str]:
    parts = []
    if summary["file"] is not None:
        digest = (summary["sha256"] or "")[:12]
        parts.append(
            f"{summary['file']} gives {summary['file_instances']:,} instances "
            f"({summary['file_rows']:,} rows, sha256 {digest})"
        )
    if summary["included_rows"]:
        parts.append(
            f"matrix.include gives {summary['included_instances']:,} "
            f"({summary['included_rows']:,} rows)"
        )
    lines = [f"    rows: {'; '.join(parts)}"]
    if finished is None:
        return lines
    new = summary["new_instances"]
    total = summary["file_instances"] + summary["included_instances"]
    reused = total - len(new)
    line = f"    new since the last run: {len(new):,} of {total:,}"
    if reused:
        line += f" (the cache reuses the other {reused:,} if their inputs are unchanged)"
    shown = new[:TEXT_INSTANCES_PER_JOB]
    if shown:
        more = f", ... and {len(new) - len(shown):,} more" if len(new) > len(shown) else ""
        line += f": {', '.join(shown)}{more}"
    return [*lines, line]


def _format_job(
    plan: Plan,
    name: str,
    all_instances: bool,
    finished: Collection[str] | None,
    cached: Mapping[str, str],
) -> list[str]:
    job = plan.jobs[name]
    instances = _instances_for_display(plan, name)
    lines = []
    title = f"  {name}  {job.function}"
    if job.matrix is not None:
        count = f"{len(instances)} instances" if plan.is_expanded(name) else "run-time matrix"
        title += f"  [{count}]"
        reused = sum(1 for instance in instances if instance.key in cached)
        if reused:
            title += f"  (cached: {reused} of {len(instances)})"
    elif name in cached:
        title += f"  (cached: outputs of {cached[name]})"
    lines.append(title)
    if job.description:
        lines.append(f"    {job.description}")
    needs = plan.dependencies(name)
    if needs:
        lines.append(f"    needs: {', '.join(needs)}")
    external = plan.external_dependencies(name)
    if external:
        lines.append(f"    needs (not selected): {', '.join(external)}")
    settings = []
    if job.retries:
        settings.append(f"retries={job.retries}")
    if job.timeout is not None:
        settings.append(f"timeout={format_duration(job.timeout)}")
    if job.continue_on_error:
        settings.append("continue_on_error")
    if settings:
        lines.append(f"    {' '.join(settings)}")
    summary = rows_summary(plan, name, finished)
    if summary is not None:
        lines.extend(_format_rows(summary, finished))
    shown = instances if all_instances else instances[:TEXT_INSTANCES_PER_JOB]
    for instance in shown:
        resolved = plan.resolve_static(instance)
        indent = "    "
        if job.matrix is not None:
            mark = "  (cached)" if instance.key in cached else ""
            lines.append(f"    - {instance.key}{mark}")
            indent = "      "
        lines.append(f"{indent}inputs: {_compact(resolved.inputs)}")
        if resolved.env:
            lines.append(f"{indent}env: {_compact(resolved.env)}")
        if resolved.webhooks:
            lines.append(f"{indent}webhooks: {_compact(resolved.webhooks)}")
    if len(shown) < len(instances):
        lines.append(
            f"    ... and {len(instances) - len(shown)} more instances (--all or --json shows all)"
        )
    return lines


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _graph_label(plan: Plan, name: str) -> tuple[str, str]:
    job = plan.jobs[name]
    if job.matrix is None:
        return name, str(job.function)
    count = str(len(plan.instances(name))) if plan.is_expanded(name) else "run-time"
    return f"{name} ×{count}", str(job.function)


def to_mermaid(plan: Plan) -> str:
    """A Mermaid flowchart: one node per job (matrix jobs show their instance count)."""
    ids = {name: f"j{index}" for index, name in enumerate(plan.jobs)}
    lines = ["flowchart TD"]
    for name in plan.jobs:
        title, function = _graph_label(plan, name)
        label = f"{title}<br/><small>{function}</small>".replace('"', "#quot;")
        if plan.jobs[name].matrix is not None:
            lines.append(f'    {ids[name]}[["{label}"]]')
        else:
            lines.append(f'    {ids[name]}["{label}"]')
    lines.extend(_edges(plan, lambda a, b: f"    {ids[a]} --> {ids[b]}"))
    return "\n".join(lines) + "\n"


def to_dot(plan: Plan) -> str:
    """A Graphviz digraph: one node per job, edges from each dependency to its dependent."""
    lines = [
        f"digraph {_dot_quote(plan.manifest.name)} {{",
        "    rankdir=LR;",
        "    node [shape=box];",
    ]
    for name in plan.jobs:
        title, function = _graph_label(plan, name)
        style = ", style=rounded, peripheries=2" if plan.jobs[name].matrix is not None else ""
        lines.append(
            f"    {_dot_quote(name)} [label={_dot_quote(title + chr(10) + function)}{style}];"
        )
    lines.extend(_edges(plan, lambda a, b: f"    {_dot_quote(a)} -> {_dot_quote(b)};"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edges(plan: Plan, edge: Any) -> Sequence[str]:
    return [edge(dep, name) for name in plan.jobs for dep in plan.dependencies(name)]


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
