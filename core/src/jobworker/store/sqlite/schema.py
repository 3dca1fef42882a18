"""The SQLite store's tables and indexes. Queryable fields are columns; the rest of a job or
batch document is JSON in ``doc``.

Claims are always by type (a worker claims only the types it serves): ``jobs_type_claim`` serves
each type's claim with one index range, however many jobs of other types are pending. It
replaces the untyped ``jobs_claim`` of earlier versions (dropped by ``init``).

Typed claims read two small partial indexes, so that pending jobs that are not due yet cost
nothing either: ``jobs_ready`` holds the pending jobs that were due when created (ordered as
claims take them), ``jobs_delayed`` the others (delayed submits, retries waiting out their
backoff) by ``available_at``, whose due part alone is sorted.

Every index costs each insert (one more page written per single-job commit), so a job is in as
few as its queries need: ``jobs_in_batch`` holds only jobs of a batch (a query by ``batch_id =
?`` implies that), and the lease sweep reads the processing jobs through ``jobs_type_claim``.

Idempotency keys are unique through ``jobs_idempotency``, a partial index without the jobs that
have none (most jobs: a column ``UNIQUE`` constraint would index a NULL for each of them, one
more index entry per insert). A lookup by ``idempotency_key = ?`` uses it (the comparison implies
``IS NOT NULL``). Files made before it keep their column constraint, which a table rebuild alone
could remove: they get the partial index too (the planner prefers it, and it costs nothing for
jobs without a key) and go on paying the NULL entry per insert; the same rule holds in both."""

from .registry import REGISTRY_SCHEMA

# Replaced, preferred by the planner, or not worth their cost per insert: jobs_lease
# (status, lease_expires_at) only ever served ``status = ?``, as jobs_type_claim does;
# jobs_batch is jobs_in_batch without the jobs outside any batch.
DROPPED_INDEXES = ("jobs_claim", "jobs_available", "jobs_lease", "jobs_batch")

SCHEMA = (
    """
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
CREATE INDEX IF NOT EXISTS jobs_type_claim ON jobs (status, job_type, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (job_type, priority DESC, created_at, available_at)
    WHERE status = 'pending' AND available_at <= created_at;
CREATE INDEX IF NOT EXISTS jobs_delayed ON jobs (job_type, available_at)
    WHERE status = 'pending' AND available_at > created_at;
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
