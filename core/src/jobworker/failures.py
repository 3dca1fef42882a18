"""What an exception that ended an attempt means: its typed error, and whether it is retried.

The worker turns every way an attempt can end badly into a :class:`~jobworker.model.JobError`
here; whether a retryable one is retried (and when) is :func:`jobworker.lifecycle.after_failure`.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

from . import errors
from .executors import AttemptStopped, RemoteError
from .handler import JobHandler
from .model import Job, JobError

__all__ = ["attempt_error"]


def attempt_error(
    exc: BaseException,
    job: Job,
    handler: JobHandler | None,
    stop_reason: str | None,
    elapsed: float,
) -> tuple[JobError, bool] | None:
    """``(error, retryable)`` for the exception that ended attempt ``job.attempts``; ``None``
    when the attempt was stopped by a shutdown (handed back, not charged).

    ``stop_reason`` is why the worker stopped the attempt, if it did (``"timeout"``,
    ``"cancelled"``, ``"shutdown"``): a cancelled job fails with ``CANCELLED`` whatever the
    handler raised on its way out.
    """
    details: dict[str, Any] = {"duration_ms": int(elapsed * 1000), "attempt": job.attempts}
    if isinstance(exc, (AttemptStopped, asyncio.CancelledError)):
        reason = getattr(exc, "reason", None) or stop_reason or "shutdown"
        if reason == "shutdown":
            return None
        if reason == "timeout":
            limit = job.timeout or (handler.timeout if handler else None)
            error = JobError(
                errors.TIMEOUT, f"attempt stopped after its timeout of {limit} s", details
            )
            retryable = True
        else:
            error = JobError(errors.CANCELLED, "cancelled while running", details)
            retryable = False
    elif isinstance(exc, errors.JobFailure):
        error = JobError(exc.code, exc.message, {**details, **(exc.details or {})})
        retryable = exc.retryable
    elif isinstance(exc, RemoteError):
        error = JobError(
            errors.HANDLER_ERROR,
            f"{exc.type_name}: {exc.message}",
            {**details, "exception": exc.type_name, "traceback": exc.tb},
        )
        retryable = True
    else:
        error = JobError(
            errors.HANDLER_ERROR,
            f"{type(exc).__name__}: {exc}",
            {
                **details,
                "exception": type(exc).__name__,
                "traceback": "".join(traceback.format_exception(exc)),
            },
        )
        retryable = True
    if stop_reason == "cancelled" and error.code != errors.CANCELLED:
        error = JobError(errors.CANCELLED, "cancelled while running", details)
        retryable = False
    return error, retryable
