"""Names, URL options and indexes of the MongoDB store.

Indexes (made sure of by :func:`ensure_indexes`, i.e. ``store.init()`` / ``jobworker store
init``), one for every query the store makes; ``tests/test_mongo_indexes.py`` records every
command of the contract suite and checks it against this list (equality, then sort, then range
fields), and ``docs/mongodb.md`` lists them too:

=================================  ===========================================================
jobs ``job_id_1``                  unique ``job_id`` (same name as the old system's index)
``jobworker_idempotency_key``      unique ``idempotency_key``, partial: only string keys
``jobworker_claim_by_type``        claims of some types: status, job_type, priority desc,
                                   created_at, _id, available_at
``jobworker_claim``                claims of any type: status, priority desc, created_at, _id,
                                   available_at
``jobworker_lease``                lease recovery: status, lease_expires_at
``jobworker_available``            next scheduled job of any type: status, available_at,
                                   created_at
``jobworker_available_by_type``    next scheduled job of some types: status, job_type,
                                   available_at
``jobworker_batch``                a batch's jobs and counts: batch_id, status
``jobworker_newest``               listing newest first: created_at desc, job_id desc
``jobworker_announce``             announcements to redo: updated_at, partial (announce_pending)
batches ``batch_id_1``             unique ``batch_id`` (same name as the old system's index)
batches ``jobworker_newest``       listing newest first: created_at desc, batch_id desc
batches ``jobworker_announce``     batch announcements to redo, partial (announce_pending)
batches ``jobworker_stale``        counters to repair: status, updated_at
workers ``jobworker_seen``         the worker registry: pruning records by when last seen
=================================  ===========================================================

An index that already exists with the same keys under another name (the old system's, a DBA's)
is reused, not duplicated; one that lacks a uniqueness the store relies on is refused with a
:class:`~jobworker.store.base.StoreError` naming it. Indexes of earlier jobworker versions that
no query uses any more (:data:`OBSOLETE_INDEXES`) are dropped once their replacement exists.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from ..base import StoreError

__all__ = [
    "BATCH_INDEXES",
    "COLLECTION_PRESETS",
    "JOB_INDEXES",
    "OBSOLETE_INDEXES",
    "ensure_indexes",
    "index_name",
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
    "log_message_max",
    "gridfs_threshold",
    "orphan_after",
)

IndexSpec = tuple[list[tuple[str, int]], dict[str, Any]]

_ANNOUNCE = {"partialFilterExpression": {"announce_pending": True}}

# (keys, options) per collection; names left to MongoDB where the legacy system created the
# same index (``job_id_1``, ``batch_id_1``).
JOB_INDEXES: list[IndexSpec] = [
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
            ("available_at", ASCENDING),
        ],
        {"name": "jobworker_claim_by_type"},
    ),
    (
        [
            ("status", ASCENDING),
            ("priority", DESCENDING),
            ("created_at", ASCENDING),
            ("_id", ASCENDING),
            ("available_at", ASCENDING),
        ],
        {"name": "jobworker_claim"},
    ),
    ([("status", ASCENDING), ("lease_expires_at", ASCENDING)], {"name": "jobworker_lease"}),
    (
        [("status", ASCENDING), ("available_at", ASCENDING), ("created_at", ASCENDING)],
        {"name": "jobworker_available"},
    ),
    (
        [("status", ASCENDING), ("job_type", ASCENDING), ("available_at", ASCENDING)],
        {"name": "jobworker_available_by_type"},
    ),
    ([("batch_id", ASCENDING), ("status", ASCENDING)], {"name": "jobworker_batch"}),
    ([("created_at", DESCENDING), ("job_id", DESCENDING)], {"name": "jobworker_newest"}),
    ([("updated_at", ASCENDING)], {"name": "jobworker_announce", **_ANNOUNCE}),
]
BATCH_INDEXES: list[IndexSpec] = [
    ([("batch_id", ASCENDING)], {"unique": True}),
    ([("created_at", DESCENDING), ("batch_id", DESCENDING)], {"name": "jobworker_newest"}),
    ([("updated_at", ASCENDING)], {"name": "jobworker_announce", **_ANNOUNCE}),
    ([("status", ASCENDING), ("updated_at", ASCENDING)], {"name": "jobworker_stale"}),
]
#: Indexes of earlier versions whose queries now use another index: dropped by ``init``.
OBSOLETE_INDEXES = ("jobworker_claim_typed", "jobworker_claim_any", "jobworker_created")


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


def index_name(keys: list[tuple[str, int]], options: dict[str, Any]) -> str:
    """The name an index spec gets (its own, or MongoDB's default ``field_dir_...``)."""
    return str(options.get("name") or "_".join(f"{k}_{d}" for k, d in keys))


def _equivalent(info: dict[str, Any], keys: list[tuple[str, int]], opts: dict[str, Any]) -> bool:
    """Whether an existing index (``index_information()`` entry) has these keys and the
    partial filter these options ask for (uniqueness is checked separately)."""
    existing = list(info.get("key", []))
    same_keys = len(existing) == len(keys) and all(
        str(k) == want and d == direction  # 1.0 == 1; "text" or "2d" never equal a direction
        for (k, d), (want, direction) in zip(existing, keys, strict=True)
    )
    return same_keys and info.get("partialFilterExpression") == opts.get("partialFilterExpression")


def ensure_indexes(jobs: Collection[Any], batches: Collection[Any]) -> list[str]:
    """Make sure every index the store's queries use exists; return their names.

    Reads ``index_information()`` first: an index with the same keys (and partial filter) is
    reused under whatever name it has; one that lacks the uniqueness the store relies on
    (``job_id``, ``batch_id``, idempotency keys) is refused, naming it, since creating ours
    next to it would fail or, worse, silently allow duplicates. Only missing indexes are
    created, so opening a store on an initialised database costs two ``listIndexes``.
    """
    names: list[str] = []
    for coll, specs in ((jobs, JOB_INDEXES), (batches, BATCH_INDEXES)):
        try:
            existing = dict(coll.index_information())
        except OperationFailure as exc:
            raise StoreError(f"cannot list the indexes of {coll.name}: {exc}") from exc
        for keys, opts in specs:
            wanted = index_name(keys, opts)
            same = [n for n, info in existing.items() if _equivalent(info, keys, opts)]
            if opts.get("unique"):
                unique = [n for n in same if existing[n].get("unique")]
                if not unique and same:
                    raise StoreError(
                        f"index {same[0]!r} on {coll.name} {keys} is not unique, but jobworker "
                        f"relies on unique {keys[0][0]} values: drop it (db.{coll.name}."
                        f"dropIndex({same[0]!r})) after checking there are no duplicates, "
                        "then run `jobworker store init` again"
                    )
                same = unique
            if same:
                names.append(wanted if wanted in same else same[0])
                continue
            if wanted in existing:
                raise StoreError(
                    f"an index named {wanted!r} on {coll.name} has other keys or options "
                    f"({existing[wanted].get('key')}) than jobworker needs ({keys}): drop or "
                    "rename it, then run `jobworker store init` again"
                )
            try:
                names.append(coll.create_index(keys, **opts))
            except OperationFailure as exc:
                raise StoreError(f"cannot create index {wanted!r} on {coll.name}: {exc}") from exc
        for name in OBSOLETE_INDEXES:
            if name in existing:
                log.info("dropping index %s on %s (replaced)", name, coll.name)
                try:
                    coll.drop_index(name)
                except OperationFailure as exc:
                    log.warning("could not drop the obsolete index %s: %s", name, exc)
    return names
