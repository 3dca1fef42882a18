"""The no-op job type of the core benchmark: records when it started, nothing else."""

from __future__ import annotations

import os
import time

import attrs
from jobworker import JobHandler, hookimpl


@attrs.define
class Params:
    record: str | None = None


async def noop(ctx):
    if ctx.params.record:
        line = f"{ctx.job_id} {time.time():.6f}\n".encode()
        fd = os.open(ctx.params.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


@hookimpl
def register_job_handlers(register):
    register(JobHandler("bench.noop", noop, params=Params))
    # a second no-op type, for bench_backlog.py (held at a cluster-wide limit there)
    register(JobHandler("bench.capped", noop, params=Params))
