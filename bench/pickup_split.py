"""Where an idle worker's pickup latency goes (rough: the worker runs on a thread of this process,
so submitter and worker share a GIL and every step is inflated). Usage::

    .venv/bin/python bench/pickup_split.py [--jobs 60] [--io-thread]

Prints the median time from the submit call to: submit returned, wake-up seen by the loop, claim
started on the I/O thread, claim has its row, attempt started on the loop, handler running.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from typing import Any

from jobworker import JobHandler, connect, hookimpl
from jobworker import worker as worker_module
from jobworker.config import Settings
from jobworker.logs import configure_logging
from jobworker.store.sqlite import SQLiteStore
from jobworker.testing import make_plugins

STEPS = ["submitted", "wake", "claim_start", "claim_end", "loop_has_job", "handler"]
marks: dict[str, float] = {}


def mark(step: str) -> None:
    marks.setdefault(step, time.perf_counter())


def instrument() -> None:
    """Wrap the worker's and the store's steps so that each records when it first ran."""
    worker_cls = worker_module.Worker
    on_wake, start, claim = worker_cls._on_wake, worker_cls._start, SQLiteStore._claim_rows

    def on_wake_marked(self: Any, notifier: Any) -> None:
        mark("wake")
        on_wake(self, notifier)

    def start_marked(self: Any, job: Any) -> None:
        mark("loop_has_job")
        start(self, job)

    def claim_marked(self: Any, *args: Any, **kwargs: Any) -> Any:
        mark("claim_start")
        claimed = claim(self, *args, **kwargs)
        if claimed:
            mark("claim_end")
        return claimed

    worker_cls._on_wake = on_wake_marked  # type: ignore[method-assign]  # instrumentation
    worker_cls._start = start_marked  # type: ignore[method-assign]  # instrumentation
    SQLiteStore._claim_rows = claim_marked  # type: ignore[method-assign]  # instrumentation


async def noop(ctx: Any) -> None:
    mark("handler")


class Plugin:
    @hookimpl
    def register_job_handlers(self, register: Any) -> None:
        register(JobHandler("lat", noop))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument(
        "--io-thread",
        action="store_true",
        help="every store call on the worker's I/O thread, as before the idle round trip moved "
        "onto the loop (an A/B of that change)",
    )
    args = parser.parse_args()
    if args.io_thread:
        SQLiteStore.local = False
    configure_logging("warning")
    instrument()
    folder = tempfile.mkdtemp()
    plugins = make_plugins([Plugin()])
    store = SQLiteStore(f"{folder}/pickup.db")
    store.init()
    worker = worker_module.Worker(store, plugins, Settings(plugin_check_interval=0))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(worker.run()), daemon=True)
    thread.start()
    client = connect(f"sqlite:///{folder}/pickup.db", plugins=plugins)
    time.sleep(1.5)
    rows = []
    for _ in range(args.jobs):
        time.sleep(random.uniform(0.05, 0.2))  # arrivals not phase-locked to any timer
        marks.clear()
        t0 = marks["submit"] = time.perf_counter()
        client.submit("lat")
        mark("submitted")
        while "handler" not in marks:
            time.sleep(0.0001)
        rows.append({k: (v - t0) * 1000 for k, v in marks.items()})
    for step in STEPS:
        median = statistics.median(r.get(step, float("nan")) for r in rows)
        print(f"{step:14s} p50 {median:.2f} ms")
    loop.call_soon_threadsafe(worker.request_stop, True)
    thread.join(30)
    client.close()


if __name__ == "__main__":
    main()
