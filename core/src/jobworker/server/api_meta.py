"""REST routes about the installation: plugins, job types with their parameter schemas, the
worker fleet, health."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get

from ..model import utcnow
from ..plugins import Plugins
from .auth import principal_of, scope
from .errors import ApiError, documented
from .schemas import parameters_schema

__all__ = ["fleet_view", "job_type_info", "meta_router", "public_router"]

Req = Request[Any, Any, Any]


def _plugins(request: Req) -> Plugins:
    plugins: Plugins = request.app.state.client.plugins
    return plugins


def job_type_info(plugins: Plugins, job_type: str) -> dict[str, Any]:
    handler = plugins.handler_for(job_type)
    if handler is None:
        raise ApiError(404, "UNKNOWN_JOB_TYPE", f"no job type {job_type!r} is installed here")
    info = plugins.plugin_of(job_type)
    return {
        "job_type": handler.job_type,
        "aliases": list(handler.aliases),
        "description": handler.description,
        "plugin": info.name if info else None,
        "version": info.version if info else None,
        "executor": handler.executor,
        "timeout": handler.timeout,
        "max_attempts": handler.max_attempts,
        "available": handler.unavailable_reason() is None,
        "parameters": parameters_schema(handler.params) if handler.params else None,
    }


@get("/plugins", guards=[scope("read")], sync_to_thread=True)
def list_plugins(request: Req) -> list[dict[str, Any]]:
    """Installed plugins with their versions and job types (as ``jobworker plugins --json``)."""
    return [p.as_dict() for p in _plugins(request).listing()]


@get("/job-types", guards=[scope("read")], sync_to_thread=True)
def list_job_types(request: Req) -> list[dict[str, Any]]:
    """Every job type this server accepts, each with a JSON Schema of its parameters."""
    plugins = _plugins(request)
    primary = sorted({h.job_type for t in plugins.job_types() if (h := plugins.handler_for(t))})
    return [job_type_info(plugins, t) for t in primary]


@get("/job-types/{job_type:str}", guards=[scope("read")], sync_to_thread=True)
def get_job_type(request: Req, job_type: str) -> dict[str, Any]:
    return job_type_info(_plugins(request), job_type)


def fleet_view(client: Any, *, admin: bool, include_gone: bool = False) -> list[dict[str, Any]]:
    """The worker registry as JSON (``WorkerRecord.as_json``); for keys without ``admin``
    the ids of the jobs a worker runs are replaced by their number."""
    now = utcnow()
    rows = []
    for record in client.workers(include_gone=include_gone):
        row = record.as_json(now)
        if not admin:
            row["running"] = len(row["running"])
        rows.append(row)
    return rows


@get("/workers", guards=[scope("read")], sync_to_thread=True)
def list_workers(request: Req, include_gone: bool = False) -> list[dict[str, Any]]:
    """The worker fleet from the store's registry: types served, running jobs, heartbeat age
    and state (``include_gone``: also stopped and dead workers still remembered)."""
    return fleet_view(
        request.app.state.client,
        admin=principal_of(request).admin,
        include_gone=include_gone,
    )


@get("/health", sync_to_thread=True)
def health(request: Req) -> dict[str, Any]:
    """Open to everyone: ``ok`` when the store answers (no counts, no names)."""
    try:
        request.app.state.client.store.count_by_status(batch_id="-health-")
    except Exception as exc:
        raise ApiError(
            503, "STORE_UNAVAILABLE", f"the store does not answer: {type(exc).__name__}"
        ) from exc
    return {"status": "ok"}


meta_router = Router(
    path="/v1",
    route_handlers=documented([list_plugins, list_job_types, get_job_type, list_workers]),
    tags=["meta"],
)
public_router = Router(path="/v1", route_handlers=[health], tags=["meta"])
