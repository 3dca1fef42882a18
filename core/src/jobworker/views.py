"""How jobs and batches are shown to people and scripts: the stored document shape, with
secrets (webhook tokens and secrets) replaced by ``"***"`` and datetimes as ISO 8601 text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .model import Batch, Job

__all__ = ["SECRET_KEYS", "batch_view", "job_view", "redact"]

SECRET_KEYS = frozenset({"token", "secret", "password", "callback_token"})


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-named key's value replaced by ``"***"``."""
    if isinstance(value, Mapping):
        return {
            k: ("***" if k in SECRET_KEYS and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def job_view(job: Job) -> dict[str, Any]:
    doc = job.to_dict()
    doc["parameters"] = redact(doc["parameters"])
    plain: dict[str, Any] = _plain(doc)
    return plain


def batch_view(batch: Batch) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(redact(batch.to_dict()))
    return plain
