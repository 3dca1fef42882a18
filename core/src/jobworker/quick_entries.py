"""The common entry of a batch submit, taken without building a :class:`~jobworker.model.Job`.

``Client.submit_batch_jobs`` validates every entry before anything is stored. Most entries are
alike: a job type of an installed plugin (not the legacy ``session`` shape), parameters of
plain JSON values that the type's schema accepts as they are, maybe a priority or a name.
:class:`QuickEntries` recognises such an entry, with the per-type work done once per type, and
turns it into a :class:`~jobworker.newjobs.NewJob`.

Every entry it does not take (another option, ``extra`` or ``webhook`` parameters, a value of
another type, anything invalid) goes through ``Client.build_job`` as before, which raises the
typed error naming the entry. For every entry it takes, ``NewJob.to_job`` equals what
``build_job`` makes of it (``tests/test_submit_batch_entries.py``, with hypothesis).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from .handler import JobHandler
from .model import LEGACY_DEFAULT_TYPE, JobParameters, new_job_id
from .newjobs import NewJob
from .plugins import Plugins
from .validation import (
    MAX_PARAMETER_BYTES,
    _field_names,
    _known_keys,
    _plain_instance,
    _plain_size_bound,
)

__all__ = ["QuickEntries"]

#: The keys of an entry :class:`QuickEntries` takes (any other option: ``build_job``).
_QUICK_KEYS = frozenset({"job_type", "parameters", "priority", "job_name"})
#: Parameter keys with a meaning of their own (flattened, or checked as a webhook).
_SPECIAL = frozenset({"extra", "webhook"})
_NAMED = frozenset(JobParameters.NAMED)


class _TypeInfo(NamedTuple):
    job_type: str  #: the primary type (an alias submits as it)
    handler: JobHandler | None
    known: frozenset[str] | None  #: keys the schema accepts (``None``: any)
    max_attempts: int


class QuickEntries:
    """Turns the entries of one batch submit that it recognises into :class:`NewJob`
    (:meth:`take`); the batch's own ``user_id``, ``allow_unknown_type`` and ``owner`` apply to
    every entry, as in ``Client.submit_batch_jobs``."""

    def __init__(
        self,
        plugins: Plugins,
        user_id: str | None,
        allow_unknown_type: bool,
        owner: str | None,
        *,
        recheck: bool = False,
    ) -> None:
        """``recheck``: look each entry's handler up again and redo the type's work if it
        changed (for an instance kept across calls, while the plugins may gain handlers)."""
        self.plugins = plugins
        self.user_id = user_id
        self.allow_unknown_type = allow_unknown_type
        self.owner = owner
        self.recheck = recheck
        self._types: dict[str, tuple[JobHandler | None, _TypeInfo | None]] = {}
        # Their documents are written as plain JSON (store._codec.dumps_plain): text or nothing.
        self._plain = all(v is None or type(v) is str for v in (user_id, owner))

    def _info(self, job_type: str) -> _TypeInfo | None:
        """What :meth:`take` needs of the type, worked out once (per handler) and kept."""
        known = self._types.get(job_type)
        if known is not None and not self.recheck:
            return known[1]
        handler = self.plugins.handler_for(job_type)
        if known is not None and known[0] is handler:
            return known[1]
        info = self._type_info(job_type, handler)
        self._types[job_type] = (handler, info)
        return info

    def _type_info(self, job_type: str, handler: JobHandler | None) -> _TypeInfo | None:
        if handler is None:
            if not self.allow_unknown_type or job_type in ("", LEGACY_DEFAULT_TYPE):
                return None  # refused (build_job says why), or the legacy shape
            return _TypeInfo(job_type, None, None, 3)
        if handler.job_type == LEGACY_DEFAULT_TYPE:
            return None
        known = None if handler.params is None else _known_keys(handler.params)
        return _TypeInfo(handler.job_type, handler, known, handler.max_attempts)

    def take(self, spec: Mapping[str, Any]) -> NewJob | None:
        """``spec``'s new job, or ``None`` when ``build_job`` has to decide."""
        if not self._plain or type(spec) is not dict or not _QUICK_KEYS.issuperset(spec):
            return None
        job_type = spec.get("job_type")
        if type(job_type) is not str:
            return None
        info = self._info(job_type)
        if info is None:
            return None
        parameters = spec.get("parameters", {})
        if type(parameters) is not dict or not _SPECIAL.isdisjoint(parameters):
            return None
        priority = spec.get("priority", 0)
        job_name = spec.get("job_name")
        if type(priority) is not int or not (job_name is None or type(job_name) is str):
            return None
        if _plain_size_bound(parameters) > MAX_PARAMETER_BYTES:
            return None
        handler = info.handler
        if handler is not None and handler.params is not None:
            if info.known is not None and not info.known.issuperset(parameters):
                return None
            # What params_for passes the schema: its own keys, without the legacy named keys
            # left at None (their schema defaults apply).
            names = _field_names(handler.params)
            data = {
                k: v
                for k, v in parameters.items()
                if k in names and not (v is None and k in _NAMED)
            }
            if _plain_instance(handler.params, data) is None:
                return None
        return NewJob(
            new_job_id(),
            info.job_type,
            parameters,
            time.time_ns() // 1_000_000,
            priority,
            info.max_attempts,
            job_name,
            self.user_id,
            self.owner,
        )
