"""SQL for applying an attempt's outcome, and reporting finished batches (SQLite store)."""

from __future__ import annotations

from typing import Any

from ..model import Batch, JobProgress
from ._codec import dumps, to_ms
from .base import Outcome, Transition

__all__ = ["attach_batches", "outcome_update"]


def outcome_update(out: Outcome, now_ms: int) -> tuple[str, tuple[Any, ...], str]:
    """SQL ``SET`` clause, its arguments, and the resulting status for an outcome."""
    common = "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
    error = (
        None
        if out.error is None
        else dumps(
            {"code": out.error.code, "message": out.error.message, "details": out.error.details}
        )
    )
    progress = out.progress
    if out.kind == "completed":
        progress = JobProgress("completed", 100, progress.message if progress else None)
        return (
            f"status = 'completed', results = ?, error = NULL, progress = ?, "
            f"completed_at = ?, announce_pending = 1, {common}",
            (dumps(dict(out.results or {})), _progress(progress), now_ms, now_ms),
            "completed",
        )
    if out.kind == "failed":
        # A failure keeps the attempt's last percent: the outcome's, else the stored one.
        message = out.error.message if out.error else None
        if progress is not None:
            progress = JobProgress("error", progress.percent, message)
            return (
                f"status = 'failed', error = ?, progress = ?, "
                f"completed_at = ?, announce_pending = 1, {common}",
                (error, _progress(progress), now_ms, now_ms),
                "failed",
            )
        return (
            f"status = 'failed', error = ?, progress = json_object('step', 'error', "
            f"'percent', COALESCE(json_extract(progress, '$.percent'), 0), 'message', ?), "
            f"completed_at = ?, announce_pending = 1, {common}",
            (error, message, now_ms, now_ms),
            "failed",
        )
    available = to_ms(out.available_at) if out.available_at else now_ms
    if out.kind == "retry":
        return (
            f"status = 'pending', error = ?, available_at = ?, {common}",
            (error, available, now_ms),
            "pending",
        )
    return (
        f"status = 'pending', attempts = max(attempts - 1, 0), available_at = ?, {common}",
        (available, now_ms),
        "pending",
    )


def _progress(p: JobProgress | None) -> str | None:
    return (
        None if p is None else dumps({"step": p.step, "percent": p.percent, "message": p.message})
    )


def attach_batches(
    done: list[Transition], batch_of: list[str | None], finished: list[Batch]
) -> None:
    """Report each finished batch once, on the last transition of that batch."""
    by_id = {b.batch_id: b for b in finished}
    for t, batch_id in reversed(list(zip(done, batch_of, strict=True))):
        if batch_id in by_id and t.status.terminal:
            t.batch_finished = by_id.pop(batch_id)
