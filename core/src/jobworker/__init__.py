"""jobworker: background jobs whose job types are plugins.

The public API. Plugins import only what is exported here and from :mod:`jobworker.testing`.
Names are imported on first use (PEP 562), so ``import jobworker`` and the CLI start quickly;
type checkers see ordinary imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The core's version, written once: the build reads it from here (pyproject.toml), and
#: ``jobworker --version`` and the plugins' compatibility check read it without the metadata.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import Client, connect
    from .errors import (
        Cancelled,
        DependencyMissing,
        InputForbidden,
        InputNotAFile,
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
    from .webhooks import verify_webhook

#: exported name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    **{n: ("client", n) for n in ("Client", "connect")},
    **{
        n: ("errors", n)
        for n in (
            "Cancelled",
            "DependencyMissing",
            "InputForbidden",
            "InputNotAFile",
            "InputNotFound",
            "InputTooLarge",
            "InvalidParameters",
            "JobFailure",
            "UnknownJobType",
            "UnsupportedInput",
        )
    },
    **{n: ("fleet", n) for n in ("PluginRecord", "WorkerRecord")},
    **{n: ("handler", n) for n in ("JobContext", "JobHandler", "resolve_under")},
    "hookspec": ("hookspecs", "hookspec"),
    **{
        n: ("model", n)
        for n in (
            "Batch",
            "Job",
            "JobError",
            "JobParameters",
            "JobProgress",
            "JobStatus",
            "LogEntry",
        )
    },
    **{n: ("net", n) for n in ("NetworkError", "download", "safe_request")},
    "active_plugins": ("plugins", "active"),
    "hookimpl": ("plugins", "hookimpl"),
    "open_store": ("store", "open_store"),
    "verify_webhook": ("webhooks", "verify_webhook"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'jobworker' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "Batch",
    "Cancelled",
    "Client",
    "DependencyMissing",
    "InputForbidden",
    "InputNotAFile",
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
