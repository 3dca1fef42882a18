"""Queries and documents of the MongoDB store (no I/O except :class:`ResultsSpill`); what a
transition writes is in :mod:`.mongo_changes`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.errors import InvalidDocument
from gridfs import GridFSBucket
from gridfs.errors import NoFile
from pymongo.collection import Collection
from pymongo.database import Database

from ..model import LEGACY_DEFAULT_TYPE, job_type_of
from .base import StoreError

__all__ = [
    "as_int",
    "claim_query",
    "expired_query",
    "ResultsSpill",
    "from_extended_json",
    "listing_query",
    "type_match",
    "type_values",
]

#: Stored ``job_type`` values of the legacy default type (empty or missing, see ``job_type_of``).
SESSION_ALIASES: tuple[Any, ...] = (LEGACY_DEFAULT_TYPE, "", None)

_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)
_JSON = json_util.JSONOptions(tz_aware=True, json_mode=json_util.JSONMode.CANONICAL)


def type_values(types: Iterable[str]) -> list[Any]:
    """Stored ``job_type`` values that mean these types (the legacy default includes
    ``""``/missing)."""
    out: list[Any] = []
    for t in types:
        for value in SESSION_ALIASES if job_type_of(t) == LEGACY_DEFAULT_TYPE else (t,):
            if value not in out:
                out.append(value)
    return out


def type_match(job_type: str) -> Any:
    """A filter value for one job type (``{"job_type": type_match(t)}``)."""
    values = type_values([job_type])
    return values[0] if len(values) == 1 else {"$in": values}


def from_extended_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A document with Extended JSON values (``{"$date": ...}``...) turned into BSON types;
    values that already are Python objects (datetimes, ...) are kept."""
    text = json_util.dumps(doc, json_options=_JSON)
    return dict(json_util.loads(text, json_options=_JSON))


def claim_query(
    allowed: set[str] | None, slots: Mapping[str, int], now: datetime
) -> dict[str, Any] | None:
    """The claim filter for the types that may still be taken, or ``None`` if none may.

    ``allowed`` ``None`` means any type (the caller turns "any type but these full ones" into
    the list of open types: a ``$nin`` is a range no index bound can use). A missing
    ``available_at`` (legacy document) counts as due: ``$not: {$gt: now}`` matches it as well
    as every date up to ``now``.
    """
    query: dict[str, Any] = {"status": "pending", "available_at": {"$not": {"$gt": now}}}
    if allowed is not None:
        open_types = sorted(t for t in allowed if slots.get(t, 1) > 0)
        if not open_types:
            return None
        query["job_type"] = {"$in": type_values(open_types)}
    return query


def as_int(value: object, default: int) -> int:
    """A stored counter (``attempts``...) as an int; ``default`` when it is not a number."""
    if isinstance(value, (int, float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            pass
    return default


def expired_query(now: datetime, orphaned_before: datetime) -> dict[str, Any]:
    """Processing jobs whose lease expired. A job without a (date) lease counts as expired: at
    once when jobworker claimed it (``lease_owner`` set), once its last update is older than
    ``orphaned_before`` when it has no owner either (left by the old system, which may still
    be running it)."""
    no_lease = {"$not": {"$type": "date"}}
    return {
        "status": "processing",
        "$or": [
            {"lease_expires_at": {"$lt": now}},
            {"lease_expires_at": no_lease, "lease_owner": {"$type": "string"}},
            {
                "lease_expires_at": no_lease,
                "lease_owner": {"$not": {"$type": "string"}},
                "updated_at": {"$not": {"$gte": orphaned_before}},
            },
        ],
    }


class ResultsSpill:
    """Keeps results documents under MongoDB's 16 MiB limit by moving big ones to GridFS.

    Results whose BSON size exceeds ``threshold`` are stored whole in the GridFS bucket
    ``<bucket>``; the job document keeps the small values inline (so old readers still see
    e.g. ``markdown_file`` and ``target_dir``), the big ones replaced by ``null`` (``[]`` for
    lists), plus ``results_ref: {gridfs_id, size, bucket}``. :meth:`load` reverses it.
    """

    REF = "results_ref"

    def __init__(
        self, db: Database[Any], bucket: str, threshold: int, inline_limit: int = 64 * 1024
    ) -> None:
        self.db = db
        self.bucket_name = bucket
        self.threshold = int(threshold)
        self.inline_limit = min(int(inline_limit), self.threshold)
        self._bucket: GridFSBucket | None = None

    @property
    def bucket(self) -> GridFSBucket:
        if self._bucket is None:
            self._bucket = GridFSBucket(self.db, bucket_name=self.bucket_name)
        return self._bucket

    def prepare(
        self, job_id: str, results: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], Any | None]:
        """``(results sub-document, GridFS id or None)`` for storing ``results``."""
        full = dict(results or {})
        try:
            data = bson.encode(full, codec_options=_CODEC)
        except (InvalidDocument, TypeError, OverflowError) as exc:
            raise StoreError(f"results of {job_id} cannot be stored: {exc}") from exc
        if len(data) <= self.threshold:
            return full, None
        file_id = self.bucket.upload_from_stream(
            f"{job_id}.results.bson",
            data,
            metadata={"job_id": job_id, "content": "results", "encoding": "bson"},
        )
        sizes = {k: len(bson.encode({"v": v}, codec_options=_CODEC)) for k, v in full.items()}
        inline: dict[str, Any] = {}
        budget = self.inline_limit
        for key in sorted(full, key=lambda k: sizes[k]):
            if sizes[key] <= budget:
                inline[key] = full[key]
                budget -= sizes[key]
            else:
                inline[key] = [] if isinstance(full[key], (list, tuple)) else None
        doc = {k: inline[k] for k in full}  # keep the handler's key order
        doc[self.REF] = {"gridfs_id": file_id, "size": len(data), "bucket": self.bucket_name}
        return doc, file_id

    @property
    def bucket_files(self) -> Collection[Any]:
        """The bucket's ``<bucket>.files`` collection (for the orphan sweep)."""
        return self.db.get_collection(f"{self.bucket_name}.files")

    def file_id(self, results: object) -> Any | None:
        """The GridFS id a stored results sub-document refers to, if any. Only the store's own
        reference counts (an ObjectId, which JSON data cannot hold): a user's result that
        happens to be named ``results_ref`` is data like any other."""
        if isinstance(results, Mapping):
            ref = results.get(self.REF)
            if isinstance(ref, Mapping) and isinstance(ref.get("gridfs_id"), bson.ObjectId):
                return ref["gridfs_id"]
        return None

    def load(self, results: dict[str, Any] | None) -> dict[str, Any] | None:
        """The full results for a stored results sub-document (spilled or not)."""
        file_id = self.file_id(results)
        if file_id is None:
            return results
        try:
            data = self.bucket.open_download_stream(file_id).read()
        except NoFile:
            # The file is gone (deleted by hand): return what the document still holds.
            return {k: v for k, v in (results or {}).items() if k != self.REF}
        return dict(bson.decode(data, codec_options=_CODEC))

    def delete(self, file_ids: Iterable[Any]) -> None:
        for file_id in file_ids:
            try:
                self.bucket.delete(file_id)
            except NoFile:
                pass


def listing_query(
    id_field: str, owner: str | None, after: tuple[datetime, str] | None
) -> dict[str, Any]:
    """The filter shared by the listings: the owner (extra field ``owner_key``) and the keyset
    cursor over ``(created_at, id)`` descending."""
    query: dict[str, Any] = {}
    if owner is not None:
        query["owner_key"] = owner
    if after is not None:
        when, last = after
        query["$or"] = [
            {"created_at": {"$lt": when}},
            {"created_at": when, id_field: {"$lt": last}},
        ]
    return query
