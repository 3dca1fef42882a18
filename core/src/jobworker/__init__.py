"""jobworker: background jobs whose job types are plugins.

The public API. Plugins import only what is exported here and from :mod:`jobworker.testing`.
"""

from .client import Client, connect, verify_webhook
from .errors import (
    Cancelled,
    DependencyMissing,
    InputForbidden,
    InputNotFound,
    InputTooLarge,
    InvalidParameters,
    JobFailure,
    UnknownJobType,
    UnsupportedInput,
)
from .fleet import PluginRecord, WorkerRecord
from .handler import JobContext, JobHandler, resolve_under
from .hookspecs import hookspec
from .model import Batch, Job, JobError, JobParameters, JobProgress, JobStatus, LogEntry
from .net import NetworkError, download, safe_request
from .plugins import active as active_plugins
from .plugins import hookimpl
from .store import open_store

__all__ = [
    "Batch",
    "Cancelled",
    "Client",
    "DependencyMissing",
    "InputForbidden",
    "InputNotFound",
    "InputTooLarge",
    "InvalidParameters",
    "Job",
    "JobContext",
    "JobError",
    "JobFailure",
    "JobHandler",
    "JobParameters",
    "JobProgress",
    "JobStatus",
    "LogEntry",
    "NetworkError",
    "PluginRecord",
    "UnknownJobType",
    "UnsupportedInput",
    "WorkerRecord",
    "active_plugins",
    "connect",
    "download",
    "hookimpl",
    "hookspec",
    "open_store",
    "resolve_under",
    "safe_request",
    "verify_webhook",
]
