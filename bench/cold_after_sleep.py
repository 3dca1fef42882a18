"""How much slower code runs right after a sleep than back to back, on this machine.

Times a few operations (system calls, an SQLite insert transaction, pure Python) 200 times
each, back to back and with a random 0-50 ms sleep before each, and prints the medians. A
pickup is all code that runs after a sleep (the producer's submit, the worker's wake-up), so
this bounds what shaving instructions can gain there. Usage::

    .venv/bin/python bench/cold_after_sleep.py
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(os.path.join(tmp, "f"), os.O_RDWR | os.O_CREAT)
        db = sqlite3.connect(os.path.join(tmp, "x.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE t (a, b)")

        def fstats() -> None:
            for _ in range(10):
                os.fstat(fd)

        def pwrites() -> None:
            for _ in range(10):
                os.pwrite(fd, b"x" * 100, 0)

        def insert() -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?, ?)", (1, "x" * 500))
            db.execute("COMMIT")

        def python() -> None:
            sum(range(100))

        cases: dict[str, Callable[[], None]] = {
            "10 fstat": fstats,
            "10 pwrite": pwrites,
            "SQLite insert transaction": insert,
            "sum(range(100))": python,
        }
        print("| operation | back to back µs | after a 0-50 ms sleep µs |")
        print("|---|---:|---:|")
        for name, fn in cases.items():
            medians = []
            for pause in (0.0, 0.05):
                times = []
                for _ in range(200):
                    start = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - start)
                    if pause:
                        time.sleep(random.uniform(0, pause))
                medians.append(statistics.median(times) * 1e6)
            print(f"| {name} | {medians[0]:.1f} | {medians[1]:.1f} |")
        os.close(fd)
        db.close()


if __name__ == "__main__":
    main()
