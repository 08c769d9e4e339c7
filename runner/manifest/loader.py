"""TOML text -> a checked `Manifest`, or one ManifestError listing every problem.

The loader reads in passes and keeps going after a problem so that a user sees all of them at
once: TOML syntax (fatal: nothing else can be read), the JSON Schema structure, then per job the
function reference, the references, the matrix, `needs`; finally the dependency graph (cycles).
Each problem carries file:line:column, the job and the key path.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner._toml import TOMLDecodeError, toml_loads
from runner.durations import parse_duration
from runner.errors import ManifestError, SourceLocation
from runner.manifest.graph import find_cycle
from runner.manifest.matrix import size_text
from runner.manifest.model import (
    DEFAULT_MAX_INSTANCES,
    DEFAULT_MAX_PARALLEL,
    DEFAULT_RETRY_BUDGET,
    DEFAULT_RETRY_DELAY,
    DEFAULT_RETRY_MAX_DELAY,
    Defaults,
    FunctionRef,
    JobSpec,
    Manifest,
    Matrix,
    PluginEntry,
    RunSettings,
)
from runner.manifest.positions import KeyPath, PositionIndex, index_positions
from runner.manifest.references import Reference, ReferenceSyntaxError, Template, walk_templates
from runner.manifest.rows import Row as MatrixRow
from runner.manifest.rows import RowFileError, RowTable, check_used_columns, label_rows, read_rows
from runner.manifest.structure import Locator, problem, structural_problems
from runner.manifest.values import (
    KEEP,
    TOO_DEEP,
    TOO_DEEP_TO_READ,
    StepError,
    compile_value,
    follow_steps,
    substitute,
    too_deep,
)
from runner.suggest import did_you_mean

#: The matrix key that lists combinations to leave out (not an axis).
EXCLUDE = "exclude"
#: Matrix keys for rows (runner.manifest.rows): a data file, inline rows, the key column, and
#: the types of CSV columns. Like `exclude`, settings rather than axes.
ROWS, INCLUDE, KEY, COLUMNS = "rows", "include", "key", "columns"
_SETTINGS = frozenset({EXCLUDE, ROWS, INCLUDE, KEY, COLUMNS})

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_manifest(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> Manifest:
    """Read and check the manifest at `path`.

    `variables` override `[vars]` (from `--var` / `--vars-file`); `environ` is where
    `${{ env.NAME }}` looks (default: the process environment); with `require_env=False` a
    missing environment variable is not a problem (for checks in CI without secrets).
    Raises ManifestError carrying every problem in `problems`.
    """
    return start_loading(
        path, variables=variables, environ=environ, require_env=require_env
    ).finish()


class PendingManifest:
    """A manifest read and parsed as TOML, not yet checked: what `start_loading` returns.

    `document` is its top-level table as written (None when it could not be read or parsed),
    for a caller that starts work on what the manifest names (a run's first requests) while
    `finish()` checks it. Nothing in `document` has been checked yet.
    """

    def __init__(self, loader: _Loader | None, problems: list[ManifestError]) -> None:
        self._loader = loader
        self._problems = problems
        self.document: dict[str, Any] | None = None
        if loader is not None:
            self.document = loader.parse_toml()
            if self.document is None:
                self._problems = loader.problems

    def finish(self) -> Manifest:
        """Check and build the manifest, as `load_manifest` does; raises ManifestError."""
        manifest = None
        if self._loader is not None and self.document is not None:
            manifest, self._problems = self._loader.load(self.document)
        if self._problems or manifest is None:
            raise _combined(self._problems)
        return manifest


def start_loading(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> PendingManifest:
    """Read the manifest at `path` and parse its TOML; `finish()` does the rest of
    `load_manifest` (same arguments, same errors, raised only then)."""
    loader, problems = _open_path(Path(path), variables, environ, require_env)
    return PendingManifest(loader, problems)


def load_manifest_text(
    text: str,
    path: str | os.PathLike[str] = "manifest.toml",
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> Manifest:
    """Like `load_manifest`, for text already in memory; `path` is used in messages."""
    return PendingManifest(_Loader(text, Path(path), variables, environ, require_env), []).finish()


def check_manifest(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> list[ManifestError]:
    """Every problem in the manifest at `path` (empty when it is valid); never raises for it."""
    try:
        start_loading(path, variables=variables, environ=environ, require_env=require_env).finish()
    except ManifestError as error:
        return list(error.problems)
    return []


def _open_path(
    path: Path,
    variables: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    require_env: bool,
) -> tuple[_Loader | None, list[ManifestError]]:
    try:
        # utf-8-sig: editors on Windows may start the file with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"the manifest is not UTF-8 text ({error.reason} at byte {error.start})"
        return None, [ManifestError(message, location=SourceLocation(str(path)))]
    except OSError as error:
        reason = error.strerror or str(error)
        return None, [
            ManifestError(f"cannot read the manifest: {reason}", location=SourceLocation(str(path)))
        ]
    return _Loader(text, path, variables, environ, require_env), []


def _combined(problems: list[ManifestError]) -> ManifestError:
    if len(problems) == 1:
        return problems[0]
    return ManifestError(f"{len(problems)} problems in the manifest", problems=problems)


class _Loader:
    def __init__(
        self,
        text: str,
        path: Path,
        variables: Mapping[str, Any] | None,
        environ: Mapping[str, str] | None,
        require_env: bool,
    ) -> None:
        self.text = text
        self.path = path
        self.overrides = dict(variables or {})
        self.environ = os.environ if environ is None else environ
        self.require_env = require_env
        self.positions = PositionIndex({}, {})
        self.problems: list[ManifestError] = []
        self.broken: set[KeyPath] = set()
        self.lines: list[str] | None = None

    # --- reporting -------------------------------------------------------------------------

    def locate(self, path: KeyPath, at_value: bool = False) -> SourceLocation:
        found = self.positions.value(path) if at_value else self.positions.key(path)
        if found is None:
            return SourceLocation(str(self.path))
        return SourceLocation(str(self.path), found[0], found[1])

    def report(
        self, message: str, path: KeyPath, *, at_value: bool = True, offset: int = -1
    ) -> None:
        """Record a problem at `path`; `offset` points inside the string value there."""
        inside = self.locate_in_string(path, offset) if offset >= 0 else None
        locate: Locator = self.locate if inside is None else (lambda _path, _value: inside)
        self.problems.append(problem(message, path, locate, at_value=at_value))
        self.broken.add(path)

    def locate_in_string(self, path: KeyPath, offset: int) -> SourceLocation | None:
        """The column of character `offset` of the string value at `path`, when the source
        writes it as-is (a one-line string without escapes before that point)."""
        found = self.positions.exact_value(path)
        if found is None:
            return None
        line, column = found
        if self.lines is None:
            self.lines = self.text.split("\n")
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        quote = text[column - 1 : column]
        if quote not in ('"', "'") or text[column - 1 : column + 2] == quote * 3:
            return None
        prefix = text[column : column + offset]
        if len(prefix) < offset or quote in prefix or (quote == '"' and "\\" in prefix):
            return None
        return SourceLocation(str(self.path), line, column + 1 + offset)

    def is_broken(self, path: KeyPath) -> bool:
        """Whether a problem was reported at `path` or inside it."""
        return any(broken[: len(path)] == path for broken in self.broken)

    # --- passes ----------------------------------------------------------------------------

    def load(
        self, data: dict[str, Any] | None = None
    ) -> tuple[Manifest | None, list[ManifestError]]:
        """Every pass; `data` is the parsed TOML when `parse_toml` was already called."""
        if data is None:
            data = self.parse_toml()
        if data is None:
            return None, self.problems
        deep = too_deep(data)
        if deep is not None:
            # every later pass walks values recursively: stop before one of them overflows
            where = ".".join(str(part) for part in deep[:4])
            location = SourceLocation(str(self.path), 1, 1)
            message = f"{where}: {TOO_DEEP}"
            self.problems.append(ManifestError(message, location=location))
            return None, self.problems
        self.positions = index_positions(self.text)
        for path, error in structural_problems(data, self.locate):
            self.problems.append(error)
            self.broken.add(path)
        manifest = self.build(data)
        # the manifest's own problems first, then each data file's, each in line order
        self.problems.sort(key=lambda error: (_in_other_file(error, self.path), *_sort_key(error)))
        return manifest, self.problems

    def parse_toml(self) -> dict[str, Any] | None:
        try:
            return toml_loads(self.text)
        except RecursionError:
            location = SourceLocation(str(self.path), 1, 1)
            message = TOO_DEEP_TO_READ
            self.problems.append(ManifestError(message, location=location))
            return None
        except TOMLDecodeError as error:
            message = str(error)
            line = column = None
            match = _TOML_POSITION.search(message)
            if match:
                line, column = int(match.group(1)), int(match.group(2))
                message = message[: match.start()]
            elif _TOML_AT_END.search(message):
                line = self.text.count("\n") + 1
                message = _TOML_AT_END.sub("", message) + " at the end of the file"
            message = _friendlier_toml_message(message)
            location = SourceLocation(str(self.path), line, column)
            self.problems.append(ManifestError(f"invalid TOML: {message}", location=location))
            return None

    def build(self, data: dict[str, Any]) -> Manifest:
        variables = data.get("vars") if isinstance(data.get("vars"), dict) else {}
        self.check_json_values(variables, ("vars",))
        self.vars: dict[str, Any] = {**(variables or {}), **self.overrides}
        defaults = self.build_defaults(data.get("defaults"))
        run = self.build_run(data.get("run"))
        raw_jobs = data.get("jobs") if isinstance(data.get("jobs"), dict) else {}
        self.job_names: list[str] = list(raw_jobs or {})
        self.job_name_set = set(self.job_names)
        # every job's dependencies, also of jobs with problems, so cycles are still found
        self.dependency_graph: dict[str, tuple[str, ...]] = {}
        self.row_tables: dict[str, RowTable] = {}
        self.data_files: dict[str, str] = {}
        jobs: dict[str, JobSpec] = {}
        for name, raw in (raw_jobs or {}).items():
            if not isinstance(raw, dict) or ("jobs", name) in self.broken:
                continue
            job = self.build_job(name, raw, defaults)
            if job is not None:
                jobs[name] = job
        self.check_graph()
        sinks = self.build_plugin_entries(data.get("sinks"), "sinks", ("use", "jobs"))
        notify = self.build_plugin_entries(data.get("notify"), "notify", ("use", "on"))
        name = data.get("name")
        description = data.get("description")
        return Manifest(
            path=self.path,
            name=name if isinstance(name, str) and name else self.path.stem,
            version=1,
            description=description if isinstance(description, str) else "",
            vars=self.vars,
            defaults=defaults,
            run=run,
            jobs=jobs,
            sinks=sinks,
            notify=notify,
            positions=self.positions,
            data_files=self.data_files,
        )

    def build_plugin_entries(
        self, raw: Any, section: str, own_keys: tuple[str, ...]
    ) -> tuple[PluginEntry, ...]:
        """`[[sinks]]` or `[[notify]]`: each entry's kind, selectors or events, and settings
        (vars substituted; only vars and env may be referred to)."""
        if not isinstance(raw, list):
            return ()
        entries = []
        for index, item in enumerate(raw):
            path: KeyPath = (section, index)
            if not isinstance(item, dict) or self.is_broken(path):
                continue
            settings = {key: value for key, value in item.items() if key not in own_keys}
            self.check_json_values(settings, path)
            compiled = compile_value(settings, path, self.syntax_error)
            entries.append(
                PluginEntry(
                    section=section,
                    index=index,
                    use=item["use"],
                    settings=self.resolve_vars("", compiled, path, set()),
                    jobs=tuple(item.get("jobs", ())),
                    on=tuple(item.get("on", ())),
                )
            )
        return tuple(entries)

    def setting(self, raw: Any, path: KeyPath, key: str, default: Any) -> Any:
        """`raw[key]` when it passed the structural check, else `default`."""
        if not isinstance(raw, dict) or key not in raw or self.is_broken((*path, key)):
            return default
        return raw[key]

    def build_defaults(self, raw: Any) -> Defaults:
        path: KeyPath = ("defaults",)
        timeout = self.setting(raw, path, "timeout", None)
        return Defaults(
            retries=self.setting(raw, path, "retries", 0),
            timeout=self.duration(timeout, (*path, "timeout")),
            continue_on_error=self.setting(raw, path, "continue_on_error", False),
            max_instances=self.setting(raw, path, "max_instances", DEFAULT_MAX_INSTANCES),
        )

    def build_run(self, raw: Any) -> RunSettings:
        path: KeyPath = ("run",)
        durations = {
            key: self.duration(self.setting(raw, path, key, default), (*path, key))
            for key, default in (
                ("retry_budget", DEFAULT_RETRY_BUDGET),
                ("retry_delay", DEFAULT_RETRY_DELAY),
                ("retry_max_delay", DEFAULT_RETRY_MAX_DELAY),
            )
        }
        return RunSettings(
            max_parallel=self.setting(raw, path, "max_parallel", DEFAULT_MAX_PARALLEL),
            fail_fast=self.setting(raw, path, "fail_fast", True),
            retry_budget=_or(durations["retry_budget"], DEFAULT_RETRY_BUDGET),
            retry_delay=_or(durations["retry_delay"], DEFAULT_RETRY_DELAY),
            retry_max_delay=_or(durations["retry_max_delay"], DEFAULT_RETRY_MAX_DELAY),
            written=frozenset(raw) if isinstance(raw, dict) else frozenset(),
        )

    def duration(self, value: Any, path: KeyPath) -> float | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as error:
            self.report(str(error), path)
            return None

    # --- jobs ------------------------------------------------------------------------------

    def build_job(self, name: str, raw: dict[str, Any], defaults: Defaults) -> JobSpec | None:
        """The job, or None when it cannot run; every section is checked either way."""
        base: KeyPath = ("jobs", name)

        def setting(key: str, default: Any) -> Any:
            return self.setting(raw, base, key, default)

        function = None
        if isinstance(setting("function", None), str):
            try:
                function = FunctionRef.parse(raw["function"])
            except ValueError as error:
                self.report(str(error), (*base, "function"))
        raw_matrix = raw.get("matrix")
        matrix = self.build_matrix(name, raw_matrix, raw, defaults)
        matrix_keys = set(matrix.keys) if matrix else set()
        inputs = self.compile_section(name, setting("inputs", {}), "inputs", matrix_keys)
        env = self.compile_section(name, setting("env", {}), "env", matrix_keys)
        webhooks = self.compile_section(name, setting("webhooks", []), "webhooks", matrix_keys)
        if matrix is not None and matrix.rows is not None:
            self.check_rows(name, matrix.rows, raw_matrix, (inputs, env, webhooks))
        needs = tuple(setting("needs", ()))
        for index, needed in enumerate(needs):
            self.check_job_name(name, needed, (*base, "needs", index))
        referenced = [
            ref.name
            for value in (inputs, env, webhooks, matrix.axes if matrix else {})
            for template in _templates(value)
            for ref in template.references
            if ref.scope == "jobs"
        ]
        dependencies = tuple(
            dep
            for dep in dict.fromkeys([*needs, *referenced])
            if dep in self.job_name_set and dep != name
        )
        self.dependency_graph[name] = dependencies
        timeout = setting("timeout", None)
        if function is None or self.is_broken(base):
            return None
        return JobSpec(
            name=name,
            function=function,
            description=setting("description", ""),
            inputs=inputs,
            env=env,
            webhooks=webhooks,
            needs=needs,
            dependencies=dependencies,
            matrix=matrix,
            retries=setting("retries", defaults.retries),
            timeout=(
                self.duration(timeout, (*base, "timeout"))
                if timeout is not None
                else defaults.timeout
            ),
            continue_on_error=setting("continue_on_error", defaults.continue_on_error),
            max_instances=setting("max_instances", defaults.max_instances),
            tags=tuple(setting("tags", ())),
        )

    def compile_section(self, job: str, value: Any, section: str, matrix_keys: set[str]) -> Any:
        base: KeyPath = ("jobs", job, section)
        self.check_json_values(value, base)
        compiled = compile_value(value, base, self.syntax_error)
        return self.resolve_vars(job, compiled, base, matrix_keys)

    def check_json_values(self, value: Any, path: KeyPath) -> None:
        """Report TOML values that JSON cannot carry (dates and times, inf and nan)."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.check_json_values(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check_json_values(item, (*path, index))
        elif isinstance(value, (datetime.date, datetime.time)):
            self.report(
                f"TOML dates and times cannot be sent to Sieve (JSON has none): write "
                f"{value.isoformat()!r} as a quoted string",
                path,
            )
        elif isinstance(value, float) and not math.isfinite(value):
            self.report(f"{value} is not a JSON number: Sieve cannot receive it", path)

    def syntax_error(self, path: KeyPath, error: ReferenceSyntaxError) -> None:
        self.report(f"bad reference {error.message}", path, offset=error.offset)

    def resolve_vars(self, job: str, value: Any, path: KeyPath, matrix_keys: set[str]) -> Any:
        """Substitute `vars`, check every other reference; walk keeps paths for messages."""
        if isinstance(value, Template):
            return substitute(value, lambda ref: self.check_reference(job, ref, path, matrix_keys))
        if isinstance(value, dict):
            return {
                key: self.resolve_vars(job, item, (*path, key), matrix_keys)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [
                self.resolve_vars(job, item, (*path, index), matrix_keys)
                for index, item in enumerate(value)
            ]
        return value

    def check_reference(
        self, job: str, ref: Reference, path: KeyPath, matrix_keys: set[str]
    ) -> Any:
        """The value of a `vars` reference; KEEP for the others once they are checked."""
        if path[0] in ("sinks", "notify") and ref.scope not in ("vars", "env"):
            self.report(
                f"{ref.placeholder}: a {path[0]} entry may refer only to vars and env "
                "(it is set up before any job runs)",
                path,
                offset=ref.offset,
            )
            return KEEP
        if ref.scope == "vars":
            if ref.name not in self.vars:
                hint = did_you_mean(ref.name, self.vars)
                where = "; define it in [vars] or pass --var" if not hint else ""
                self.report(
                    f"{ref.placeholder}: no variable {ref.name!r}{hint}{where}",
                    path,
                    offset=ref.offset,
                )
                return KEEP
            try:
                return follow_steps(self.vars[ref.name], ref.steps, f"vars.{ref.name}")
            except StepError as error:
                self.report(f"{ref.placeholder}: {error}", path, offset=ref.offset)
                return KEEP
        if ref.scope == "env":
            if self.require_env and ref.name not in self.environ:
                self.report(
                    f"{ref.placeholder}: environment variable {ref.name!r} is not set "
                    "(set it, or check without it using --allow-missing-env)",
                    path,
                    offset=ref.offset,
                )
            return KEEP
        if ref.scope == "matrix":
            if path[2] == "matrix":
                self.report(
                    f"{ref.placeholder}: a matrix cannot refer to itself", path, offset=ref.offset
                )
            elif ref.name not in matrix_keys:
                table = self.row_tables.get(job)
                if table is not None and table.source is not None:
                    hint = did_you_mean(ref.name, matrix_keys)
                    known = ", ".join(table.columns)
                    message = f"no column {ref.name!r} in {table.source}{hint} (columns: {known})"
                elif matrix_keys:
                    hint = did_you_mean(ref.name, matrix_keys)
                    known = ", ".join(sorted(matrix_keys))
                    message = f"the matrix has no key {ref.name!r}{hint} (keys: {known})"
                else:
                    message = "this job has no matrix"
                self.report(f"{ref.placeholder}: {message}", path, offset=ref.offset)
            return KEEP
        self.check_job_name(job, ref.name, path, prefix=f"{ref.placeholder}: ", offset=ref.offset)
        return KEEP

    def check_job_name(
        self, job: str, other: str, path: KeyPath, *, prefix: str = "", offset: int = -1
    ) -> None:
        if other == job:
            self.report(f"{prefix}a job cannot depend on itself", path, offset=offset)
        elif other not in self.job_name_set:
            hint = did_you_mean(other, self.job_names)
            self.report(f"{prefix}no job named {other!r}{hint}", path, offset=offset)

    # --- matrix ----------------------------------------------------------------------------

    def build_matrix(
        self, job: str, raw: Any, raw_job: dict[str, Any], defaults: Defaults
    ) -> Matrix | None:
        base: KeyPath = ("jobs", job, "matrix")
        if not isinstance(raw, dict) or base in self.broken:
            return None
        axes: dict[str, list[Any] | Template] = {}
        complete = True
        for key, values in raw.items():
            if key in _SETTINGS:
                continue
            axis = self.build_axis(job, values, (*base, key))
            if axis is None:
                complete = False
            else:
                axes[key] = axis
        table = self.build_rows(job, raw)
        if not axes and table is None:
            if all(key in _SETTINGS and key not in (ROWS, INCLUDE) for key in raw):
                self.report("a matrix needs an axis, `rows` or `include`", base, at_value=False)
            return None
        columns = table.columns if table is not None else []
        for key in axes:
            if key in columns:
                self.report(
                    f"{key!r} is both a matrix axis and a column of the rows; rename one",
                    (*base, key),
                    at_value=False,
                )
        exclude = self.build_exclude(job, raw.get(EXCLUDE, []), [*columns, *axes])
        if not complete:
            return Matrix(axes, exclude, table)
        limit = raw_job.get("max_instances", defaults.max_instances)
        static = {key: values for key, values in axes.items() if isinstance(values, list)}
        rows = None if table is None else len(table.rows)
        count = math.prod(len(values) for values in static.values()) * (rows or 1)
        if count > limit:
            self.report(
                f"the matrix expands to {count:,} instances ({size_text(static, rows)}), more "
                f"than max_instances = {limit:,}; set max_instances on the job or in [defaults] "
                "to allow it",
                base,
                at_value=False,
            )
        return Matrix(axes, exclude, table)

    def build_rows(self, job: str, raw: dict[str, Any]) -> RowTable | None:
        """`matrix.rows` (a data file) and `matrix.include` (inline rows) as one table, or None
        when the matrix has neither. Problems in the file's rows wait in the table until the
        job's references say which columns it uses (`check_rows`)."""
        base: KeyPath = ("jobs", job, "matrix")
        if ROWS not in raw and INCLUDE not in raw:
            for setting in (KEY, COLUMNS):
                if setting in raw:
                    self.report(
                        f"matrix.{setting} is about rows: add matrix.rows (a data file) or "
                        "matrix.include (rows written inline)",
                        (*base, setting),
                        at_value=False,
                    )
            return None
        key = self.setting(raw, base, KEY, None)
        declared = self.setting(raw, base, COLUMNS, {})
        table = RowTable()
        if ROWS in raw and not self.is_broken((*base, ROWS)):
            where = self.resolve_vars(
                job,
                compile_value(raw[ROWS], (*base, ROWS), self.syntax_error),
                (*base, ROWS),
                set(),
            )
            if isinstance(where, Template) or not isinstance(where, str):
                self.report(
                    "matrix.rows is the path of a data file (.csv, .tsv, .jsonl or .json), "
                    "relative to the manifest; it may use vars only",
                    (*base, ROWS),
                )
                return None
            try:
                file = self.path.parent / where
                # shown normalised (`data/../x.csv` as `x.csv`), opened as written
                table = read_rows(file, os.path.normpath(file), columns=declared, key=key)
            except RowFileError as error:
                self.report(str(error), (*base, ROWS))
                return None
            if table.sha256 is not None:
                self.data_files[where] = table.sha256
        typed_file = table.source is not None and table.source.lower().endswith((".csv", ".tsv"))
        for name in declared if not typed_file else ():
            what = f"{table.source} is JSON" if table.source else "rows written inline"
            self.report(
                f"{what}: its values keep their own types; matrix.columns is for CSV and TSV files",
                (*base, COLUMNS, name),
                at_value=False,
            )
        self.add_included_rows(job, raw, table, key)
        if key is not None and key not in table.columns:
            where_text = f"in {table.source}" if table.source else "in the rows"
            self.report(
                f"no column {key!r} {where_text}{did_you_mean(key, table.columns)} "
                f"(columns: {', '.join(table.columns) or 'none'})",
                (*base, KEY),
            )
        if table.source is not None:
            for name in declared:
                if name not in table.columns and not self.is_broken((*base, COLUMNS)):
                    self.report(
                        f"no column {name!r} in {table.source}{did_you_mean(name, table.columns)}"
                        f" (columns: {', '.join(table.columns)})",
                        (*base, COLUMNS, name),
                        at_value=False,
                    )
        self.row_tables[job] = table
        return table

    def add_included_rows(
        self, job: str, raw: dict[str, Any], table: RowTable, key: str | None
    ) -> None:
        """Append `matrix.include`'s rows (TOML tables, which keep their types) to `table`."""
        path: KeyPath = ("jobs", job, "matrix", INCLUDE)
        entries = raw.get(INCLUDE)
        if not isinstance(entries, list) or self.is_broken(path):
            return
        self.check_json_values(entries, path)
        columns = dict.fromkeys(table.columns)
        start = len(table.rows)
        for index, entry in enumerate(entries):
            entry_path = (*path, index)
            compiled = self.resolve_vars(
                job, compile_value(entry, entry_path, self.syntax_error), entry_path, set()
            )
            if _templates(compiled):
                self.report("included rows may refer to vars only", entry_path)
                continue
            found = self.positions.value(entry_path) or (None, None)
            line, column = found[0] or 0, found[1]
            table.rows.append(MatrixRow(compiled, "", str(self.path), line, column))
            columns.update(dict.fromkeys(compiled))
        table.columns = list(columns)
        label_rows(table, key, start=start, name="include")

    def check_rows(self, job: str, table: RowTable, raw: Any, sections: tuple[Any, ...]) -> None:
        """Report the rows' problems: a used column without a value, and what reading found."""
        used = {
            ref.name
            for template in _templates(list(sections))
            for ref in template.references
            if ref.scope == "matrix"
        }
        key = raw.get(KEY) if isinstance(raw, dict) else None
        if isinstance(key, str):
            used.add(key)
        check_used_columns(table, used)
        problems = table.all_problems()
        if problems:
            seen = {str(problem) for problem in self.problems}
            self.problems.extend(p for p in problems if str(p) not in seen)
            self.broken.add(("jobs", job, "matrix"))

    def build_axis(self, job: str, values: Any, path: KeyPath) -> list[Any] | Template | None:
        """One axis: a list of values, or a Template for a run-time axis; None if it is bad."""
        if self.is_broken(path):
            return None
        self.check_json_values(values, path)
        compiled = self.resolve_vars(
            job, compile_value(values, path, self.syntax_error), path, set()
        )
        if isinstance(compiled, Template):
            ref = compiled.whole
            if ref is not None and ref.scope in ("vars", "matrix"):
                return None  # a missing var or a self-reference, already reported
            if ref is None or ref.scope != "jobs":
                self.report(
                    "a matrix axis must be a list, or a single reference to a list "
                    "(e.g. '${{ vars.NAME }}' or '${{ jobs.NAME.outputs }}')",
                    path,
                )
                return None
            return compiled
        if isinstance(compiled, str) and isinstance(values, str):
            # a `${{ vars.x }}` that resolved to a string, not a list
            self.report(f"a matrix axis must be a list; {values} is a string", path)
            return None
        if not isinstance(compiled, list) or not compiled:
            self.report("a matrix axis must be a non-empty list of values", path)
            return None
        if _templates(compiled):
            self.report(
                "matrix values may refer to vars only (their instances must be known "
                "before the run); use a single '${{ jobs.NAME.outputs }}' for a run-time axis",
                path,
            )
            return None
        duplicate = _first_duplicate(compiled)
        if duplicate is not None:
            self.report(f"duplicate matrix value {duplicate}: each value must be unique", path)
            return None
        return compiled

    def build_exclude(self, job: str, raw: Any, axes: list[str]) -> tuple[dict[str, Any], ...]:
        """`matrix.exclude`: partial combinations to leave out; keys must be axes (or columns
        of the rows)."""
        path: KeyPath = ("jobs", job, "matrix", EXCLUDE)
        if not isinstance(raw, list) or self.is_broken(path):
            return ()
        self.check_json_values(raw, path)
        entries = []
        for index, entry in enumerate(raw):
            entry_path = (*path, index)
            compiled = self.resolve_vars(
                job, compile_value(entry, entry_path, self.syntax_error), entry_path, set()
            )
            if _templates(compiled):
                self.report("exclude entries may refer to vars only", entry_path)
                continue
            unknown = [key for key in compiled if key not in axes]
            for key in unknown:
                self.report(
                    f"the matrix has no axis {key!r}{did_you_mean(key, axes)} "
                    f"(axes: {', '.join(axes)})",
                    (*entry_path, key),
                    at_value=False,
                )
            if not unknown:
                entries.append(compiled)
        return tuple(entries)

    # --- graph -----------------------------------------------------------------------------

    def check_graph(self) -> None:
        cycle = find_cycle(self.dependency_graph)
        if cycle:
            first = cycle[0]
            self.report(f"dependency cycle: {' -> '.join(cycle)}", ("jobs", first), at_value=False)


def _templates(value: Any) -> list[Template]:
    return walk_templates(value)


def _first_duplicate(values: list[Any]) -> str | None:
    seen: set[str] = set()
    for value in values:
        text = json.dumps(value, sort_keys=True, default=str)
        if text in seen:
            return text
        seen.add(text)
    return None


def _friendlier_toml_message(message: str) -> str:
    if message == "Illegal character '\\n'" or message == "Unterminated string":
        return f"{message[:1].lower() + message[1:]} (is a string missing its closing quote?)"
    if message.startswith("Cannot overwrite a value") or "twice" in message:
        return (
            f"{message}: a key or table is defined twice (each may appear once; "
            "job names must be unique)"
        )
    return message[:1].lower() + message[1:]


def _in_other_file(error: ManifestError, path: Path) -> bool:
    return error.location is not None and error.location.path != str(path)


def _sort_key(error: ManifestError) -> tuple[int, int]:
    location = error.location
    if location is None:
        return (0, 0)
    return (location.line or 0, location.column or 0)


def _or(value: float | None, default: float) -> float:
    """`value` unless it is None (a broken setting, reported already)."""
    return default if value is None else value
