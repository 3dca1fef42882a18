"""The worker's operations on the SQLite store: claims, leases, progress, logs, outcomes, the
expired-lease sweep and the unserved-type sweep, each in one transaction."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ... import errors, lifecycle
from ...lifecycle import Backoff
from ...model import Batch, Job, JobError, JobProgress, JobStatus, LogEntry, LogLevel, job_type_of
from .._codec import dumps, from_ms, to_ms
from ..base import Claim, Outcome, Transition
from ..broken import problem_of, quarantine_error, storable_text, store_log, unstorable
from ..sizes import cut
from .changes import attach_batches, change_sql
from .connection import SQLiteConnection
from .pending import PENDING_OF_TYPE
from .rows import JOB_COLS, SELECT, BadText, decode_job, row_value
from .schema import PENDING_INDEXES, TAKEN

__all__ = ["SQLiteWork"]

if TYPE_CHECKING:
    from ...fleet import WorkerRecord


_BATCH_ID, _JOB_ID = JOB_COLS.index("batch_id"), JOB_COLS.index("job_id")

#: Outcomes written by one ``UPDATE``: the outcomes, the ``SET`` clause, its arguments, and
#: the status they end in (see :meth:`SQLiteWork._ends`).
_End = tuple[list[Outcome], str, tuple[Any, ...], str]
#: The ends, and each outcome's job id and the index of its end, in the outcomes' order.
_Ends = tuple[list[_End], list[tuple[str, int]]]
#: At most this many job ids in one ``UPDATE ... WHERE job_id IN (...)``.
_IDS_PER_UPDATE = 500


def _same_results(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two outcomes' results write the same value (``False`` when unsure)."""
    try:
        return bool((a or {}) == (b or {}))
    except Exception:  # a value whose comparison raises: not shared
        return False


class SQLiteWork(SQLiteConnection):
    """The SQLite store's worker operations."""

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
        """Logs, progress, outcomes and the next claim in one transaction (one commit), in the
        order of :meth:`Store.exchange`. What needs no database (the log rows, the outcomes'
        ``SET`` clauses, reading the claimed rows into jobs) is done outside it: the write lock,
        which every other worker process waits for, is held for the statements alone."""
        log_rows = self._log_rows(logs)
        ends = self._ends(outcomes, now)
        now_ms = to_ms(now)
        with self._tx(durable=False) as db:  # the worker waits for sync_point() to announce
            if announced or announced_batches:
                self.mark_announced(announced, announced_batches)
            self._insert_logs(db, log_rows)
            self.save_progress(worker_id, progress or {}, now)
            done, batch_of, finished = self._finish_in(db, ends, now_ms)
            rows = self._claim_rows(db, claim, now) if claim is not None else []
        attach_batches(done, batch_of, finished)
        return done, self._read_claimed(rows, now_ms)

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        with self._tx(durable=False) as db:
            rows = self._claim_rows(db, claim, now)
        return self._read_claimed(rows, to_ms(now))

    def _claim_rows(
        self, db: sqlite3.Connection, claim: Claim, now: datetime
    ) -> list[tuple[Any, ...]]:
        """Take up to ``claim.limit`` due jobs and move their batches' counters; return their
        rows, read into jobs by :meth:`_read_claimed` once the transaction has committed."""
        if claim.limit <= 0:
            return []
        now_ms = to_ms(now)
        take, take_args = change_sql(lifecycle.claimed(claim.worker_id, claim.lease_seconds, now))
        claimed: list[tuple[Any, ...]] = []
        slots = dict(claim.type_slots)
        if claim.cluster_limits:
            running = dict(
                db.execute(
                    f"SELECT job_type, count(*) FROM jobs WHERE status = 'processing' AND {TAKEN} "
                    f"AND job_type IN ({', '.join('?' * len(claim.cluster_limits))}) "
                    "GROUP BY job_type",
                    tuple(claim.cluster_limits),
                ).fetchall()
            )
            for job_type, limit in claim.cluster_limits.items():
                room = max(0, limit - running.get(job_type, 0))
                slots[job_type] = min(slots.get(job_type, room), room)
        order = "ORDER BY priority DESC, created_at, rowid LIMIT ?"
        # (a query of the rowids to claim, its arguments, at most this many)
        groups: list[tuple[str, tuple[Any, ...], int]] = []
        if claim.types is not None:
            # Two index ranges per type (jobs_ready; the due part of jobs_delayed), merged
            # in priority order: the cost depends neither on how many jobs of other types
            # are pending nor on how many of this type are not due yet.
            parts, args = [], []
            for job_type in sorted(set(claim.types)):
                n = min(slots.get(job_type, claim.limit), claim.limit)
                if n > 0:
                    for index, pending in PENDING_INDEXES:
                        parts.append(
                            "SELECT * FROM (SELECT rowid AS r, priority AS p, created_at AS c "
                            f"FROM jobs INDEXED BY {index} WHERE {pending} "
                            f"AND job_type = ? AND available_at <= ? {order})"
                        )
                        args += [job_type, now_ms, n]
            if parts:
                union = " UNION ALL ".join(parts)
                groups.append(
                    (f"SELECT r FROM ({union}) ORDER BY p DESC, c, r LIMIT ?", tuple(args), 0)
                )
        else:
            pending = "SELECT rowid FROM jobs WHERE status = 'pending' AND available_at <= ?"
            conditions = [(f"job_type NOT IN ({', '.join('?' * len(slots))})", tuple(slots))]
            conditions += [("job_type = ?", (t,)) for t, n in slots.items() if n > 0]
            limits = [claim.limit] + [n for n in slots.values() if n > 0]
            if not slots:
                conditions, limits = [("1", ())], [claim.limit]
            groups = [
                (f"{pending} AND {cond} {order}", (now_ms, *cond_args), n)
                for (cond, cond_args), n in zip(conditions, limits, strict=True)
            ]
        for select, select_args, group_limit in groups:
            limit = min(group_limit or claim.limit, claim.limit - len(claimed))
            if limit <= 0:
                break
            claimed += db.execute(
                f"UPDATE jobs SET {take} WHERE rowid IN ({select}) RETURNING {SELECT}",
                (*take_args, *select_args, limit),
            ).fetchall()
        self._move_counters(db, [(_batch_of(r), "pending", "processing") for r in claimed], now_ms)
        return claimed

    def _read_claimed(self, rows: Sequence[tuple[Any, ...]], now_ms: int) -> list[Job]:
        """The claimed rows as jobs, in claim order; a row that cannot be read is failed
        (quarantined) in a transaction of its own and left out."""
        claimed: list[Job] = []
        broken: list[tuple[tuple[Any, ...], str]] = []
        for row in rows:
            try:
                claimed.append(decode_job(row))
            except Exception as exc:  # one unreadable row: quarantine it, go on
                broken.append((row, problem_of(exc)))
        if broken:
            try:
                with self._tx() as db:
                    for row, problem in broken:
                        self._quarantine(db, row, problem, now_ms)
            except Exception as exc:  # its lease expires and the next claim tries again
                store_log().error("could not quarantine %d unreadable job(s): %s", len(broken), exc)
        claimed.sort(key=lambda j: (-j.priority, j.created_at))
        return claimed

    def _quarantine(
        self, db: sqlite3.Connection, row: Sequence[Any], problem: str, now_ms: int
    ) -> None:
        """Fail a row just claimed (committed as processing) that cannot be read with
        ``INVALID_DOCUMENT`` (by rowid, if it is still this claim's; not retried, not
        announced: no hook can be given a job that cannot be read)."""
        job_id = row_value(row, "job_id")
        sets, args = change_sql(lifecycle.quarantined(quarantine_error(problem), from_ms(now_ms)))
        db.execute("SAVEPOINT quarantine")
        try:
            failed = db.execute(
                f"UPDATE jobs SET {sets} WHERE rowid = ? AND status = 'processing' "
                "AND lease_owner IS ?",
                (*args, row_value(row, "rowid"), row_value(row, "lease_owner")),
            ).rowcount
            if failed and _batch_of(row) is not None:
                self._move_counters(db, [(_batch_of(row), "processing", "failed")], now_ms)
        except sqlite3.Error as exc:
            db.execute("ROLLBACK TO quarantine")
            store_log().error(
                "skipped job %r: it cannot be read (%s) nor failed (%s)", job_id, problem, exc
            )
        else:
            store_log().error(
                "quarantined job %r: %s: %s", job_id, errors.INVALID_DOCUMENT, problem
            )
        finally:
            db.execute("RELEASE quarantine")

    def heartbeat(
        self, worker_id: str, job_ids: Collection[str], lease_seconds: float, now: datetime
    ) -> tuple[set[str], set[str]]:
        if not job_ids:
            return set(), set()
        now_ms = to_ms(now)
        marks = ", ".join("?" * len(job_ids))
        with self._tx() as db:
            rows = db.execute(
                f"UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ? WHERE job_id IN "
                f"({marks}) AND lease_owner = ? AND status = 'processing' "
                f"RETURNING job_id, cancel_requested",
                (now_ms + int(lease_seconds * 1000), now_ms, *job_ids, worker_id),
            ).fetchall()
        held = {r[0] for r in rows}
        return {r[0] for r in rows if r[1]}, set(job_ids) - held

    def save_progress(
        self, worker_id: str, updates: Mapping[str, JobProgress], now: datetime
    ) -> None:
        if not updates:
            return
        now_ms = to_ms(now)
        with self._tx() as db:
            db.executemany(
                "UPDATE jobs SET progress = ?, updated_at = ? WHERE job_id = ? "
                "AND lease_owner = ? AND status = 'processing'",
                [
                    (
                        dumps({"step": p.step, "percent": p.percent, "message": p.message}),
                        now_ms,
                        job_id,
                        worker_id,
                    )
                    for job_id, p in updates.items()
                ],
            )

    def append_logs(self, entries: Sequence[tuple[str, LogEntry]]) -> None:
        if entries:
            rows = self._log_rows(entries)
            with self._tx() as db:
                self._insert_logs(db, rows)

    def _log_rows(self, entries: Sequence[tuple[str, LogEntry]]) -> list[tuple[Any, ...]]:
        return [
            (
                job_id,
                to_ms(e.timestamp),
                e.level.value,
                cut(storable_text(e.message), self.log_message_max),
            )
            for job_id, e in entries
        ]

    def _insert_logs(self, db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert log rows, then drop each job's lines beyond the newest ``log_cap``."""
        if not rows:
            return
        db.executemany("INSERT INTO logs (job_id, ts, level, message) VALUES (?,?,?,?)", rows)
        for job_id in {row[0] for row in rows}:
            db.execute(
                "DELETE FROM logs WHERE job_id = ? AND id <= (SELECT id FROM logs "
                "WHERE job_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (job_id, job_id, self.log_cap),
            )

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[Transition]:
        ends = self._ends(outcomes, now)
        with self._tx() as db:
            done, batch_of, finished = self._finish_in(db, ends, to_ms(now))
        attach_batches(done, batch_of, finished)
        return done

    @staticmethod
    def _ends(outcomes: Sequence[Outcome], now: datetime) -> _Ends:
        """The outcomes with their ``SET`` clauses, arguments and target status (built before
        the transaction), in their order; an outcome whose values no store can keep fails its
        job instead. Outcomes of one worker that write the same values (completed with equal
        results and the same progress message, as jobs without results end: their results are
        the legacy keys, all empty) share one entry: one clause built, one ``UPDATE`` for all of
        them (unless a job is named twice: then each outcome is written alone, in order, and a
        job's outcomes after the one that applied find it no longer processing)."""
        ends: list[_End] = []
        order: list[tuple[str, int]] = []
        shared: dict[tuple[str, str | None, bool], int] = {}
        share = len({out.job_id for out in outcomes}) == len(outcomes)
        for out in outcomes:
            key = None
            if share and out.kind == "completed":
                key = (
                    out.worker_id,
                    out.progress.message if out.progress else None,
                    out.announce,
                )
                at = shared.get(key)
                if at is not None and _same_results(ends[at][0][0].results, out.results):
                    ends[at][0].append(out)
                    order.append((out.job_id, at))
                    continue
                if at is not None:
                    key = None  # other results: an end of its own, the first one stays shared
            try:
                change = lifecycle.outcome_change(out, now)
                sets, args = change_sql(change)
            except (TypeError, ValueError) as exc:  # results no store can keep
                out, key = unstorable(out, exc), None
                change = lifecycle.outcome_change(out, now)
                sets, args = change_sql(change)
            if key is not None:
                shared[key] = len(ends)
            order.append((out.job_id, len(ends)))
            ends.append(([out], sets, args, change.status.value))
        return ends, order

    def _finish_in(
        self, db: sqlite3.Connection, prepared: _Ends, now_ms: int
    ) -> tuple[list[Transition], list[str | None], list[Batch]]:
        """Write the prepared outcomes of jobs this worker still holds and move their batches'
        counters: the transitions (in the outcomes' order), the batch of each, and the batches
        just finished."""
        ends, order = prepared
        written: dict[tuple[str, int], tuple[Any, ...]] = {}  # by job id and end
        for at_end, (outs, sets, args, _) in enumerate(ends):
            for at in range(0, len(outs), _IDS_PER_UPDATE):
                part = outs[at : at + _IDS_PER_UPDATE]
                written.update(
                    ((row[_JOB_ID], at_end), row)
                    for row in db.execute(
                        f"UPDATE jobs SET {sets} WHERE job_id IN ({', '.join('?' * len(part))}) "
                        f"AND lease_owner = ? AND status = 'processing' RETURNING {SELECT}",
                        (*args, *(o.job_id for o in part), part[0].worker_id),
                    ).fetchall()
                )
        done: list[Transition] = []
        batch_of: list[str | None] = []
        moves: list[tuple[str | None, str, str]] = []
        for job_id, at_end in order:
            row = written.pop((job_id, at_end), None)
            if row is None:  # not this worker's job (any longer)
                continue
            target = ends[at_end][3]
            batch_id = row[_BATCH_ID]
            moves.append((batch_id, "processing", target))
            done.append(
                Transition(
                    functools.partial(self._job_from_row, row),
                    status=JobStatus(target),
                    job_id=row[_JOB_ID],
                )
            )
            batch_of.append(batch_id)
        finished = self._move_counters(db, moves, now_ms) if moves else []
        return done, batch_of, finished

    def recover_expired(self, now: datetime, backoff: float | Backoff = 2.0) -> list[Transition]:
        now_ms = to_ms(now)
        policy = Backoff.of(backoff)
        done: list[Transition] = []
        batch_of: list[str | None] = []
        with self._tx() as db:
            # A processing job without a (readable) lease counts as expired: nothing renews it.
            rows = db.execute(
                "SELECT rowid, job_id, job_type, attempts, max_attempts, lease_owner FROM jobs "
                f"WHERE status = 'processing' AND {TAKEN} AND (lease_expires_at < ? "
                "OR lease_expires_at IS NULL OR typeof(lease_expires_at) != 'integer')",
                (now_ms,),
            ).fetchall()
            moves = []
            for rowid, job_id, job_type, attempts, max_attempts, owner in rows:
                out = lifecycle.lease_expired(
                    str(job_id),
                    owner if isinstance(owner, str) else None,
                    job_type=job_type_of(job_type) if isinstance(job_type, str) else None,
                    attempts=attempts if isinstance(attempts, int) else 1,
                    max_attempts=max_attempts if isinstance(max_attempts, int) else 1,
                    backoff=policy,
                    now=now,
                )
                change = lifecycle.outcome_change(out, now)
                sets, args = change_sql(change)
                row = db.execute(
                    f"UPDATE jobs SET {sets} WHERE rowid = ? RETURNING {SELECT}", (*args, rowid)
                ).fetchone()
                job = self._job_from_row(row)
                moves.append((job.batch_id, "processing", change.status.value))
                done.append(Transition(job))
                batch_of.append(job.batch_id)
            finished = self._move_counters(db, moves, now_ms)
        attach_batches(done, batch_of, finished)
        if done:
            self._wake()
        return done

    def beat(
        self, record: WorkerRecord, job_ids: Collection[str], now: datetime
    ) -> tuple[set[str], set[str]]:
        with self._tx():  # one commit for the record and the leases
            return super().beat(record, job_ids, now)

    def sweep_unserved(self, now: datetime, grace: float) -> list[Transition]:
        with self._tx():  # a worker registering meanwhile waits for the verdict, or prevents it
            return super().sweep_unserved(now, grace)

    def fail_pending(
        self, messages: Mapping[str, str], now: datetime, limit: int = 500
    ) -> list[Transition]:
        now_ms = to_ms(now) or 0
        done: list[Transition] = []
        batch_of: list[str | None] = []
        logs: list[tuple[str, LogEntry]] = []
        with self._tx() as db:
            for job_type, message in messages.items():
                error = JobError(errors.UNKNOWN_JOB_TYPE, message, {"job_type": job_type})
                sets, args = change_sql(lifecycle.failed_pending(error, now))
                rows = db.execute(
                    f"UPDATE jobs SET {sets} WHERE rowid IN ({PENDING_OF_TYPE} LIMIT ?) "
                    f"RETURNING {SELECT}",
                    (*args, *[job_type] * len(PENDING_INDEXES), limit),
                ).fetchall()
                for row in rows:
                    job_id, batch_id = row[0], row[JOB_COLS.index("batch_id")]
                    done.append(
                        Transition(
                            functools.partial(self._job_from_row, row),
                            status=JobStatus.FAILED,
                            job_id=job_id,
                        )
                    )
                    batch_of.append(batch_id)
                    logs.append(
                        (
                            job_id,
                            LogEntry(now, LogLevel.ERROR, f"{errors.UNKNOWN_JOB_TYPE}: {message}"),
                        )
                    )
            self.append_logs(logs)
            finished = self._move_counters(db, [(b, "pending", "failed") for b in batch_of], now_ms)
        attach_batches(done, batch_of, finished)
        return done


def _batch_of(row: Sequence[Any]) -> str | None:
    """The batch whose counters a claimed row moves (as :meth:`SQLiteWork.finish` reads it)."""
    batch_id = row_value(row, "batch_id")
    return batch_id if isinstance(batch_id, str) and not isinstance(batch_id, BadText) else None
