"""Claiming several jobs in one MongoDB round trip of three commands.

:func:`claim_group` reads the ids of up to ``limit`` claimable jobs in claim order (one
``find`` on the claim index), marks them all with one ``update_many`` that repeats the claim
filter (so a job another worker took meanwhile is not taken again: each document is updated
atomically and only while it still matches) and stamps them with a fresh ``claim_token``, then
reads back exactly the ones this update took (``_id`` in the ids and that token). Three
commands for any number of jobs, instead of one ``find_one_and_update`` per job; still no job
is ever held by two workers. The claim with per-type limits (local slots, cluster-wide limits)
keeps the one-job-at-a-time path, which re-checks the limits after every job.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

__all__ = ["CLAIM_SORT", "TOKEN", "claim_group"]

CLAIM_SORT = [("priority", DESCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]
#: Field stamped by a group claim (extra, ignored by old readers; cleared by every transition).
TOKEN = "claim_token"


def claim_group(
    jobs: Collection[Any],
    query: Mapping[str, Any],
    update: Mapping[str, Any],
    limit: int,
    projection: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], int]:
    """Claim up to ``limit`` jobs matching ``query`` with ``update``; return the claimed
    documents in claim order and how many candidates were seen (more candidates than claimed
    documents means other workers took some meanwhile: worth another round)."""
    ids = [d["_id"] for d in jobs.find(query, {"_id": 1}).sort(CLAIM_SORT).limit(limit)]
    if not ids:
        return [], 0
    token = uuid.uuid4().hex
    stamped = {**update, "$set": {**update["$set"], TOKEN: token}}
    jobs.update_many({**query, "_id": {"$in": ids}}, stamped)
    order = {v: i for i, v in enumerate(ids)}
    docs = list(jobs.find({"_id": {"$in": ids}, TOKEN: token}, projection))
    docs.sort(key=lambda d: order[d["_id"]])
    return docs, len(ids)
