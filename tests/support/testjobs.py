"""Job types for the core's own tests (loaded with ``--plugin testjobs`` / ``make_plugins``).

Every handler records what it did in a file when ``record`` is given, so tests in other
processes can count executions (``exactly once``) without trusting the store.
"""

from __future__ import annotations

import asyncio
import os
import time

import attrs
from jobworker import JobFailure, JobHandler, hookimpl


@attrs.define
class Params:
    record: str | None = None  # append "<job_id> <pid>\n" here when the handler runs
    sleep: float = 0.0
    fail: str | None = None  # "retryable" | "final" | "crash"
    steps: int = 0
    n: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    gate: str | None = None  # a folder: wait until a file named by the job id is in it


def _record(ctx) -> None:
    if ctx.params.record:
        line = f"{ctx.job_id} {os.getpid()} {ctx.attempt}\n".encode()
        fd = os.open(ctx.params.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _outcome(ctx) -> dict:
    if ctx.params.fail == "retryable":
        raise RuntimeError("flaky failure")
    if ctx.params.fail == "final":
        raise JobFailure("refused on purpose", code="TEST_REFUSED")
    return {"structured_data": {"n": ctx.params.n, "pid": os.getpid()}}


async def async_job(ctx):
    _record(ctx)
    while ctx.params.gate and not os.path.exists(os.path.join(ctx.params.gate, ctx.job_id)):
        await asyncio.sleep(0.01)  # until the test releases this job
    for i in range(ctx.params.steps):
        ctx.progress(int(100 * i / ctx.params.steps), "step", f"{i}")
        await asyncio.sleep(ctx.params.sleep / max(1, ctx.params.steps))
    if not ctx.params.steps and ctx.params.sleep:
        await asyncio.sleep(ctx.params.sleep)
    return _outcome(ctx)


def thread_job(ctx):
    _record(ctx)
    deadline = time.monotonic() + ctx.params.sleep
    i = 0
    while time.monotonic() < deadline:
        ctx.raise_if_cancelled()
        ctx.progress(i, "working")
        i += 1
        time.sleep(0.01)
    return _outcome(ctx)


def cpu_job(ctx):
    """Busy-loops for ``sleep`` seconds (ignores cancellation: only a kill stops it)."""
    _record(ctx)
    ctx.progress(10, "spinning")
    deadline = time.monotonic() + ctx.params.sleep
    x = 0
    while time.monotonic() < deadline:
        x += 1
    ctx.log("info", "spun")
    return _outcome(ctx)


async def noop(ctx):
    return None


async def echo(ctx):
    """Returns its parameters (the merged view) as structured data, exactly as it got them."""
    return {"structured_data": {"params": ctx.params}}


@hookimpl
def register_job_handlers(register):
    register(JobHandler("async", async_job, params=Params, backoff=0))
    register(JobHandler("thread", thread_job, params=Params, backoff=0))
    register(JobHandler("cpu", cpu_job, params=Params, executor="process", backoff=0))
    register(JobHandler("noop", noop, backoff=0))
    register(JobHandler("echo", echo, backoff=0))
