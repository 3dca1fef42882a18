"""The fleet: the workers sharing one store, as each records itself in the store's registry.

Every worker writes a :class:`WorkerRecord` when it starts, refreshes it with each lease
heartbeat (every ``lease_seconds / 3``, in the same round trip that renews its jobs' leases) and
marks it stopped when it exits cleanly. A record is:

* **live** while its heartbeat is younger than :data:`DEAD_AFTER_LEASES` of its worker's lease
  lengths and it has not stopped;
* **stopped** after a clean exit (``stopped_at`` set);
* **dead** when its heartbeat is older than that (SIGKILL, power loss, a lost host). A dead
  worker's jobs are reclaimed by the lease recovery as before; the registry only says so.

Stopped and dead records stay in the registry for a while (:data:`KEEP_RECORDS`, and at least
the unknown-type grace), because they answer "was this job type served recently?".

**Unknown means unknown to the fleet** (:func:`unserved_types`): a pending job whose type no live
worker serves is failed with ``UNKNOWN_JOB_TYPE`` by the sweep, unless a worker serving the type
was seen within ``grace`` seconds (a rolling restart or a plugin upgrade never fails jobs). A type
no record ever served fails at once, so a typo still fails fast. This module does no I/O.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from .model import job_type_of

__all__ = [
    "DEAD_AFTER_LEASES",
    "KEEP_RECORDS",
    "PluginRecord",
    "WorkerRecord",
    "live_types",
    "unserved_reason",
    "unserved_types",
]

#: A worker whose heartbeat is older than this many of its lease lengths is dead.
DEAD_AFTER_LEASES = 3
#: Stopped and dead records are removed this long after they were last seen (or after the
#: unknown-type grace, if that is longer).
KEEP_RECORDS = timedelta(days=1)

WorkerState = Literal["live", "stopped", "dead"]


@attrs.define(frozen=True)
class PluginRecord:
    """One plugin loaded by a worker."""

    name: str
    distribution: str | None
    version: str | None


@attrs.define
class WorkerRecord:
    """What one worker process tells the fleet about itself.

    ``types`` maps each job type the worker claims (working handlers, narrowed by ``--types``)
    to how many jobs of it the worker runs at once; ``aliases`` maps legacy names it also claims
    to their type; ``installed`` lists the types it could run but does not claim (left out by
    ``--types``); ``unavailable`` lists installed types it cannot run here, with the reason.
    ``running`` holds the ids of the jobs it runs now; ``processed``/``failed`` count attempts
    that ended (any outcome) and attempts that ended failed, since the worker started.
    """

    worker_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    lease_seconds: float
    concurrency: int
    types: dict[str, int] = attrs.Factory(dict)
    aliases: dict[str, str] = attrs.Factory(dict)
    unavailable: dict[str, str] = attrs.Factory(dict)
    installed: list[str] = attrs.Factory(list)
    plugins: list[PluginRecord] = attrs.Factory(list)
    running: list[str] = attrs.Factory(list)
    processed: int = 0
    failed: int = 0
    stopped_at: datetime | None = None

    @classmethod
    def here(
        cls, worker_id: str, version: str, now: datetime, lease_seconds: float, concurrency: int
    ) -> WorkerRecord:
        """A record for a worker of this process, on this host, starting now."""
        return cls(
            worker_id,
            socket.gethostname(),
            os.getpid(),
            version,
            now,
            now,
            lease_seconds,
            concurrency,
        )

    # -- the fleet's view of this worker ---------------------------------------------------

    @property
    def last_seen(self) -> datetime:
        return self.stopped_at or self.heartbeat_at

    @property
    def dead_after(self) -> timedelta:
        return timedelta(seconds=DEAD_AFTER_LEASES * self.lease_seconds)

    def state(self, now: datetime) -> WorkerState:
        if self.stopped_at is not None:
            return "stopped"
        return "dead" if now - self.heartbeat_at > self.dead_after else "live"

    def alive(self, now: datetime) -> bool:
        return self.state(now) == "live"

    def heartbeat_age(self, now: datetime) -> float:
        """Seconds since the last heartbeat."""
        return max(0.0, (now - self.heartbeat_at).total_seconds())

    def serves(self, job_type: str | None) -> bool:
        """Whether this worker claims jobs of ``job_type`` (an alias counts)."""
        name = job_type_of(job_type)
        return name in self.types or name in self.aliases

    def knows(self, job_type: str | None) -> bool:
        """Whether this worker serves ``job_type`` or could (installed, left out by
        ``--types``): such jobs wait for it rather than fail as unknown."""
        return self.serves(job_type) or job_type_of(job_type) in self.installed

    # -- documents -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The stored document (datetimes stay datetimes; the store encodes them)."""
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "stopped_at": self.stopped_at,
            "lease_seconds": self.lease_seconds,
            "concurrency": self.concurrency,
            "types": dict(self.types),
            "aliases": dict(self.aliases),
            "unavailable": dict(self.unavailable),
            "installed": list(self.installed),
            "plugins": [attrs.asdict(p) for p in self.plugins],
            "running": list(self.running),
            "processed": self.processed,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> WorkerRecord:
        return cls(
            worker_id=str(doc["worker_id"]),
            host=str(doc.get("host") or ""),
            pid=int(doc.get("pid") or 0),
            version=str(doc.get("version") or ""),
            started_at=doc["started_at"],
            heartbeat_at=doc["heartbeat_at"],
            stopped_at=doc.get("stopped_at"),
            lease_seconds=float(doc.get("lease_seconds") or 30.0),
            concurrency=int(doc.get("concurrency") or 0),
            types={str(k): int(v) for k, v in dict(doc.get("types") or {}).items()},
            aliases={str(k): str(v) for k, v in dict(doc.get("aliases") or {}).items()},
            unavailable={str(k): str(v) for k, v in dict(doc.get("unavailable") or {}).items()},
            installed=[str(t) for t in doc.get("installed") or []],
            plugins=[
                PluginRecord(str(p.get("name")), p.get("distribution"), p.get("version"))
                for p in doc.get("plugins") or []
            ],
            running=[str(j) for j in doc.get("running") or []],
            processed=int(doc.get("processed") or 0),
            failed=int(doc.get("failed") or 0),
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        """A JSON-ready view with the derived ``state`` and ``heartbeat_age`` (CLI, HTTP)."""
        doc = self.to_dict()
        for key in ("started_at", "heartbeat_at", "stopped_at"):
            value = doc[key]
            doc[key] = value.isoformat() if isinstance(value, datetime) else value
        doc["state"] = self.state(now)
        doc["heartbeat_age"] = round(self.heartbeat_age(now), 3)
        return doc


def live_types(records: Iterable[WorkerRecord], now: datetime) -> list[str]:
    """The job types the live workers serve, sorted."""
    return sorted({t for r in records if r.alive(now) for t in r.types})


def unserved_types(
    pending: Iterable[str | None],
    records: Sequence[WorkerRecord],
    now: datetime,
    grace: float,
) -> dict[str, str]:
    """The pending job types to fail with ``UNKNOWN_JOB_TYPE`` now, each with its message.

    A type is failed when no live worker serves it and no worker that served it was seen in
    the last ``grace`` seconds (never served: at once). A type a live worker has installed but
    leaves out (``--types``) is never failed: its jobs wait, as the operator chose. Keys are
    job type names (a legacy job without a type is ``session``).
    """
    live = [r for r in records if r.alive(now)]
    out: dict[str, str] = {}
    for stored in pending:
        job_type = job_type_of(stored)
        if any(r.knows(job_type) for r in live):
            continue
        seen = [r for r in records if r.knows(job_type)]
        last = max(seen, key=lambda r: r.last_seen) if seen else None
        if last is not None and (now - last.last_seen).total_seconds() < grace:
            continue
        out[job_type] = _message(job_type, live, last, now)
    return out


def unserved_reason(
    job_type: str | None, records: Sequence[WorkerRecord], now: datetime
) -> str | None:
    """Why a pending job of ``job_type`` is not being claimed, or ``None`` if a live worker
    serves the type (``jobworker status``)."""
    live = [r for r in records if r.alive(now)]
    name = job_type_of(job_type)
    if any(r.serves(name) for r in live):
        return None
    seen = [r for r in records if r.knows(name)]
    last = max(seen, key=lambda r: r.last_seen) if seen else None
    return _message(name, live, last, now)


def _message(
    job_type: str, live: Sequence[WorkerRecord], last: WorkerRecord | None, now: datetime
) -> str:
    text = f"no live worker serves job type {job_type!r}"
    if last is None:
        text += " (no worker has served it)"
    else:
        age = (now - last.last_seen).total_seconds()
        text += f" (last served by {last.worker_id}, {last.state(now)}, seen {age:.0f} s ago)"
    unavailable = [
        f"{r.worker_id}: {r.unavailable[job_type]}" for r in live if job_type in r.unavailable
    ]
    if unavailable:
        text += f"; installed but unavailable on {'; '.join(unavailable)}"
    narrowed = [r.worker_id for r in live if job_type in r.installed]
    if narrowed:
        text += f"; installed but left out by --types on {', '.join(narrowed)}"
    served = live_types(live, now)
    return f"{text}; live workers serve: {', '.join(served) or 'nothing (no live worker)'}"
