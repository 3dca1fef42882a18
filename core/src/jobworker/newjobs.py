"""A new job as a submit makes it, before any :class:`~jobworker.model.Job` is built for it.

A batch submit's common entries become :class:`NewJob` (see :mod:`jobworker.quick_entries`); a
store writes their rows directly (the SQLite store without building a :class:`Job`), and a
:class:`Job` is made of one only when someone needs it (the returned jobs, a ``job_submitted``
hook).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .model import AccessControl, Job, JobParameters
from .store._codec import from_ms

__all__ = ["NewJob"]


class NewJob(NamedTuple):
    """A job as a submit makes it, before anything happened to it: pending, no attempt, no
    delay, timeout or idempotency key, ``parameters`` stored exactly as given."""

    job_id: str
    job_type: str
    parameters: dict[str, Any]
    created_ms: int  #: also its ``updated_at`` and ``available_at``
    priority: int
    max_attempts: int
    job_name: str | None
    user_id: str | None
    owner: str | None  #: stored as the extra field ``owner_key``

    def to_job(self, batch_id: str | None = None) -> Job:
        """The :class:`Job` this entry stands for (as stored in the batch ``batch_id``)."""
        now = from_ms(self.created_ms)
        return Job(
            self.job_type,
            JobParameters.from_dict(self.parameters, job_type=self.job_type),
            job_id=self.job_id,
            job_name=self.job_name,
            user_id=self.user_id,
            access_control=AccessControl.for_user(self.user_id),
            created_at=now,
            updated_at=now,
            priority=self.priority,
            max_attempts=self.max_attempts,
            batch_id=batch_id,
            unknown={} if self.owner is None else {"owner_key": self.owner},
        )
