"""The webhook payload, ``schema_version`` 1 (documented in docs/webhooks.md).

One shape for every event (``job.completed``, ``job.failed``, ``job.progress``,
``batch.finished``); fields that do not apply are ``null``. Results are summarised (the keys
that hold something and their JSON sizes), never sent: the receiver fetches them by job id.
Error details (tracebacks) are never sent, only the code and the message.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..model import Batch, Job, JobProgress

__all__ = ["SCHEMA_VERSION", "build_payload", "results_summary"]

SCHEMA_VERSION = 1
_MAX_MESSAGE = 2000


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= _MAX_MESSAGE:
        return text
    return text[:_MAX_MESSAGE] + "..."


def results_summary(job: Job) -> dict[str, Any] | None:
    """``{"keys": [...], "sizes": {key: JSON bytes}, "job_id": ..., "fetch": ...}``."""
    if not job.results:
        return None
    sizes = {
        key: len(json.dumps(value, default=str, ensure_ascii=False).encode())
        for key, value in job.results.items()
        if value not in (None, [], {}, "")
    }
    return {
        "keys": sorted(sizes),
        "sizes": sizes,
        "job_id": job.job_id,
        "fetch": f"jobworker status {job.job_id} --json",
    }


def _batch_part(batch: Batch) -> dict[str, Any]:
    return {
        "batch_id": batch.batch_id,
        "batch_name": batch.batch_name,
        "status": batch.status,
        "total_jobs": batch.total_jobs,
        "completed_jobs": batch.completed_jobs,
        "failed_jobs": batch.failed_jobs,
        "pending_jobs": batch.pending_jobs,
        "processing_jobs": batch.processing_jobs,
        "created_at": _iso(batch.created_at),
        "completed_at": _iso(batch.completed_at),
    }


def _progress(progress: JobProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {"step": progress.step, "percent": progress.percent, "message": _clip(progress.message)}


def build_payload(
    event: str,
    delivery_id: str,
    occurred_at: datetime,
    *,
    job: Job | None = None,
    batch: Batch | None = None,
    progress: JobProgress | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """The payload of one event. ``job`` for ``job.*`` events, ``batch`` for ``batch.finished``
    (and, for a job of a batch, the batch's counters as they are after the job's transition)."""
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event": event,
        "delivery_id": delivery_id,
        "occurred_at": _iso(occurred_at),
        "job_id": None,
        "external_id": external_id,
        "job_type": None,
        "job_name": None,
        "status": batch.status if batch is not None and job is None else None,
        "attempts": None,
        "progress": None,
        "error": None,
        "results": None,
        "batch_id": batch.batch_id if batch is not None else None,
        "batch": _batch_part(batch) if batch is not None else None,
        "created_at": _iso(batch.created_at) if batch is not None and job is None else None,
        "started_at": None,
        "completed_at": _iso(batch.completed_at) if batch is not None and job is None else None,
    }
    if job is not None:
        payload.update(
            {
                "job_id": job.job_id,
                "external_id": external_id if external_id is not None else job.external_id,
                "job_type": job.job_type,
                "job_name": job.job_name,
                "status": "processing" if event == "job.progress" else job.status.value,
                "attempts": job.attempts,
                "progress": _progress(progress or job.progress),
                "error": None
                if job.error is None or event == "job.progress"
                else {"code": job.error.code, "message": _clip(job.error.message)},
                "results": results_summary(job) if event == "job.completed" else None,
                "batch_id": job.batch_id,
                "created_at": _iso(job.created_at),
                "started_at": _iso(job.processing_started_at),
                "completed_at": None if event == "job.progress" else _iso(job.completed_at),
            }
        )
    return payload
