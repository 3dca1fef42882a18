"""Queries of pending jobs. A pending job is in exactly one of two partial indexes,
``jobs_ready`` or ``jobs_delayed`` (:data:`.schema.PENDING_INDEXES`), and in no other index by
status: so each query here is one query per index, each with that index's condition."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from ...model import job_type_of
from .schema import DELAYED, PENDING_INDEXES

__all__ = ["PENDING_OF_TYPE", "earliest_sql", "next_due_sql", "pending_counts", "pending_types"]

#: The rowids of a type's pending jobs (one argument per index: the type).
PENDING_OF_TYPE = " UNION ALL ".join(
    f"SELECT rowid FROM jobs WHERE {pending} AND job_type = ?" for _, pending in PENDING_INDEXES
)


def _next_type(after: str) -> str:
    """The smallest pending job type above ``after`` (an SQL expression), from both indexes
    (each begins with job_type): one index seek per index."""
    return " UNION ALL ".join(
        f"SELECT min(job_type) AS m FROM jobs WHERE {pending} AND job_type > {after}"
        for _, pending in PENDING_INDEXES
    )


# Distinct job types of pending jobs by skipping through both indexes: one seek per type and
# index, however many jobs each type has.
_PENDING_TYPES = f"""
WITH RECURSIVE t(job_type) AS (
    SELECT (SELECT min(m) FROM ({_next_type("''")}))
    UNION ALL
    SELECT (SELECT min(m) FROM ({_next_type("t.job_type")}))
    FROM t WHERE t.job_type IS NOT NULL
)
SELECT job_type FROM t WHERE job_type IS NOT NULL
"""


def pending_types(db: sqlite3.Connection) -> set[str]:
    return {job_type_of(row[0]) for row in db.execute(_PENDING_TYPES).fetchall()}


def next_due_sql(types: Collection[str], now_ms: int) -> tuple[str, tuple[object, ...]]:
    """SQL (and its arguments) for the earliest future ``available_at`` of pending jobs of
    ``types``: one seek per type in ``jobs_delayed`` (a job in ``jobs_ready`` was due when it
    was made, so it is not in the future of any ``now`` after that)."""
    parts = " UNION ALL ".join(
        f"SELECT min(available_at) AS a FROM jobs WHERE {DELAYED} AND job_type = ? "
        "AND available_at > ?"
        for _ in types
    )
    args: list[object] = []
    for t in types:
        args += [t, now_ms]
    return f"SELECT min(a) FROM ({parts})", tuple(args)


def earliest_sql(after: bool) -> str:
    """SQL for the earliest ``available_at`` of any pending job (``after``: only times after
    the one argument, from ``jobs_delayed`` alone, as :func:`next_due_sql`)."""
    if after:
        return f"SELECT min(available_at) FROM jobs WHERE {DELAYED} AND available_at > ?"
    parts = " UNION ALL ".join(
        f"SELECT min(available_at) AS a FROM jobs WHERE {pending}" for _, pending in PENDING_INDEXES
    )
    return f"SELECT min(a) FROM ({parts})"


def pending_counts(where: str) -> str:
    """SQL counting the pending jobs that also meet ``where`` (its arguments once per index)."""
    return " + ".join(
        f"(SELECT count(*) FROM jobs WHERE {pending} AND {where})" for _, pending in PENDING_INDEXES
    )
