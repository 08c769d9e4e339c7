"""sievefile: declarative job manifests for the Sieve media-AI API.

The public API is what this module exports; everything else is internal and may change.
Plugin authors import from here: `hookimpl`, the records hooks receive (`RunInfo`,
`JobRecord`, `OutputRecord`, `RunResult`), what sinks and notifiers are (`Sink`, `SinkKind`,
`Delivery`, `Notifier`, `NotifierKind`, `Notification`), what local functions use (`File`,
`Video`, `Audio`, `Image`, `check_cancelled`, `sleep`), `Secrets` for masking, durations as
manifests write them (`parse_duration`, `format_duration`), and the errors
(`DeliveryError` is how a sink or notifier says "wait" or "do not try again"; see
docs/plugins.md).
"""

from runner.durations import format_duration, parse_duration
from runner.errors import (
    ApiError,
    BackendError,
    ConfigError,
    DeliveryError,
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
from runner.local.types import Audio, File, Image, JobCancelled, Video, check_cancelled, sleep
from runner.secrets import Secrets

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "ApiError",
    "Audio",
    "BackendError",
    "ConfigError",
    "Delivery",
    "DeliveryError",
    "DeliveryStats",
    "File",
    "Image",
    "Interrupted",
    "JobCancelled",
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
    "Secrets",
    "SievefileError",
    "Sink",
    "SinkKind",
    "SourceLocation",
    "ValidationError",
    "Video",
    "__version__",
    "check_cancelled",
    "format_duration",
    "hookimpl",
    "parse_duration",
    "safe_path_part",
    "sleep",
]
