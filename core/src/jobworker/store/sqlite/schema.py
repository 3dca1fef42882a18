"""The SQLite store's tables and indexes. Queryable fields are columns; the rest of a job or
batch document is JSON in ``doc``.

Every index costs each insert (one more page written per single-job commit, about a tenth of a
one-by-one submit), so a job is in as few indexes as its queries need. By status, a job is in
exactly one of three partial indexes:

* ``jobs_ready``: pending jobs that were due when created, ordered as claims take them (by
  type, then priority and age);
* ``jobs_delayed``: the other pending jobs (delayed submits, retries waiting out their
  backoff, jobs back from an expired lease) by type and ``available_at``, whose due part alone
  is sorted;
* ``jobs_taken``: the jobs that left pending (processing: the lease sweep, cluster-wide
  limits; finished: counts and purges), by status and type.

A worker's claims are always by type (it claims only the types it serves) and read one range
of ``jobs_ready`` and the due range of ``jobs_delayed`` per type: their cost depends neither on
how many jobs of other types are pending nor on how many of their own are not due yet (a claim
of any type, ``Claim(types=None)`` of the store API, which no worker makes, reads the table). Other
queries of pending jobs are in :mod:`.pending`. SQLite uses a partial index only for a query
whose ``WHERE`` repeats the index's condition (:data:`TAKEN`, :data:`READY`,
:data:`DELAYED`); ``tests/test_sqlite_plans.py`` checks that no query of the store scans the
table. ``jobs_in_batch`` holds only jobs of a batch (a query by ``batch_id = ?`` implies
that); ``jobs_created`` orders listings.

Files made by earlier versions lose the indexes these replace (:data:`DROPPED_INDEXES`, dropped
by ``init``): ``jobs_type_claim`` (every job by status and type, pending ones too: one entry
more per submit), the untyped ``jobs_claim`` and others.

Idempotency keys are unique through ``jobs_idempotency``, a partial index without the jobs that
have none (most jobs: a column ``UNIQUE`` constraint would index a NULL for each of them, one
more index entry per insert). A lookup by ``idempotency_key = ?`` uses it (the comparison implies
``IS NOT NULL``). Files made before it keep their column constraint, which a table rebuild alone
could remove: they get the partial index too (the planner prefers it, and it costs nothing for
jobs without a key) and go on paying the NULL entry per insert; the same rule holds in both."""

from .registry import REGISTRY_SCHEMA

# Replaced, preferred by the planner, or not worth their cost per insert: jobs_lease
# (status, lease_expires_at) only ever served ``status = ?``, as jobs_taken does; jobs_batch is
# jobs_in_batch without the jobs outside any batch; jobs_type_claim is jobs_taken with the
# pending jobs, which claims find in jobs_ready and jobs_delayed.
DROPPED_INDEXES = ("jobs_claim", "jobs_available", "jobs_lease", "jobs_batch", "jobs_type_claim")

#: The condition of ``jobs_taken``. SQLite uses a partial index only for a query whose WHERE
#: repeats that condition word for word (``status = 'processing'`` alone does not imply it),
#: so every query meant for ``jobs_taken`` adds this term.
TAKEN = "status <> 'pending'"
#: The conditions of ``jobs_ready`` and ``jobs_delayed``: between them, every pending job (a
#: query of pending jobs is one query per index, each with its condition).
READY = "status = 'pending' AND available_at <= created_at"
DELAYED = "status = 'pending' AND available_at > created_at"
PENDING_INDEXES = (("jobs_ready", READY), ("jobs_delayed", DELAYED))

SCHEMA = (
    f"""
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    batch_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    heartbeat_at INTEGER,
    processing_started_at INTEGER,
    completed_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    announce_pending INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    progress TEXT,
    results TEXT,
    error TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_taken ON jobs (status, job_type) WHERE {TAKEN};
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (job_type, priority DESC, created_at, available_at)
    WHERE {READY};
CREATE INDEX IF NOT EXISTS jobs_delayed ON jobs (job_type, available_at) WHERE {DELAYED};
CREATE INDEX IF NOT EXISTS jobs_in_batch ON jobs (batch_id, status) WHERE batch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_announce ON jobs (updated_at) WHERE announce_pending = 1;
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_job ON logs (job_id, id);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER,
    total_jobs INTEGER NOT NULL DEFAULT 0,
    completed_jobs INTEGER NOT NULL DEFAULT 0,
    failed_jobs INTEGER NOT NULL DEFAULT 0,
    pending_jobs INTEGER NOT NULL DEFAULT 0,
    processing_jobs INTEGER NOT NULL DEFAULT 0,
    announce_pending INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
"""
    + REGISTRY_SCHEMA
)
