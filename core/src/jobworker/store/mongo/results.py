"""Results under MongoDB's 16 MiB limit: big results documents moved to GridFS and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.errors import InvalidDocument
from gridfs import GridFSBucket
from gridfs.errors import NoFile
from pymongo.collection import Collection
from pymongo.database import Database

from ..base import StoreError

__all__ = ["ResultsSpill"]

_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


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
