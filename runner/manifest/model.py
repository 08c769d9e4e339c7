"""The typed manifest: what the loader returns and everything downstream reads.

Values that may hold references (`inputs`, `env`, `webhooks`, matrix axes) are kept as
"compiled values": plain JSON-like data in which each string that contains `${{ ... }}` is a
`Template`. `vars` references are already substituted by the loader, so templates only refer
to `env`, `matrix` and `jobs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import SourceLocation
from runner.manifest.positions import KeyPath, PositionIndex
from runner.manifest.references import Reference, Template, walk_templates
from runner.manifest.values import is_static

if TYPE_CHECKING:
    from runner.manifest.rows import RowTable

_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
FUNCTION_REF_PATTERN = rf"^({_PART})/({_PART})(?::({_PART}))?$"
_FUNCTION_REF = re.compile(FUNCTION_REF_PATTERN)

#: What `max_instances` is when neither the job nor `[defaults]` sets it.
DEFAULT_MAX_INSTANCES = 1000
#: `max_parallel` when neither `[run]` nor `-j` sets it: high enough that independent work is
#: not held back (a script would push it all at once); the service's own limit lowers it when
#: it reports one, and 429s shrink it during a run (docs/running.md, "Parallelism").
DEFAULT_MAX_PARALLEL = 1000
#: `[run]` retry settings when the manifest leaves them out (seconds; see runner.client).
DEFAULT_RETRY_BUDGET = 120.0
DEFAULT_RETRY_DELAY = 0.25
DEFAULT_RETRY_MAX_DELAY = 15.0


@dataclass(frozen=True)
class FunctionRef:
    """`owner/name[:version]`; `version` is None when the manifest does not pin one."""

    owner: str
    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> FunctionRef:
        """Parse `owner/name[:version]`; ValueError with a user-facing message otherwise."""
        match = _FUNCTION_REF.match(text)
        if not match:
            raise ValueError(
                f"{text!r} is not a function reference: expected 'owner/name' or "
                "'owner/name:version' (e.g. 'sieve/speech_transcriber')"
            )
        return cls(match.group(1), match.group(2), match.group(3))

    @property
    def slug(self) -> str:
        """`owner/name`, without the version."""
        return f"{self.owner}/{self.name}"

    @property
    def is_local(self) -> bool:
        """Functions under the `local/` owner exist only on the local backend."""
        return self.owner == "local"

    def __str__(self) -> str:
        return self.slug + (f":{self.version}" if self.version else "")


@dataclass(frozen=True)
class Defaults:
    """`[defaults]`: what every job inherits unless it sets its own value."""

    retries: int = 0
    timeout: float | None = None
    continue_on_error: bool = False
    max_instances: int = DEFAULT_MAX_INSTANCES


@dataclass(frozen=True)
class RunSettings:
    """`[run]`: how a run behaves as a whole."""

    max_parallel: int = DEFAULT_MAX_PARALLEL
    fail_fast: bool = True
    #: How long a failing request is retried (seconds from its first try), the first
    #: retry's wait, and the longest wait between retries.
    retry_budget: float = DEFAULT_RETRY_BUDGET
    retry_delay: float = DEFAULT_RETRY_DELAY
    retry_max_delay: float = DEFAULT_RETRY_MAX_DELAY
    #: The settings the manifest writes (the others are defaults, which a service's limit
    #: may change); not part of the settings' value.
    written: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class Matrix:
    """A job's matrix: axis name -> its values (a list) or a Template resolving to a list.

    A Template axis refers to upstream outputs (`${{ jobs.X.outputs }}`); such a matrix is
    dynamic and expands at run time (`Plan.expand`). `exclude` lists partial combinations
    (axis -> value) whose matching instances are left out. `rows` (from `matrix.rows` and
    `matrix.include`) multiplies the axes: one instance per row and combination.
    """

    axes: dict[str, list[Any] | Template]
    exclude: tuple[dict[str, Any], ...] = ()
    rows: RowTable | None = None

    @property
    def is_dynamic(self) -> bool:
        return any(isinstance(values, Template) for values in self.axes.values())

    @property
    def keys(self) -> tuple[str, ...]:
        """What `${{ matrix.KEY }}` may name: the rows' columns, then the axes."""
        return (*(self.rows.columns if self.rows is not None else ()), *self.axes)


@dataclass
class JobSpec:
    """One `[jobs.NAME]` table, with `[defaults]` applied.

    `needs` is what the manifest lists; `dependencies` adds every job referenced through
    `${{ jobs.X... }}`, in order of first mention. `timeout` is in seconds (None: no limit).
    """

    name: str
    function: FunctionRef
    description: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    webhooks: list[Any] = field(default_factory=list)
    needs: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    matrix: Matrix | None = None
    retries: int = 0
    timeout: float | None = None
    continue_on_error: bool = False
    max_instances: int = DEFAULT_MAX_INSTANCES
    tags: tuple[str, ...] = ()

    @property
    def references(self) -> list[Reference]:
        """Every reference left in inputs, env, webhooks and matrix (vars are substituted)."""
        found: list[Reference] = []
        values: list[Any] = [self.inputs, self.env, self.webhooks]
        if self.matrix:
            values.append(self.matrix.axes)
        for template in walk_templates(values):
            found.extend(template.references)
        return found

    @cached_property
    def static_sections(self) -> frozenset[str]:
        """Which of inputs, env and webhooks hold no reference (shared by all instances)."""
        return frozenset(
            section
            for section in ("inputs", "env", "webhooks")
            if is_static(getattr(self, section))
        )

    @cached_property
    def run_time_inputs(self) -> frozenset[str]:
        """Inputs whose value is known only at run time: they refer to upstream jobs, to the
        environment, or to the matrix of a run-time matrix (whose stand-in instance carries no
        matrix values, not even its static axes' or rows'). The others can be checked statically.
        """
        dynamic = self.matrix is not None and self.matrix.is_dynamic
        return frozenset(
            name
            for name, value in self.inputs.items()
            for template in walk_templates(value)
            for ref in template.references
            if ref.scope in ("jobs", "env") or (ref.scope == "matrix" and dynamic)
        )

    @property
    def env_names(self) -> tuple[str, ...]:
        """Environment variables the job reads (`${{ env.NAME }}`), for cache keys and docs."""
        return tuple(dict.fromkeys(ref.name for ref in self.references if ref.scope == "env"))


@dataclass(frozen=True)
class PluginEntry:
    """One `[[sinks]]` or `[[notify]]` entry: the kind it uses and that kind's settings.

    `settings` are the entry's own keys (without `use`, `jobs`, `on`) as compiled values: vars
    are substituted, `${{ env.NAME }}` stays a Template until the run resolves it. `jobs` holds
    a sink's selectors (empty: every job); `on` a notifier's events.
    """

    section: str
    index: int
    use: str
    settings: dict[str, Any] = field(default_factory=dict)
    jobs: tuple[str, ...] = ()
    on: tuple[str, ...] = ()

    @property
    def key_path(self) -> tuple[str, int]:
        return (self.section, self.index)

    @property
    def label(self) -> str:
        """`sinks[0] (local)`: how messages name the entry."""
        return f"{self.section}[{self.index}] ({self.use})"


@dataclass
class Manifest:
    """A loaded, checked manifest. `jobs` keeps the order of the file."""

    path: Path
    name: str
    version: int = 1
    description: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    run: RunSettings = field(default_factory=RunSettings)
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    sinks: tuple[PluginEntry, ...] = ()
    notify: tuple[PluginEntry, ...] = ()
    positions: PositionIndex = field(default_factory=lambda: PositionIndex({}, {}))
    #: The data files matrices read rows from (as written, relative to the manifest) -> sha256.
    data_files: dict[str, str] = field(default_factory=dict)

    def locate(self, path: KeyPath, *, value: bool = False) -> SourceLocation:
        """The file:line:column of a key path (`("jobs", "dub", "inputs", "file")`)."""
        found = self.positions.value(path) if value else self.positions.key(path)
        if found is None:
            return SourceLocation(str(self.path))
        return SourceLocation(str(self.path), found[0], found[1])
