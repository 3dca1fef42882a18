"""The SQLite store's worker registry (table ``workers``) and its queries.

Each worker is one row: ``worker_id``, ``heartbeat_at`` and ``stopped_at`` as columns (epoch
milliseconds), the whole :class:`~jobworker.fleet.WorkerRecord` as JSON in ``doc``. The functions
take the store's connection inside a transaction the caller holds, so a heartbeat writes the
record in the same commit that renews its jobs' leases.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from .._codec import dumps, loads, to_ms

if TYPE_CHECKING:
    from ...fleet import WorkerRecord

__all__ = [
    "REGISTRY_SCHEMA",
    "delete_before",
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
