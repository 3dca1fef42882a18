"""The request and response bodies of the REST API: attrs classes, the same kind as the job
types' parameter classes, which Litestar turns into the OpenAPI document as they are."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import attrs

from .errors import ApiError

__all__ = ["BatchSpec", "JobSpec", "Page", "decode_cursor", "encode_cursor"]


@attrs.define
class JobSpec:
    """One job to submit. ``parameters`` are checked against the job type's schema
    (``GET /v1/job-types/{job_type}``)."""

    job_type: str
    parameters: dict[str, Any] = attrs.Factory(dict)
    priority: int = 0
    delay: float | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    idempotency_key: str | None = None
    job_name: str | None = None
    webhook: dict[str, Any] | None = None
    batch_id: str | None = None

    def options(self) -> dict[str, Any]:
        """The :meth:`jobworker.Client.submit` keyword arguments (``None`` ones left out)."""
        out = {k: v for k, v in attrs.asdict(self).items() if v is not None}
        out.pop("job_type")
        out.pop("parameters")
        return out


@attrs.define
class BatchSpec:
    """A batch: every job is validated before anything is stored (all or nothing)."""

    jobs: list[JobSpec]
    batch_name: str | None = None
    webhook: dict[str, Any] | None = None


@attrs.define
class Page:
    """One page of a listing; pass ``next_cursor`` as ``cursor`` for the next (``None``: the
    last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, item_id = json.loads(raw)
        return datetime.fromisoformat(when), str(item_id)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "INVALID_CURSOR", "cursor is not one this server made") from exc
