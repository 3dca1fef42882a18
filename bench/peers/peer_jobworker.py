"""jobworker as a contender of shared/bench-peers: SQLite store, ``jobworker run --processes``.

The job type ``bench`` is registered by this module (``--plugin peer_jobworker``); its async
handler calls ``benchlib.record``. Leases, progress and batch counters stay on (defaults).
"""

import os

import attrs
from benchlib import record
from jobworker import JobHandler, connect, hookimpl


@attrs.define
class Params:
    i: int
    t: float


async def bench(ctx):
    record(ctx.params.i, ctx.params.t)


@hookimpl
def register_job_handlers(register):
    register(JobHandler("bench", bench, params=Params))


def make_producer():
    import peer_jobworker
    from jobworker.testing import make_plugins

    client = connect(
        f"sqlite:///{os.environ['BENCH_TMP']}/jobworker.db", plugins=make_plugins([peer_jobworker])
    )
    return lambda i, t: client.submit("bench", {"i": i, "t": t})
