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
from .handler import JobContext, JobHandler, resolve_under
from .model import Batch, Job, JobError, JobParameters, JobProgress, JobStatus, LogEntry
from .plugins import active as active_plugins
from .plugins import hookimpl

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
    "UnknownJobType",
    "UnsupportedInput",
    "active_plugins",
    "connect",
    "hookimpl",
    "resolve_under",
    "verify_webhook",
]
