"""Names, URL options and indexes of the MongoDB store.

Indexes (created by :func:`create_indexes`, i.e. ``store.init()`` / ``jobworker store init``),
one for every query the store makes:

=============================  ===============================================================
jobs ``job_id_1``              unique ``job_id`` (same name as the old system's index)
``jobworker_idempotency_key``  unique ``idempotency_key``, partial: only string keys
``jobworker_claim_typed``      claims restricted to types: status, job_type, priority desc,
                               created_at, _id
``jobworker_claim_any``        claims of any type: status, priority desc, created_at, _id
``jobworker_lease``            lease recovery: status, lease_expires_at
``jobworker_available``        next scheduled job: status, available_at, created_at
``jobworker_batch``            a batch's jobs and counts: batch_id, status
``jobworker_created``          listing newest first: created_at desc, _id desc
batches ``batch_id_1``         unique ``batch_id`` (same name as the old system's index)
batches ``jobworker_created``  listing newest first
workers ``jobworker_seen``     the worker registry: pruning records by when last seen
=============================  ===============================================================
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from .base import StoreError

__all__ = [
    "BATCH_INDEXES",
    "COLLECTION_PRESETS",
    "JOB_INDEXES",
    "create_indexes",
    "mask_url",
    "split_url",
]

log = logging.getLogger(__name__)

COLLECTION_PRESETS = {
    "default": ("jobs", "batches"),
    "generic": ("jobs", "batches"),
    "legacy": ("event_jobs", "event_batches"),
}
DEFAULT_DATABASE = "jobworker"
DEFAULT_GRIDFS_THRESHOLD = 4 * 1024 * 1024
LIMITS_COLLECTION = "jobworker_limits"
OWN_OPTIONS = (
    "collections",
    "jobs_collection",
    "batches_collection",
    "workers_collection",
    "log_cap",
    "gridfs_threshold",
    "orphan_after",
)

# (keys, options) per collection; names left to MongoDB where the legacy system created the
# same index, so creating ours next to theirs is a no-op instead of a name conflict.
JOB_INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("job_id", ASCENDING)], {"unique": True}),
    (
        [("idempotency_key", ASCENDING)],
        {
            "unique": True,
            "name": "jobworker_idempotency_key",
            "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
        },
    ),
    (
        [
            ("status", ASCENDING),
            ("job_type", ASCENDING),
            ("priority", DESCENDING),
            ("created_at", ASCENDING),
            ("_id", ASCENDING),
        ],
        {"name": "jobworker_claim_typed"},
    ),
    (
        [
            ("status", ASCENDING),
            ("priority", DESCENDING),
            ("created_at", ASCENDING),
            ("_id", ASCENDING),
        ],
        {"name": "jobworker_claim_any"},
    ),
    ([("status", ASCENDING), ("lease_expires_at", ASCENDING)], {"name": "jobworker_lease"}),
    (
        [("status", ASCENDING), ("available_at", ASCENDING), ("created_at", ASCENDING)],
        {"name": "jobworker_available"},
    ),
    ([("batch_id", ASCENDING), ("status", ASCENDING)], {"name": "jobworker_batch"}),
    ([("created_at", DESCENDING), ("_id", DESCENDING)], {"name": "jobworker_created"}),
    (
        [("updated_at", ASCENDING)],
        {"name": "jobworker_announce", "partialFilterExpression": {"announce_pending": True}},
    ),
]
BATCH_INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("batch_id", ASCENDING)], {"unique": True}),
    ([("created_at", DESCENDING), ("_id", DESCENDING)], {"name": "jobworker_created"}),
]


def split_url(url: str) -> tuple[str, dict[str, str], str]:
    """``(url for pymongo, jobworker's own options, database name)``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mongodb", "mongodb+srv"):
        raise StoreError(f"not a MongoDB URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in OWN_OPTIONS}
    rest = [(k, v) for k, v in query if k not in OWN_OPTIONS]
    database = unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
    return urlunsplit(parts._replace(query=urlencode(rest))), own, database


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    hosts = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{hosts}"))


def create_indexes(jobs: Collection[Any], batches: Collection[Any]) -> list[str]:
    """Create every index the store's queries use; return their names. Idempotent; an
    equivalent index that already exists under another name is kept as it is."""
    names = []
    for coll, specs in ((jobs, JOB_INDEXES), (batches, BATCH_INDEXES)):
        for keys, opts in specs:
            try:
                names.append(coll.create_index(keys, **opts))
            except OperationFailure as exc:
                if exc.code != 85:  # IndexOptionsConflict: an index on these keys exists
                    raise StoreError(f"cannot create index {keys} on {coll.name}: {exc}") from exc
                log.warning(
                    "kept the existing index on %s %s: %s",
                    coll.name,
                    keys,
                    exc.details.get("errmsg") if exc.details else exc,
                )
    return names
