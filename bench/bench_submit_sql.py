"""SQLite's own part of a submit, without jobworker's Python: what the schema and the INSERT cost.

For the ``jobs`` table as this version makes it and as versions before the partial
``jobs_idempotency`` index made it (the key a column ``UNIQUE``, which indexes a NULL for every
job without a key), and for the INSERT of all 22 columns against the 10 a new job sets:

* µs of CPU per row of one ``executemany`` of ``--rows`` rows (a ``submit_batch``);
* µs of CPU per one-row transaction (``BEGIN IMMEDIATE``, INSERT, ``COMMIT``: a ``submit``);
* WAL pages written per one-row commit (from the WAL file's growth, checkpoints off).

Rows are made beforehand (ids, times one millisecond apart, a small document), medians of
``--reps`` fresh files. Usage::

    .venv/bin/python bench/bench_submit_sql.py [--rows 10000] [--single 3000] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from jobworker.store.sqlite.jobs import _INSERT_JOB, _INSERT_NEW
from jobworker.store.sqlite.schema import SCHEMA

OLD_SCHEMA = SCHEMA.replace("idempotency_key TEXT,", "idempotency_key TEXT UNIQUE,").replace(
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (idempotency_key)\n"
    "    WHERE idempotency_key IS NOT NULL;",
    "",
)
DOC = (
    '{"parameters":{"i":%d,"t":1764558000.123456},"archived":false,"access_control":'
    '{"visibility":"private","read_access":[],"write_access":[],"admin_access":[]}}'
)


def full_rows(n: int) -> list[tuple[object, ...]]:
    now = int(time.time() * 1000)
    fixed = ("bench", "pending", 0, None, 0, 3, None, 0, 0, None)
    return [
        (f"job-{uuid.uuid4()}", *fixed, now + i, now + i, now + i, *[None] * 7, DOC % i)
        for i in range(n)
    ]


def new_rows(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The same rows as :data:`_INSERT_NEW` binds them."""
    return [(r[0], r[1], r[2], r[3], r[4], r[6], r[11], r[12], r[13], r[21]) for r in rows]


def open_db(folder: str, schema: str, checkpoint: int = 10_000) -> sqlite3.Connection:
    db = sqlite3.connect(Path(folder) / "bench.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA wal_autocheckpoint={checkpoint}")
    db.executescript(schema)
    return db


def batch_us(schema: str, sql: str, rows: list[tuple[object, ...]]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(folder, schema)
        cpu = time.process_time()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
        took = time.process_time() - cpu
        db.close()
    return took / len(rows) * 1e6


def single(schema: str, sql: str, rows: list[tuple[object, ...]]) -> tuple[float, float]:
    """µs of CPU per one-row transaction, WAL pages per commit (after the first third)."""
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(folder, schema, checkpoint=0)
        wal = Path(folder) / "bench.db-wal"
        warm = len(rows) // 3
        cpu = time.process_time()
        for i, row in enumerate(rows):
            if i == warm:
                start = os.path.getsize(wal)
            db.execute("BEGIN IMMEDIATE")
            db.execute(sql, row)
            db.execute("COMMIT")
        took = time.process_time() - cpu
        pages = (os.path.getsize(wal) - start) / (4096 + 24) / (len(rows) - warm)
        db.close()
    return took / len(rows) * 1e6, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the executemany")
    parser.add_argument("--single", type=int, default=3_000, help="one-row transactions")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()
    cases = (
        ("before: column UNIQUE key, 22 columns", OLD_SCHEMA, _INSERT_JOB, False),
        ("partial key index, 22 columns", SCHEMA, _INSERT_JOB, False),
        ("partial key index, 10 columns (NewJob)", SCHEMA, _INSERT_NEW, True),
    )
    results: dict[str, list[tuple[float, float, float]]] = {label: [] for label, *_ in cases}
    for _ in range(args.reps):  # the cases alternate, so a change of the machine's load hits all
        for label, schema, sql, short in cases:
            many, one = full_rows(args.rows), full_rows(args.single)
            if short:
                many, one = new_rows(many), new_rows(one)
            results[label].append((batch_us(schema, sql, many), *single(schema, sql, one)))
    print(
        f"SQLite {sqlite3.sqlite_version}, load average at start {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; medians of {args.reps}"
    )
    print(
        "| table and INSERT | µs CPU per row, executemany | µs CPU per one-row commit "
        "| WAL pages per one-row commit |"
    )
    print("|---|---:|---:|---:|")
    for label, runs in results.items():
        many_us, one_us, pages = (statistics.median(r[k] for r in runs) for k in range(3))
        print(f"| {label} | {many_us:.1f} | {one_us:.1f} | {pages:.2f} |")


if __name__ == "__main__":
    main()
