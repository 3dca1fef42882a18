"""Errors as JSON, never a traceback: ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

import logging
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from ..errors import JobFailure

__all__ = [
    "ApiError",
    "ErrorBody",
    "LegacyErrorBody",
    "documented",
    "error_body",
    "exception_handlers",
]

log = logging.getLogger("jobworker.server")


class ApiError(HTTPException):
    """An error with a stable code, e.g. ``ApiError(404, "NOT_FOUND", "no such job")``."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.detail, exc.details)
    elif isinstance(exc, ValidationException):
        body = error_body("INVALID_REQUEST", "the request is not valid", exc.extra or None)
    else:
        body = error_body(_CODES.get(exc.status_code, "HTTP_ERROR"), exc.detail)
    return Response(body, status_code=exc.status_code, headers=exc.headers or None)


def _failure(request: Request[Any, Any, Any], exc: JobFailure) -> Response[Any]:
    return Response(error_body(exc.code, exc.message, exc.details), status_code=400)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return Response(error_body("INTERNAL_ERROR", "internal server error"), status_code=500)


exception_handlers: dict[Any, Any] = {
    HTTPException: _http,
    JobFailure: _failure,
    Exception: _unexpected,
}


@attrs.define
class ErrorDetail:
    code: str
    message: str
    details: dict[str, Any] | None = None


@attrs.define
class ErrorBody:
    """Every error of the ``/v1`` API."""

    error: ErrorDetail


@attrs.define
class LegacyErrorBody:
    """The old routes' errors: ``/api/jobs`` ``{status, error: {code?, message}}``,
    ``/api/event-job`` ``{status, message, error_type}``."""

    status: str
    error: dict[str, Any] | None = None
    message: str | None = None
    error_type: str | None = None


_DOCUMENTED = {
    400: "invalid request (malformed body, refused parameters)",
    401: "missing or unknown API key",
    403: "the key lacks the scope",
    404: "no such item (or not the key's)",
    409: "not possible in the item's state",
    413: "request body too large",
    429: "rate limit reached",
}


def documented(handlers: list[Any], body: type = ErrorBody) -> list[Any]:
    """Describe the error answers of ``handlers`` in the OpenAPI document with ``body`` (in
    place of Litestar's own validation-error shape, which this server never sends)."""
    for handler in handlers:
        extra = {
            code: ResponseSpec(data_container=body, description=text, generate_examples=False)
            for code, text in _DOCUMENTED.items()
        }
        handler.responses = {**extra, **(handler.responses or {})}
    return handlers
