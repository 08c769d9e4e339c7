"""sievefile: declarative job manifests for the Sieve media-AI API.

The public API is what this module exports; everything else is internal and may change.
Plugin authors import from here: `hookimpl`, the records hooks receive (`RunInfo`,
`JobRecord`, `OutputRecord`, `RunResult`), what sinks and notifiers are (`Sink`, `SinkKind`,
`Delivery`, `Notifier`, `NotifierKind`, `Notification`) and the errors (see docs/plugins.md).
"""

from runner.errors import (
    ApiError,
    BackendError,
    ConfigError,
    Interrupted,
    LocalFunctionError,
    ManifestError,
    RunError,
    SievefileError,
    SourceLocation,
    ValidationError,
)
from runner.hookspecs import hookimpl
from runner.hooktypes import (
    DEFAULT_EVENTS,
    EVENTS,
    Delivery,
    DeliveryStats,
    JobRecord,
    JobStatus,
    Notification,
    Notifier,
    NotifierKind,
    OutputRecord,
    PluginContext,
    RegisterFunction,
    RegisterNotifier,
    RegisterSink,
    RunInfo,
    RunResult,
    Sink,
    SinkKind,
    safe_path_part,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "ApiError",
    "BackendError",
    "ConfigError",
    "Delivery",
    "DeliveryStats",
    "Interrupted",
    "JobRecord",
    "JobStatus",
    "LocalFunctionError",
    "ManifestError",
    "Notification",
    "Notifier",
    "NotifierKind",
    "OutputRecord",
    "PluginContext",
    "RegisterFunction",
    "RegisterNotifier",
    "RegisterSink",
    "RunError",
    "RunInfo",
    "RunResult",
    "SievefileError",
    "Sink",
    "SinkKind",
    "SourceLocation",
    "ValidationError",
    "__version__",
    "hookimpl",
    "safe_path_part",
]
