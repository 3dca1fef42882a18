"""The embedded store: one SQLite file in WAL mode, safe for many processes on one machine.

Claims, terminal transitions and batch counters each run in one ``BEGIN IMMEDIATE`` transaction,
so two workers never hold one job. Durability is the ``synchronous`` option: ``NORMAL`` (default)
loses nothing when a process crashes but a power loss can drop the last commits; with ``FULL``
nothing is acknowledged or announced before it is synced, and commits share syncs taken outside
the write lock (:mod:`.walsync`). The worker batches its writes (claims of several jobs, outcomes
of several attempts in one transaction).

Idle workers are woken by a datagram on a Unix socket per worker in a folder named after the
database (``$TMPDIR/jobworker-wake-<hash of its path>/``): every commit
that makes work available (enqueue, retry, cancel) sends one, so a new job is picked up in
milliseconds without polling. A submit sends it just before its commit, so that the worker's
wake-up overlaps the commit (not with group syncs: see :mod:`.connection`).

The package, by concept: :mod:`.connection` (the file, transactions, wake-ups), :mod:`.jobs`
(inserts and reads), :mod:`.work` (the worker's operations), :mod:`.store` (users' operations,
the whole store), :mod:`.changes` (the lifecycle rules as SQL), :mod:`.rows`, :mod:`.schema`
(tables and indexes), :mod:`.pending` (queries of pending jobs through their two indexes),
:mod:`.registry`, :mod:`.apikeys`, :mod:`.walsync` (group syncs).
"""

from .store import SQLiteStore

__all__ = ["SQLiteStore"]
