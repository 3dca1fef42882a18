"""REST routes for jobs and batches: submit (JSON or an uploaded file), read, list with
filters and cursor pagination, logs, result files, cancel and retry."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import File

from ..client import Client
from ..model import Batch, Job, JobStatus
from ..views import batch_view, job_view
from .auth import Principal, principal_of, scope
from .config import ServerConfig
from .errors import ApiError, documented
from .models import BatchSpec, JobSpec, Page, decode_cursor, encode_cursor

__all__ = ["jobs_router", "owned_batch", "owned_job", "result_files", "upload_router"]

Req = Request[Any, Any, Any]


def client_of(request: Req) -> Client:
    client: Client = request.app.state.client
    return client


def owned_job(request: Req, job_id: str, *, with_logs: bool = False) -> Job:
    """The job, if the caller may see it; 404 otherwise (another key's job looks absent)."""
    job = client_of(request).store.get_job(job_id, with_logs=with_logs)
    if job is None or not principal_of(request).owns(job):
        raise ApiError(404, "NOT_FOUND", f"no job {job_id}")
    return job


def owned_batch(request: Req, batch_id: str) -> Batch:
    batch = client_of(request).batch(batch_id)
    if batch is None or not principal_of(request).owns(batch):
        raise ApiError(404, "NOT_FOUND", f"no batch {batch_id}")
    return batch


def _submit(request: Req, spec: JobSpec, principal: Principal) -> Job:
    config: ServerConfig = request.app.state.config
    client = client_of(request)
    if spec.batch_id:
        existing = client.batch(spec.batch_id)
        if existing is not None and not principal.owns(existing):
            raise ApiError(404, "NOT_FOUND", f"no batch {spec.batch_id}")
    return client.submit(
        spec.job_type,
        spec.parameters,
        owner=principal.key_id,
        allow_unknown_type=config.allow_unknown_type,
        **spec.options(),
    )


@post("/jobs", guards=[scope("submit")], sync_to_thread=True, status_code=201)
def submit_job(request: Req, data: JobSpec) -> dict[str, Any]:
    """Submit one job; answers the stored job (secrets redacted)."""
    return job_view(_submit(request, data, principal_of(request)))


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None) -> str:
    """The uploaded file's base name with anything unusual replaced (no paths, no dotfiles)."""
    base = _SAFE_NAME.sub("_", Path(name or "").name).lstrip(".")[:120]
    return base or "upload"


def store_upload(
    request: Req, spec: JobSpec, upload: UploadFile, file_param: str, principal: Principal
) -> Job:
    """Build the job, write the file to ``<upload_root>/<job_id>/<name>``, then store the job
    with ``parameters[file_param]`` = that path (the folder is removed if storing fails)."""
    config: ServerConfig = request.app.state.config
    client = client_of(request)
    folder_placeholder = str(config.upload_root / "pending" / safe_filename(upload.filename))
    parameters = {**spec.parameters, file_param: folder_placeholder}
    job = client.build_job(
        spec.job_type,
        parameters,
        owner=principal.key_id,
        allow_unknown_type=config.allow_unknown_type,
        **{k: v for k, v in spec.options().items() if k != "batch_id"},
    )
    folder = config.upload_root / job.job_id
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / safe_filename(upload.filename)
    with target.open("wb") as out:
        upload.file.seek(0)
        while chunk := upload.file.read(1 << 20):
            out.write(chunk)
    job.parameters = job.parameters.with_value(file_param, str(target), job.job_type)
    try:
        return client.submit_built(job, spec.batch_id)
    except Exception:
        target.unlink(missing_ok=True)
        folder.rmdir()
        raise


@post(
    "/jobs/upload",
    guards=[scope("submit")],
    sync_to_thread=True,
    status_code=201,
)
def submit_upload(
    request: Req,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    """Submit a job with an input file (multipart form): field ``file`` (the file), ``job``
    (a JSON :class:`JobSpec`) and optional ``file_param`` (the parameter that receives the
    stored file's path, default ``filename``)."""
    config: ServerConfig = request.app.state.config
    length = int(request.headers.get("content-length") or 0)
    if length > config.max_body_bytes:
        raise ApiError(413, "REQUEST_TOO_LARGE", f"over {config.max_body_bytes} bytes")
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "INVALID_REQUEST", "multipart field 'file' (a file) is required")
    try:
        raw = json.loads(data.get("job") or "{}")
        spec = JobSpec(**raw) if isinstance(raw, dict) else None
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "INVALID_REQUEST", f"field 'job' is not a job: {exc}") from exc
    if spec is None or not isinstance(spec.job_type, str) or not isinstance(spec.parameters, dict):
        raise ApiError(400, "INVALID_REQUEST", "field 'job' must be a JSON object with job_type")
    file_param = str(data.get("file_param") or "filename")
    return job_view(store_upload(request, spec, upload, file_param, principal_of(request)))


@post("/batches", guards=[scope("submit")], sync_to_thread=True, status_code=201)
def submit_batch(request: Req, data: BatchSpec) -> dict[str, Any]:
    """Submit a batch; every job is validated first, nothing is stored if one is refused."""
    principal = principal_of(request)
    config: ServerConfig = request.app.state.config
    specs = [{"job_type": s.job_type, "parameters": s.parameters, **s.options()} for s in data.jobs]
    for spec in specs:
        spec.pop("batch_id", None)
    batch, jobs = client_of(request).submit_batch_jobs(
        specs,
        batch_name=data.batch_name,
        webhook=data.webhook,
        owner=principal.key_id,
        allow_unknown_type=config.allow_unknown_type,
    )
    return {**batch_view(batch), "job_ids": [j.job_id for j in jobs]}


@get("/jobs/{job_id:str}", guards=[scope("read")], sync_to_thread=True)
def get_job(request: Req, job_id: str) -> dict[str, Any]:
    """One job in its stored shape, webhook tokens and secrets redacted, without logs."""
    return job_view(owned_job(request, job_id))


@get("/jobs", guards=[scope("read")], sync_to_thread=True)
def list_jobs(
    request: Req,
    status: JobStatus | None = None,
    job_type: str | None = None,
    batch_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page:
    """The caller's jobs (every job for ``admin``), newest first."""
    jobs = client_of(request).list(
        status=status,
        job_type=job_type,
        batch_id=batch_id,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        owner=principal_of(request).owner_filter,
        after=decode_cursor(cursor),
    )
    last = jobs[-1] if len(jobs) == limit else None
    return Page(
        [job_view(j) for j in jobs],
        encode_cursor(last.created_at, last.job_id) if last else None,
    )


@get("/batches", guards=[scope("read")], sync_to_thread=True)
def list_batches(
    request: Req,
    status: str | None = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page:
    """The caller's batches (every batch for ``admin``), newest first."""
    batches = client_of(request).batches(
        status=status,
        limit=limit,
        owner=principal_of(request).owner_filter,
        after=decode_cursor(cursor),
    )
    last = batches[-1] if len(batches) == limit else None
    return Page(
        [batch_view(b) for b in batches],
        encode_cursor(last.created_at, last.batch_id) if last else None,
    )


@get("/batches/{batch_id:str}", guards=[scope("read")], sync_to_thread=True)
def get_batch(request: Req, batch_id: str) -> dict[str, Any]:
    return batch_view(owned_batch(request, batch_id))


@get("/jobs/{job_id:str}/logs", guards=[scope("read")], sync_to_thread=True)
def get_logs(request: Req, job_id: str) -> list[dict[str, Any]]:
    """The job's log entries, oldest first (``/events`` follows them live)."""
    job = owned_job(request, job_id, with_logs=True)
    logs: list[dict[str, Any]] = job_view(job)["logs"]
    return logs


@post("/jobs/{job_id:str}/cancel", guards=[scope("submit")], sync_to_thread=True, status_code=200)
def cancel_job(request: Req, job_id: str) -> dict[str, Any]:
    """Cancel a pending job at once, or ask a running one's worker to stop it."""
    owned_job(request, job_id)
    job = client_of(request).cancel(job_id)
    if job is None:
        raise ApiError(409, "ALREADY_FINISHED", f"{job_id} has already finished")
    return job_view(job)


@post("/jobs/{job_id:str}/retry", guards=[scope("submit")], sync_to_thread=True, status_code=200)
def retry_job(request: Req, job_id: str) -> dict[str, Any]:
    """Put a failed job back to pending with a fresh attempt budget."""
    owned_job(request, job_id)
    job = client_of(request).retry(job_id)
    if job is None:
        raise ApiError(409, "NOT_FAILED", f"{job_id} is not failed")
    return job_view(job)


def result_files(config: ServerConfig, job_id: str) -> list[str]:
    """Relative paths of the regular files under ``<output_root>/<job_id>`` (symlinks that
    leave the folder are not listed)."""
    root = (config.output_root / job_id).resolve()
    if not root.is_dir() or not root.is_relative_to(config.output_root.resolve()):
        return []
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.resolve().is_relative_to(root)
    )


@get("/jobs/{job_id:str}/files", guards=[scope("read")], sync_to_thread=True)
def list_files(request: Req, job_id: str) -> list[str]:
    """The job's result files: those under ``<output_root>/<job_id>/``."""
    owned_job(request, job_id)
    return result_files(request.app.state.config, job_id)


@get("/jobs/{job_id:str}/files/{path:path}", guards=[scope("read")], sync_to_thread=True)
def download_file(request: Req, job_id: str, path: str) -> File:
    """One result file; only files listed by ``/files`` can be fetched."""
    owned_job(request, job_id)
    config: ServerConfig = request.app.state.config
    relative = path.lstrip("/")
    if relative not in result_files(config, job_id):
        raise ApiError(404, "NOT_FOUND", f"{job_id} has no result file {relative!r}")
    target = config.output_root.resolve() / job_id / relative
    return File(path=target, filename=target.name)


jobs_router = Router(
    path="/v1",
    route_handlers=documented(
        [
            submit_job,
            submit_batch,
            get_job,
            list_jobs,
            list_batches,
            get_batch,
            get_logs,
            cancel_job,
            retry_job,
            list_files,
            download_file,
        ]
    ),
    tags=["jobs"],
)


def upload_router(max_bytes: int) -> Router:
    """The upload route, under its own body limit (JSON routes keep the small one)."""
    return Router(
        path="/v1",
        route_handlers=documented([submit_upload]),
        request_max_body_size=max_bytes,
        tags=["jobs"],
    )
