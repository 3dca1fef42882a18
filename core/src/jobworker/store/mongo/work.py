"""The worker's operations on the MongoDB store: claims (with cluster limits), leases, progress,
logs, outcomes, the expired-lease sweep and the unserved-type sweep."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import (
    BulkWriteError,
    PyMongoError,
)

from ... import errors, lifecycle
from ...lifecycle import Backoff
from ...model import Batch, Job, JobError, JobProgress, LogEntry, job_type_of
from ..base import Claim, Outcome, Transition
from ..broken import problem_of, quarantine_error, storable_text, unstorable
from ..sizes import TOO_LARGE_CODES, cut
from .batches import attach_batches
from .changes import change_update
from .claims import CLAIM_SORT, claim_group
from .database import _AFTER, _NO_LOGS, _UNSTORABLE, MongoDatabase
from .keys import escape
from .queries import (
    as_int,
    claim_query,
    expired_query,
    type_match,
)

__all__ = ["MongoWork"]

log = logging.getLogger(__name__)


class MongoWork(MongoDatabase):
    """The MongoDB store's worker operations."""

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        if claim.limit <= 0:
            return []
        self._normalise_legacy()
        allowed = None if claim.types is None else {job_type_of(t) for t in claim.types}
        slots = dict(claim.type_slots)
        locks: list[tuple[str, str]] = []
        claimed: list[Job] = []
        update = change_update(lifecycle.claimed(claim.worker_id, claim.lease_seconds, now))
        try:
            for job_type, limit in claim.cluster_limits.items():
                if allowed is not None and job_type not in allowed:
                    continue
                token = self.limits.acquire(job_type)
                if token is None:
                    slots[job_type] = 0  # another claimer is taking this type right now
                    continue
                locks.append((job_type, token))
                running = self.jobs.count_documents(
                    {"status": "processing", "job_type": type_match(job_type)}
                )
                room = max(0, limit - running)
                slots[job_type] = min(slots.get(job_type, room), room)
            rounds = 0
            while len(claimed) < claim.limit:
                if allowed is None and any(n <= 0 for n in slots.values()):
                    # Any type but some full ones: claim with $in over the types that are
                    # pending (a DISTINCT_SCAN of the claim index), not with a $nin range.
                    pending = self.jobs.distinct("job_type", {"status": "pending"})
                    allowed = {job_type_of(t) for t in pending}
                query = claim_query(allowed, slots, now)
                if query is None:
                    break
                if isinstance(update, dict) and not slots and claim.limit - len(claimed) > 1:
                    rounds += 1
                    docs, seen = claim_group(
                        self.jobs, query, update, claim.limit - len(claimed), _NO_LOGS
                    )
                    claimed += self._claimed(docs, now)
                    if seen == len(docs) or rounds >= 3:  # or others took some: look again
                        break
                    continue
                doc = self.jobs.find_one_and_update(
                    query, update, sort=CLAIM_SORT, projection=_NO_LOGS, return_document=_AFTER
                )
                if doc is None:
                    break
                for job in self._claimed([doc], now):
                    claimed.append(job)
                    if job.job_type in slots:
                        slots[job.job_type] -= 1
        finally:
            for job_type, token in locks:
                try:
                    self.limits.release(job_type, token)
                except PyMongoError:
                    log.warning("could not release the %s limit lock (expires by itself)", job_type)
            self.counters.move([(j.batch_id, "pending", "processing") for j in claimed], now)
        return claimed

    def _claimed(self, docs: list[dict[str, Any]], now: datetime) -> list[Job]:
        """The jobs of claimed documents; unreadable ones are quarantined instead."""
        jobs = []
        for doc in docs:
            try:
                jobs.append(self._decode(doc))
            except Exception as exc:  # one unreadable document: quarantine it, go on
                self._quarantine(doc, problem_of(exc), now)
        return jobs

    def _quarantine(self, doc: Mapping[str, Any], problem: str, now: datetime) -> None:
        """Fail a just-claimed document that cannot be read with ``INVALID_DOCUMENT`` (not
        retried, not announced: no hook can be given a job that cannot be read)."""
        try:
            self.jobs.update_one(
                {"_id": doc["_id"], "status": "processing"},
                change_update(lifecycle.quarantined(quarantine_error(problem), now)),
            )
        except PyMongoError as exc:
            log.error(
                "skipped job %r: it cannot be read (%s) nor failed (%s)",
                doc.get("job_id"),
                problem,
                exc,
            )
            return
        log.error("quarantined job %r: %s: %s", doc.get("job_id"), errors.INVALID_DOCUMENT, problem)
        if isinstance(doc.get("batch_id"), str):
            self.counters.move([(doc["batch_id"], "pending", "failed")], now)

    def heartbeat(
        self, worker_id: str, job_ids: Collection[str], lease_seconds: float, now: datetime
    ) -> tuple[set[str], set[str]]:
        if not job_ids:
            return set(), set()
        held_query = {
            "job_id": {"$in": list(job_ids)},
            "lease_owner": worker_id,
            "status": "processing",
        }
        self.jobs.update_many(
            held_query,
            {
                "$set": {
                    "lease_expires_at": now + timedelta(seconds=lease_seconds),
                    "heartbeat_at": now,
                }
            },
        )
        rows = list(self.jobs.find(held_query, {"job_id": 1, "cancel_requested": 1}))
        held = {r["job_id"] for r in rows}
        return {r["job_id"] for r in rows if r.get("cancel_requested")}, set(job_ids) - held

    def save_progress(
        self, worker_id: str, updates: Mapping[str, JobProgress], now: datetime
    ) -> None:
        if not updates:
            return
        job_ids = list(updates)
        try:
            self.jobs.bulk_write(
                [
                    UpdateOne(
                        {"job_id": job_id, "lease_owner": worker_id, "status": "processing"},
                        {"$set": {"progress": self._progress_doc(p), "updated_at": now}},
                    )
                    for job_id, p in updates.items()
                ],
                ordered=False,
            )
        except BulkWriteError as exc:  # the others were written: never replay them
            errors_ = exc.details.get("writeErrors", [])
            if not errors_:
                raise
            self._refused([job_ids[e["index"]] for e in errors_], errors_[0], "progress", now)

    def exchange(
        self,
        worker_id: str,
        now: datetime,
        *,
        logs: Sequence[tuple[str, LogEntry]] = (),
        progress: Mapping[str, JobProgress] | None = None,
        outcomes: Sequence[Outcome] = (),
        claim: Claim | None = None,
        announced: Collection[str] = (),
        announced_batches: Collection[str] = (),
    ) -> tuple[list[Transition], list[Job]]:
        done, claimed = super().exchange(
            worker_id,
            now,
            logs=logs,
            progress=progress,
            outcomes=outcomes,
            claim=claim,
            announced=announced,
            announced_batches=announced_batches,
        )
        failed, self._store_failed = self._store_failed, []
        return failed + done, claimed

    def _refused(
        self, job_ids: list[str], error: Mapping[str, Any], what: str, now: datetime
    ) -> None:
        """Writes of these jobs the server refused. One that can never succeed (the document
        would pass 16 MiB) fails its job with ``DOCUMENT_TOO_LARGE`` (reported by the next
        :meth:`exchange`); anything else is dropped with one log line."""
        if error.get("code") not in TOO_LARGE_CODES:
            log.error("dropped the %s of job(s) %s: %s", what, job_ids, error.get("errmsg"))
            return
        problem = f"the job document would pass 16 MiB ({what}): {error.get('errmsg')}"
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for job_id in job_ids:
            out = Outcome(
                job_id,
                "",
                "failed",
                error=JobError(errors.DOCUMENT_TOO_LARGE, problem, {"code": error.get("code")}),
            )
            change = lifecycle.outcome_change(out, now)
            target = change.status.value
            doc = self.jobs.find_one_and_update(
                {"job_id": job_id, "status": "processing"},
                change_update(change),
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is None:
                log.error("dropped the %s of job %s: %s", what, job_id, problem)
                continue
            job = self._job(doc, load_results=False)
            moves.append((job.batch_id, "processing", target))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        self._store_failed.extend(done)

    def append_logs(self, entries: Sequence[tuple[str, LogEntry]]) -> None:
        if not entries:
            return
        by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for job_id, e in entries:
            by_job[job_id].append(
                {
                    "timestamp": e.timestamp,
                    "level": e.level.value,
                    "message": cut(storable_text(e.message), self.log_message_max),
                }
            )
        ops = []
        job_ids: list[str] = []
        for job_id, docs in by_job.items():
            # Only the newest log_cap entries can stay: pushing more would only make the
            # update larger (log_cap x log_message_max bytes at most, well under 16 MiB).
            docs = docs[-self.log_cap :] if self.log_cap > 0 else []
            if not docs:
                continue
            push: dict[str, Any] = {"$each": docs, "$slice": -self.log_cap}
            latest = max(d["timestamp"] for d in docs)
            job_ids.append(job_id)
            ops.append(
                UpdateOne(
                    {"job_id": job_id}, {"$push": {"logs": push}, "$max": {"updated_at": latest}}
                )
            )
        if not ops:
            return
        try:
            self.jobs.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:  # unordered: the other jobs' entries were written
            failed = [e["index"] for e in exc.details.get("writeErrors", [])]
            if not failed:
                raise
            self._repair_logs([job_ids[i] for i in failed], [ops[i] for i in failed])

    def _repair_logs(self, job_ids: list[str], ops: list[UpdateOne]) -> None:
        """Jobs whose ``logs`` is not an array (hand-edited, ``null``) get a fresh one, then
        their entries are pushed again; entries that still cannot be written are dropped with
        one log line: a broken document never blocks other jobs' logs."""
        self.jobs.update_many(
            {"job_id": {"$in": job_ids}, "logs": {"$not": {"$type": "array"}}},
            {"$set": {"logs": []}},
        )
        try:
            self.jobs.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors_ = exc.details.get("writeErrors", [])
            if not errors_:
                raise
            too_large = [e for e in errors_ if e.get("code") in TOO_LARGE_CODES]
            if too_large:
                ids = [job_ids[e["index"]] for e in too_large]
                self._refused(ids, too_large[0], "logs", datetime.now(timezone.utc))
            log.error(
                "dropped log entries of job(s) %s: %s",
                [job_ids[e["index"]] for e in errors_],
                errors_[0].get("errmsg"),
            )

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[Transition]:
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for out in outcomes:
            try:
                doc, file_id, target = self._apply(out, now)
            except _UNSTORABLE as exc:  # what this attempt returned cannot be stored
                out = unstorable(out, exc)
                doc, file_id, target = self._apply(out, now)
            if doc is None:
                if file_id is not None:
                    self.results.delete([file_id])
                continue
            job = self._job(doc, load_results=False)
            if out.kind == "completed":
                job.results = dict(out.results or {})
            moves.append((job.batch_id, "processing", target))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done

    def _apply(self, out: Outcome, now: datetime) -> tuple[dict[str, Any] | None, Any, str]:
        """Write one outcome: ``(the job document after it or None, GridFS id, status)``."""
        file_id = None
        results = None
        if out.kind == "completed":
            results, file_id = self.results.prepare(out.job_id, escape(out.results))
        change = lifecycle.outcome_change(out, now)
        target = change.status.value
        update = change_update(change, results)
        try:
            doc = self.jobs.find_one_and_update(
                {"job_id": out.job_id, "lease_owner": out.worker_id, "status": "processing"},
                update,
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
        except _UNSTORABLE:
            if file_id is not None:
                self.results.delete([file_id])
            raise
        return doc, file_id, target

    def recover_expired(self, now: datetime, backoff: float | Backoff = 2.0) -> list[Transition]:
        self._normalise_legacy()
        policy = Backoff.of(backoff)
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        expired = list(
            self.jobs.find(
                expired_query(now, now - timedelta(seconds=self.orphan_after)),
                {
                    "_id": 1,
                    "job_id": 1,
                    "job_type": 1,
                    "attempts": 1,
                    "max_attempts": 1,
                    "lease_owner": 1,
                    "lease_expires_at": 1,
                },
            )
        )
        for row in expired:
            owner = row.get("lease_owner") if isinstance(row.get("lease_owner"), str) else None
            job_type = row.get("job_type")
            out = lifecycle.lease_expired(
                str(row.get("job_id")),
                owner,
                job_type=job_type_of(job_type) if isinstance(job_type, (str, type(None))) else None,
                attempts=as_int(row.get("attempts"), 0),
                max_attempts=as_int(row.get("max_attempts"), 3),
                backoff=policy,
                now=now,
            )
            change = lifecycle.outcome_change(out, now)
            # Only if nobody renewed or finished it since we looked.
            doc = self.jobs.find_one_and_update(
                {
                    "_id": row["_id"],
                    "status": "processing",
                    "lease_owner": row.get("lease_owner"),
                    "lease_expires_at": row.get("lease_expires_at"),
                },
                change_update(change),
                projection=_NO_LOGS,
                return_document=_AFTER,
            )
            if doc is None:
                continue
            job = self._job(doc)
            moves.append((job.batch_id, "processing", change.status.value))
            done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done

    def repair_batches(self, stale: datetime, now: datetime, limit: int = 20) -> list[Batch]:
        return self.counters.repair(self.jobs, stale, now, limit)

    def fail_pending(
        self, messages: Mapping[str, str], now: datetime, limit: int = 500
    ) -> list[Transition]:
        done: list[Transition] = []
        moves: list[tuple[str | None, str, str]] = []
        for job_type, message in messages.items():
            error = JobError(errors.UNKNOWN_JOB_TYPE, message, {"job_type": job_type})
            line = {
                "timestamp": now,
                "level": "error",
                "message": f"{errors.UNKNOWN_JOB_TYPE}: {message}",
            }
            update = change_update(
                lifecycle.failed_pending(error, now), log=line, log_cap=self.log_cap
            )
            query = {"status": "pending", "job_type": type_match(job_type)}
            for row in list(self.jobs.find(query, {"_id": 1}).limit(limit)):
                doc = self.jobs.find_one_and_update(
                    {"_id": row["_id"], **query},
                    update,
                    projection=_NO_LOGS,
                    return_document=_AFTER,
                )
                if doc is None:  # claimed or cancelled meanwhile
                    continue
                job = self._job(doc)
                moves.append((job.batch_id, "pending", "failed"))
                done.append(Transition(job))
        attach_batches(done, self.counters.move(moves, now))
        return done
