"""Typed job errors and the error code catalogue.

A handler signals a clear, expected failure by raising a :class:`JobFailure` (or a subclass); the
core stores it on the job as ``error = {code, message, details}``. Any other exception becomes
``HANDLER_ERROR`` with the exception's class name and traceback in ``details``.

=====================  =========  ============================================================
code                   retried    meaning
=====================  =========  ============================================================
UNKNOWN_JOB_TYPE       no         no installed plugin handles the job's ``job_type``
INVALID_PARAMETERS     no         parameters do not match the job type's schema
INPUT_NOT_FOUND        no         an input file or URL does not exist
INPUT_NOT_A_FILE       no         an input path names a directory (or other non-file), not a file
INPUT_FORBIDDEN        no         an input is outside the configured input roots / allow-list
INPUT_TOO_LARGE        no         an input exceeds a configured size, duration or pixel limit
UNSUPPORTED_INPUT      no         the input is not of a kind the handler can process
DEPENDENCY_MISSING     no         a package or program the job needs is not installed
CANCELLED              no         cancelled by a user (``jobworker cancel``)
INVALID_DOCUMENT       no         the stored job (or what its attempt returned) cannot be read or
                                  written by the store: quarantined, never run (``details.problem``)
DOCUMENT_TOO_LARGE     no         a write of the job cannot succeed because its MongoDB document
                                  would pass 16 MiB (an error, progress or logs too large)
TIMEOUT                yes        the attempt ran past the job's timeout and was stopped
WORKER_LOST            yes        the worker holding the job died; its lease expired
HANDLER_ERROR          yes        the handler raised an unexpected exception
=====================  =========  ============================================================

Retried codes are retried with exponential backoff and jitter until the job's ``max_attempts``
is reached; after that the job fails with that code. A plugin may use its own codes
(``JobFailure("...", code="PDF_ENCRYPTED")``); they are not retried unless ``retryable=True``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CANCELLED",
    "DEPENDENCY_MISSING",
    "HANDLER_ERROR",
    "INPUT_FORBIDDEN",
    "INPUT_NOT_A_FILE",
    "INPUT_NOT_FOUND",
    "INPUT_TOO_LARGE",
    "DOCUMENT_TOO_LARGE",
    "INVALID_DOCUMENT",
    "INVALID_PARAMETERS",
    "TIMEOUT",
    "UNKNOWN_JOB_TYPE",
    "UNSUPPORTED_INPUT",
    "WORKER_LOST",
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
]

UNKNOWN_JOB_TYPE = "UNKNOWN_JOB_TYPE"
INVALID_PARAMETERS = "INVALID_PARAMETERS"
INPUT_NOT_FOUND = "INPUT_NOT_FOUND"
INPUT_NOT_A_FILE = "INPUT_NOT_A_FILE"
INPUT_FORBIDDEN = "INPUT_FORBIDDEN"
INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
UNSUPPORTED_INPUT = "UNSUPPORTED_INPUT"
DEPENDENCY_MISSING = "DEPENDENCY_MISSING"
CANCELLED = "CANCELLED"
INVALID_DOCUMENT = "INVALID_DOCUMENT"
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
TIMEOUT = "TIMEOUT"
WORKER_LOST = "WORKER_LOST"
HANDLER_ERROR = "HANDLER_ERROR"


class JobFailure(Exception):
    """An expected failure of a job, stored as ``error = {code, message, details}``."""

    #: Class defaults; an instance may override either through the constructor.
    code: str = HANDLER_ERROR
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.details = details

    def __reduce__(self) -> Any:  # keep code/details across the process executor's pipe
        return (_rebuild, (type(self), self.message, self.code, self.details, self.retryable))


def _rebuild(cls: type[JobFailure], message: str, code: str, details: Any, retry: bool) -> Any:
    err = cls.__new__(cls)
    JobFailure.__init__(err, message, code=code, details=details, retryable=retry)
    return err


class UnknownJobType(JobFailure):
    code = UNKNOWN_JOB_TYPE


class InvalidParameters(JobFailure, ValueError):
    code = INVALID_PARAMETERS


class InputNotFound(JobFailure):
    code = INPUT_NOT_FOUND


class InputNotAFile(InputNotFound):
    """The path exists but is a directory (or another non-file); an :class:`InputNotFound`
    for code that catches that."""

    code = INPUT_NOT_A_FILE


class InputForbidden(JobFailure):
    code = INPUT_FORBIDDEN


class InputTooLarge(JobFailure):
    code = INPUT_TOO_LARGE


class UnsupportedInput(JobFailure):
    code = UNSUPPORTED_INPUT


class DependencyMissing(JobFailure):
    code = DEPENDENCY_MISSING


class Cancelled(JobFailure):
    code = CANCELLED
