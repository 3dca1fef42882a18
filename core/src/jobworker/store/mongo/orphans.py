"""Sweeping GridFS result files whose job no longer points at them.

A spilled result is written in two steps (the GridFS file, then the job document that refers
to it) and deleted in two (the job, then the file), so an interrupted purge, retry or finish
can leave a file behind. :func:`sweep_orphan_results` deletes files older than a cutoff whose
job is gone or refers to another file. The cutoff keeps files of attempts still finishing
(uploaded, job not yet written) out of reach; file ids are ObjectIds whose time is their upload
time, so the sweep walks the ``_id`` index in order, 500 files at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from .results import ResultsSpill

__all__ = ["sweep_orphan_results"]

_CHUNK = 500


def sweep_orphan_results(spill: ResultsSpill, jobs: Collection[Any], cutoff: datetime) -> int:
    """Delete result files uploaded before ``cutoff`` that no job refers to; return how many."""
    files = spill.bucket_files
    last: Any = None
    deleted = 0
    bound = {"$lt": ObjectId.from_datetime(cutoff)}
    while True:
        query: dict[str, Any] = {"_id": {**bound, "$gt": last} if last is not None else bound}
        rows = list(
            files.find(query, {"_id": 1, "metadata.job_id": 1}).sort("_id", 1).limit(_CHUNK)
        )
        if not rows:
            return deleted
        last = rows[-1]["_id"]
        job_ids = [
            r["metadata"]["job_id"]
            for r in rows
            if isinstance(r.get("metadata"), dict) and isinstance(r["metadata"].get("job_id"), str)
        ]
        referenced = {
            spill.file_id(doc.get("results"))
            for doc in jobs.find(
                {"job_id": {"$in": job_ids}}, {"_id": 0, "results.results_ref.gridfs_id": 1}
            )
        }
        orphans = [r["_id"] for r in rows if r["_id"] not in referenced]
        spill.delete(orphans)
        deleted += len(orphans)
