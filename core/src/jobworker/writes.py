"""What a worker has yet to write to its store: one buffer, emptied by each round trip.

Handler threads add progress and log lines (:meth:`Writes.report_progress`,
:meth:`Writes.report_log`, safe from any thread); the event loop adds outcomes and what the hooks
announced. :meth:`Writes.take` empties the buffer into one :class:`Pending` for the next round
trip; if the round trip fails, :meth:`Writes.put_back` returns it unwritten, ahead of what came
meanwhile, so nothing is lost or reordered.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable

import attrs

from .lifecycle import Outcome
from .model import JobProgress, LogEntry
from .poison import Part, parts_by_job

__all__ = ["Pending", "Writes"]


@attrs.define
class Pending:
    """One round trip's writes."""

    outcomes: list[Outcome] = attrs.Factory(list)
    progress: dict[str, JobProgress] = attrs.Factory(dict)
    logs: list[tuple[str, LogEntry]] = attrs.Factory(list)
    announced: list[str] = attrs.Factory(list)
    announced_batches: list[str] = attrs.Factory(list)

    @property
    def empty(self) -> bool:
        return not (
            self.outcomes or self.progress or self.logs or self.announced or self.announced_batches
        )


class Writes:
    """The worker's unwritten outcomes, progress, logs and announcements."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # handler threads report while the loop takes
        self._pending = Pending()

    @property
    def has_outcomes(self) -> bool:
        return bool(self._pending.outcomes)

    @property
    def has_announced(self) -> bool:
        return bool(self._pending.announced or self._pending.announced_batches)

    def report_progress(self, job_id: str, progress: JobProgress) -> None:
        """A job's latest progress (replaces the unwritten one)."""
        with self._lock:
            self._pending.progress[job_id] = progress

    def report_log(self, job_id: str, entry: LogEntry) -> None:
        with self._lock:
            self._pending.logs.append((job_id, entry))

    def take_progress(self, job_id: str) -> JobProgress | None:
        """Remove and return a job's unwritten progress (its attempt ended: the outcome
        carries it)."""
        with self._lock:
            return self._pending.progress.pop(job_id, None)

    def add_outcome(self, outcome: Outcome) -> None:
        with self._lock:
            self._pending.outcomes.append(outcome)

    def announced(self, job_ids: Iterable[str], batch_ids: Iterable[str]) -> None:
        """Jobs and batches whose hooks ran, to be marked in the store."""
        with self._lock:
            self._pending.announced += job_ids
            self._pending.announced_batches += batch_ids

    def take(self, running: Collection[str] | None = None) -> Pending:
        """Everything unwritten, leaving the buffer empty; with ``running``, progress only of
        those jobs (a finished attempt's outcome carries its progress)."""
        with self._lock:
            taken, self._pending = self._pending, Pending()
        if running is not None:
            taken.progress = {k: v for k, v in taken.progress.items() if k in running}
        return taken

    def put_back(self, pending: Pending) -> None:
        """Return unwritten writes, ahead of those added since they were taken."""
        with self._lock:
            now = self._pending
            now.outcomes[:0] = pending.outcomes
            now.logs[:0] = pending.logs
            now.progress = {**pending.progress, **now.progress}
            now.announced[:0] = pending.announced
            now.announced_batches[:0] = pending.announced_batches

    def take_parts(self) -> list[Part]:
        """Outcomes, logs and progress taken out and grouped by job (see :mod:`.poison`);
        announcements stay."""
        with self._lock:
            p = self._pending
            parts = parts_by_job(p.outcomes, p.logs, p.progress)
            p.outcomes, p.logs, p.progress = [], [], {}
        return parts

    def keep(self, part: Part) -> None:
        """Add one job's part back, to be written by a later round trip."""
        with self._lock:
            now = self._pending
            now.outcomes += part.outcomes
            now.logs += part.logs
            now.progress.update(part.progress)
