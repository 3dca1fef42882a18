"""The SQLite store's worker registry (table ``workers``) and the queries the fleet rules need.

Each worker is one row: ``worker_id``, ``heartbeat_at`` and ``stopped_at`` as columns (epoch
milliseconds), the whole :class:`~jobworker.fleet.WorkerRecord` as JSON in ``doc``. The functions
take the store's connection inside a transaction the caller holds, so a heartbeat writes the
record in the same commit that renews its jobs' leases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import TYPE_CHECKING

from ...model import job_type_of
from .._codec import dumps, loads, to_ms

if TYPE_CHECKING:
    from ...fleet import WorkerRecord

__all__ = [
    "REGISTRY_SCHEMA",
    "delete_before",
    "next_due_sql",
    "pending_types",
    "select_workers",
    "upsert_worker",
]

REGISTRY_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL,
    stopped_at INTEGER,
    doc TEXT NOT NULL
);
"""


def upsert_worker(db: sqlite3.Connection, record: WorkerRecord) -> None:
    db.execute(
        "INSERT INTO workers (worker_id, heartbeat_at, stopped_at, doc) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
        "stopped_at = excluded.stopped_at, doc = excluded.doc",
        (
            record.worker_id,
            to_ms(record.heartbeat_at),
            to_ms(record.stopped_at),
            dumps(record.to_dict()),
        ),
    )


def select_workers(db: sqlite3.Connection) -> list[WorkerRecord]:
    rows = db.execute("SELECT doc FROM workers").fetchall()
    from ...fleet import WorkerRecord  # the fleet's commands, not a submit

    records = [WorkerRecord.from_dict(loads(doc)) for (doc,) in rows]
    return sorted(records, key=lambda r: (r.started_at, r.worker_id))


def delete_before(db: sqlite3.Connection, before_ms: int) -> int:
    return db.execute(
        "DELETE FROM workers WHERE coalesce(stopped_at, heartbeat_at) < ?", (before_ms,)
    ).rowcount


# Distinct job types of pending jobs by skipping through the typed claim index (status, job_type,
# ...): one index seek per type, however many jobs each type has.
_PENDING_TYPES = """
WITH RECURSIVE t(job_type) AS (
    SELECT (SELECT min(job_type) FROM jobs WHERE status = 'pending')
    UNION ALL
    SELECT (SELECT min(job_type) FROM jobs WHERE status = 'pending' AND job_type > t.job_type)
    FROM t WHERE t.job_type IS NOT NULL
)
SELECT job_type FROM t WHERE job_type IS NOT NULL
"""


def pending_types(db: sqlite3.Connection) -> set[str]:
    return {job_type_of(row[0]) for row in db.execute(_PENDING_TYPES).fetchall()}


def next_due_sql(types: Collection[str], now_ms: int) -> tuple[str, tuple[object, ...]]:
    """SQL (and its arguments) for the earliest future ``available_at`` of pending jobs of
    ``types``, one index range per type."""
    parts = " UNION ALL ".join(
        "SELECT min(available_at) AS a FROM jobs WHERE status = 'pending' AND job_type = ? "
        "AND available_at > ?"
        for _ in types
    )
    args: list[object] = []
    for t in types:
        args += [t, now_ms]
    return f"SELECT min(a) FROM ({parts})", tuple(args)
