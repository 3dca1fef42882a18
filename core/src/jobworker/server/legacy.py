"""The old system's job routes, so its clients work unchanged (shared/legacy-api.md).

``/api/jobs/*`` (submit, batch, get, stream) answers with the old envelopes and the old job
rendering; the deleted ``/api/event-job/*`` job and batch routes are back where they map onto
the client API (create, list, get, restart). Kept: paths, bodies, status codes, envelopes, date
format. Dropped, on purpose (docs/server.md): a body ``user_id`` is ignored (the owner is the
calling key), webhook tokens and secrets are never echoed (``"***"``), errors never carry
tracebacks, parameters are validated at the door, and deleting, archiving and ``fail-all`` are
not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ..client import Client
from ..errors import JobFailure
from ..model import LEGACY_DEFAULT_TYPE, Batch, Job, JobParameters
from ..views import redact
from .api_jobs import owned_job
from .auth import principal_of, scope
from .config import ServerConfig
from .errors import ApiError, LegacyErrorBody, documented
from .events import ChangeHub, _message, _stream

__all__ = ["legacy_batch", "legacy_job", "legacy_router"]

Req = Request[Any, Any, Any]
_ALWAYS = ("job_id", "job_type", "status", "created_at", "updated_at", "parameters", "archived")
_WHEN_SET = (
    "job_name",
    "user_id",
    "processing_started_at",
    "completed_at",
    "progress",
    "results",
    "error",
    "batch_id",
)


def legacy_date(value: Any) -> Any:
    """Naive UTC ISO text like pymongo's dates: ``2026-03-04T10:11:12.345000`` (no offset)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: legacy_date(v) for k, v in value.items()}
    if isinstance(value, list):
        return [legacy_date(v) for v in value]
    return value


def legacy_job(job: Job) -> dict[str, Any]:
    """The old ``Job.to_dict`` rendering, secrets redacted and no tracebacks."""
    doc = job.to_dict()
    out = {k: doc.get(k) for k in _ALWAYS}
    # the old API always answered with every named parameter key (its JobParameters.to_dict)
    out["parameters"] = redact(JobParameters.from_dict(doc["parameters"]).to_dict())
    out["access_control"] = doc.get("access_control")
    for key in _WHEN_SET:
        if doc.get(key) is not None:
            out[key] = doc[key]
    error = out.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("details"), Mapping):
        details = {k: v for k, v in error["details"].items() if k != "traceback"}
        out["error"] = {**error, "details": details}
    rendered: dict[str, Any] = legacy_date(out)
    return rendered


def legacy_batch(batch: Batch) -> dict[str, Any]:
    doc = redact(batch.to_dict())
    doc.pop("announce_pending", None)
    doc.pop("owner_key", None)
    rendered: dict[str, Any] = legacy_date(doc)
    return rendered


def _client(request: Req) -> Client:
    client: Client = request.app.state.client
    return client


def _allow_unknown(request: Req) -> bool:
    config: ServerConfig = request.app.state.config
    return config.allow_unknown_type


# -- /api/jobs ------------------------------------------------------------------------------


@post("/jobs", guards=[scope("submit")], sync_to_thread=True, status_code=200)
def create_job(request: Req, data: dict[str, Any]) -> dict[str, Any]:
    """Old ``POST /api/jobs/``: ``{job_type, parameters, user_id?}`` (``user_id`` ignored)."""
    job_type = data.get("job_type")
    parameters = data.get("parameters") or {}
    if not isinstance(job_type, str) or not job_type or not isinstance(parameters, dict):
        raise ApiError(400, "INVALID_REQUEST", "job_type (text) and parameters (object) needed")
    job = _client(request).submit(
        job_type,
        parameters,
        owner=principal_of(request).key_id,
        allow_unknown_type=_allow_unknown(request),
    )
    return {"status": "success", "data": {"job_id": job.job_id, "job": legacy_job(job)}}


@post("/jobs/batch", guards=[scope("submit")], sync_to_thread=True, status_code=200)
def create_batch(request: Req, data: dict[str, Any]) -> dict[str, Any]:
    """Old ``POST /api/jobs/batch``: ``{batch_name?, jobs: [{job_type, parameters}]}``."""
    jobs = data.get("jobs")
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        raise ApiError(400, "INVALID_REQUEST", "jobs must be a list of objects")
    specs = [{"job_type": j.get("job_type"), "parameters": j.get("parameters") or {}} for j in jobs]
    batch, stored = _client(request).submit_batch_jobs(
        specs,
        batch_name=data.get("batch_name") if isinstance(data.get("batch_name"), str) else None,
        owner=principal_of(request).key_id,
        allow_unknown_type=_allow_unknown(request),
    )
    ids = [j.job_id for j in stored]
    return {
        "status": "success",
        "data": {"batch_id": batch.batch_id, "job_ids": ids, "batch": legacy_batch(batch)},
    }


@get("/jobs/{job_id:str}", guards=[scope("read")], sync_to_thread=True)
def read_job(request: Req, job_id: str) -> dict[str, Any]:
    job = _client(request).store.get_job(job_id, with_logs=False)
    if job is None or not principal_of(request).owns(job):
        raise ApiError(404, "", "job not found")
    return {"status": "success", "data": legacy_job(job)}


@get("/jobs/batch/{batch_id:str}", guards=[scope("read")], sync_to_thread=True)
def read_batch(request: Req, batch_id: str) -> dict[str, Any]:
    batch = _client(request).batch(batch_id)
    if batch is None or not principal_of(request).owns(batch):
        raise ApiError(404, "", "batch not found")
    return {"status": "success", "data": legacy_batch(batch)}


@get("/jobs/{job_id:str}/stream", guards=[scope("read")], sync_to_thread=True)
def stream_job(request: Req, job_id: str) -> ServerSentEvent:
    """Old SSE: events ``pending|progress|completed|error`` with
    ``{job:{id}, process:{id, main_processor}, phase, message, data|error}``."""
    client = _client(request)
    hub: ChangeHub = request.app.state.hub
    try:
        owned_job(request, job_id)
    except ApiError:

        async def missing() -> Any:
            yield _message(
                "error",
                {
                    "job": {"id": job_id},
                    "phase": "error",
                    "message": "job not found",
                    "error": {"code": "NOT_FOUND"},
                },
            )

        return ServerSentEvent(missing())
    seen: list[Any] = [None]

    def read() -> tuple[list[ServerSentEventMessage], bool]:
        job = client.store.get_job(job_id, with_logs=False)
        if job is None:
            return [], True
        progress = job.progress
        phase = {"pending": "pending", "processing": "progress", "completed": "completed"}.get(
            job.status.value, "error"
        )
        body: dict[str, Any] = {
            "job": {"id": job.job_id},
            "process": {"id": job.job_id, "main_processor": job.job_type},
            "phase": phase,
            "message": progress.message if progress else None,
        }
        if phase == "error" and job.error is not None:
            body["error"] = {"code": job.error.code, "message": job.error.message}
        else:
            body["data"] = (
                legacy_date(job.results)
                if phase == "completed"
                else {"progress": progress.percent if progress else 0}
            )
        if body == seen[0]:
            return [], job.status.terminal
        seen[0] = body
        return [_message(phase, body)], job.status.terminal

    return ServerSentEvent(_stream(hub, read))


# -- /api/event-job ---------------------------------------------------------------------------


def _event_error(status: int, message: str, error_type: str) -> Response[Any]:
    return Response(
        {"status": "error", "message": message, "error_type": error_type}, status_code=status
    )


@post("/event-job/jobs", guards=[scope("submit")], sync_to_thread=True, status_code=201)
def ej_create_job(request: Req, data: dict[str, Any]) -> dict[str, Any]:
    """``{parameters, job_name?, use_cache?}`` -> a ``session`` job (``job_id``, ``status``
    and the like in the body are not taken, unlike the old route)."""
    parameters = data.get("parameters")
    if not isinstance(parameters, dict):
        raise ApiError(400, "validation_error", "parameters (an object) is required")
    parameters = dict(parameters)
    if "use_cache" in data:
        parameters["use_cache"] = bool(data["use_cache"])
    name = data.get("job_name") if isinstance(data.get("job_name"), str) else None
    job = _client(request).submit(
        LEGACY_DEFAULT_TYPE,
        parameters,
        job_name=name,
        owner=principal_of(request).key_id,
        allow_unknown_type=_allow_unknown(request),
    )
    return {"status": "success", "job": legacy_job(job), "message": "Job erstellt"}


def _page(request: Req) -> tuple[int, int]:
    try:
        limit = max(1, min(500, int(request.query_params.get("limit", 100))))
        skip = max(0, int(request.query_params.get("skip", 0)))
    except ValueError as exc:
        raise ApiError(400, "validation_error", "limit and skip must be integers") from exc
    return limit, skip


@get("/event-job/jobs", guards=[scope("read")], sync_to_thread=True)
def ej_list_jobs(request: Req) -> dict[str, Any]:
    limit, skip = _page(request)
    status = request.query_params.get("status") or None
    if status not in (None, "pending", "processing", "completed", "failed"):
        raise ApiError(400, "validation_error", f"unknown status {status!r}")
    jobs = _client(request).list(
        status=status,
        batch_id=request.query_params.get("batch_id") or None,
        limit=limit,
        offset=skip,
        owner=principal_of(request).owner_filter,
    )
    return {"status": "success", "total": len(jobs), "jobs": [legacy_job(j) for j in jobs]}


@get("/event-job/jobs/{job_id:str}", guards=[scope("read")], sync_to_thread=True)
def ej_get_job(request: Req, job_id: str) -> Any:
    job = _client(request).store.get_job(job_id, with_logs=False)
    if job is None or not principal_of(request).owns(job):
        return _event_error(404, f"Job {job_id} nicht gefunden", "not_found")
    return {"status": "success", "job": legacy_job(job)}


@post("/event-job/batches", guards=[scope("submit")], sync_to_thread=True, status_code=201)
def ej_create_batch(request: Req, data: dict[str, Any]) -> dict[str, Any]:
    """``{jobs: [{parameters, job_name?}], batch_name?}`` -> a batch of ``session`` jobs
    (a custom ``batch_id`` is not taken)."""
    jobs = data.get("jobs")
    if not isinstance(jobs, list) or not jobs or not all(isinstance(j, dict) for j in jobs):
        raise ApiError(400, "validation_error", "jobs must be a non-empty list of objects")
    specs = [
        {
            "job_type": LEGACY_DEFAULT_TYPE,
            "parameters": j.get("parameters") or {},
            **({"job_name": j["job_name"]} if isinstance(j.get("job_name"), str) else {}),
        }
        for j in jobs
    ]
    batch = _client(request).submit_batch(
        specs,
        batch_name=data.get("batch_name") if isinstance(data.get("batch_name"), str) else None,
        owner=principal_of(request).key_id,
        allow_unknown_type=_allow_unknown(request),
    )
    return {"status": "success", "batch": legacy_batch(batch), "message": "Batch erstellt"}


@get("/event-job/batches", guards=[scope("read")], sync_to_thread=True)
def ej_list_batches(request: Req) -> dict[str, Any]:
    limit, _skip = _page(request)
    batches = _client(request).batches(
        status=request.query_params.get("status") or None,
        limit=limit,
        owner=principal_of(request).owner_filter,
    )
    return {
        "status": "success",
        "total": len(batches),
        "batches": [legacy_batch(b) for b in batches],
    }


@get("/event-job/batches/{batch_id:str}", guards=[scope("read")], sync_to_thread=True)
def ej_get_batch(request: Req, batch_id: str) -> Any:
    batch = _client(request).batch(batch_id)
    if batch is None or not principal_of(request).owns(batch):
        return _event_error(404, f"Batch {batch_id} nicht gefunden", "not_found")
    return {"status": "success", "batch": legacy_batch(batch)}


@post(
    "/event-job/{job_id:str}/restart",
    guards=[scope("submit")],
    sync_to_thread=True,
    status_code=200,
)
def ej_restart(request: Req, job_id: str) -> Any:
    """Restart a failed job (a real retry: error and results cleared, batch adjusted)."""
    job = _client(request).store.get_job(job_id, with_logs=False)
    if job is None or not principal_of(request).owns(job):
        return _event_error(404, f"Job {job_id} nicht gefunden", "not_found")
    again = _client(request).retry(job_id)
    if again is None:
        return _event_error(400, f"Job {job_id} ist nicht fehlgeschlagen", "invalid_state")
    return {"status": "success", "message": "Job neu gestartet", "job": legacy_job(again)}


def _legacy_errors(request: Req, exc: Exception) -> Response[Any]:
    """Old shapes: ``/api/jobs`` ``{"status":"error","error":{code?,message}}``;
    ``/api/event-job`` ``{"status":"error","message","error_type"}``. No tracebacks."""
    if isinstance(exc, ApiError):
        status, code, message = exc.status_code, exc.code, exc.detail
    elif isinstance(exc, JobFailure):
        status, code, message = 400, exc.code, exc.message
    elif isinstance(exc, HTTPException):
        status, code, message = exc.status_code, "INVALID_REQUEST", exc.detail
    else:
        status, code, message = 500, "INTERNAL_ERROR", "internal server error"
    if status == 401:
        code, message = "UNAUTHORIZED", "Invalid or missing service token"
    if request.url.path.startswith("/api/event-job"):
        return _event_error(status, message, code.lower() or "error")
    error = {"code": code, "message": message} if code else {"message": message}
    return Response({"status": "error", "error": error}, status_code=status)


legacy_router = Router(
    path="/api",
    route_handlers=documented(
        [
            create_job,
            create_batch,
            read_job,
            read_batch,
            stream_job,
            ej_create_job,
            ej_list_jobs,
            ej_get_job,
            ej_create_batch,
            ej_list_batches,
            ej_get_batch,
            ej_restart,
        ],
        LegacyErrorBody,
    ),
    exception_handlers={
        Exception: _legacy_errors,
        HTTPException: _legacy_errors,
        JobFailure: _legacy_errors,
    },
    tags=["legacy"],
    include_in_schema=True,
)
