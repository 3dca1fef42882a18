"""What ``import_documents`` (``jobworker import``) refuses: documents that would pass for
jobworker's own work.

jobworker itself makes the jobs of its internal types (the built-in ``webhook`` deliveries) and
marks them with an origin field (``webhook_origin``) that a delivery checks before it signs and
sends anything. Submitting cannot set either; importing raw documents could, so an imported job
document may neither have an internal ``job_type`` nor carry an origin field (also not in the
MongoDB store's escaped spelling, see :mod:`.mongo.keys`), nor an id that cannot name the job's
own output folder (``../x``, ``a/b``: :func:`~jobworker.model.folder_name_problem`). Nothing is
imported when one document is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..model import folder_name_problem
from .base import StoreError

__all__ = ["INTERNAL_JOB_TYPES", "ORIGIN_FIELDS", "check_importable"]

#: Job types whose jobs only jobworker itself creates.
INTERNAL_JOB_TYPES = frozenset({"webhook"})
#: Top-level fields only jobworker itself sets, to mark the jobs it made.
ORIGIN_FIELDS = frozenset({"webhook_origin"})

_ESCAPED = re.compile(r"%(25|24|2E|00)", re.IGNORECASE)


def _canonical(key: str) -> str:
    """The field a stored key may be read as, by any store (escapes and ``$`` prefixes off)."""
    previous = None
    while key != previous:
        previous = key
        key = _ESCAPED.sub(lambda m: chr(int(m[1], 16)), key).lstrip("$%")
    return key


def check_importable(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The job documents as a list; :class:`StoreError` for the first one that is refused."""
    docs = list(jobs)
    for number, doc in enumerate(docs, 1):
        if not isinstance(doc, Mapping):
            raise StoreError(f"job document {number} is {type(doc).__name__}, not an object")
        where = f"job document {number} ({doc.get('job_id', 'no job_id')})"
        job_id = doc.get("job_id")
        problem = folder_name_problem(job_id) if isinstance(job_id, str) else None
        if problem is not None:
            raise StoreError(f"{where}: {problem}; a job's id names its output folder")
        if doc.get("job_type") in INTERNAL_JOB_TYPES:
            raise StoreError(
                f"{where}: jobs of type {doc['job_type']!r} are made by jobworker itself "
                f"and cannot be imported"
            )
        for key in doc:
            if isinstance(key, str) and _canonical(key) in ORIGIN_FIELDS:
                raise StoreError(
                    f"{where}: the field {key!r} marks jobs jobworker made itself and "
                    f"cannot be imported"
                )
    return docs
