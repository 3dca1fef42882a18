"""The job model: jobs, batches and their parts, in the legacy document shape.

Every class here is an attrs class that (un)structures to exactly the documents described in
``docs/legacy-schema.md`` (``event_jobs``/``jobs`` and ``event_batches``/``batches``), so a
document written by the old system can be read, processed and written back without an old reader
noticing. Three rules keep that promise:

* only the four legacy status values are ever written (:class:`JobStatus`);
* ``progress.percent`` is always within 0..100;
* nothing is dropped: unknown top-level keys live in :attr:`Job.unknown` and are written back
  unchanged; parameters are written back as they were read (see :class:`JobParameters`:
  ``session`` jobs in the legacy shape, every other type exactly as given).

Scheduling state that old readers do not know (attempts, leases, cancellation, idempotency key,
...) is stored in extra top-level fields which old readers ignore. This module imports nothing
else of the project.
"""

from __future__ import annotations

import enum
import functools
import os
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "AccessControl",
    "Batch",
    "Job",
    "JobError",
    "JobParameters",
    "JobProgress",
    "JobStatus",
    "LEGACY_RESULT_KEYS",
    "LogEntry",
    "LogLevel",
    "new_batch_id",
    "folder_name_problem",
    "new_job_id",
    "utcnow",
]


#: The one legacy dispatch rule: a job whose ``job_type`` is empty or missing is a ``session``
#: job (the old system's event jobs carry no type).
LEGACY_DEFAULT_TYPE = "session"


def job_type_of(value: str | None) -> str:
    """The job type a stored or submitted ``job_type`` means: empty or missing is
    :data:`LEGACY_DEFAULT_TYPE`."""
    return value or LEGACY_DEFAULT_TYPE


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, truncated to milliseconds (BSON precision).

    Made from whole milliseconds: a float of them / 1000 is within half a microsecond of the
    exact value, which ``fromtimestamp`` rounds to (faster than ``now().replace(...)``)."""
    return datetime.fromtimestamp(time.time_ns() // 1_000_000 / 1000, timezone.utc)


def new_job_id() -> str:
    """``job-`` and a random UUID (version 4) in its usual text form, formatted without a
    :class:`uuid.UUID` object (a third of the time, on the path of every submit)."""
    h = os.urandom(16).hex()
    return f"job-{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


#: The first digit of a version 4 UUID's fourth group: its two high bits are ``10``.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def new_batch_id() -> str:
    return f"batch-{uuid.uuid4()}"


#: The longest job id that still names a folder (a path component is at most 255 bytes).
MAX_FOLDER_ID_BYTES = 200


def folder_name_problem(job_id: str) -> str | None:
    """Why ``job_id`` cannot name a job's own folder (``<root>/<job_id>``), or ``None``.

    Ids jobworker makes are always fine; documents written by others (``jobworker import``, the
    old system's collections) can carry any string, and a job's folders must never leave their
    root or land in another job's folder.
    """
    if not job_id or job_id in {".", ".."} or job_id.startswith("."):
        return f"job id {job_id[:40]!r} is empty or starts with a dot"
    if any(c in job_id for c in "/\\\x00"):
        return f"job id {job_id[:40]!r} holds a path separator or a NUL byte"
    if len(job_id.encode("utf-8", "surrogatepass")) > MAX_FOLDER_ID_BYTES:
        return f"job id is longer than {MAX_FOLDER_ID_BYTES} bytes"
    return None


class JobStatus(str, enum.Enum):
    """The only four statuses ever written; cancellation, retries and leases are extra fields."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class LogLevel(str, enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @classmethod
    def parse(cls, value: object) -> LogLevel:
        """Like the old repository: an unknown level becomes ``info``."""
        try:
            return cls(str(value).lower())
        except ValueError:
            return cls.INFO


def _percent(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, number))


@attrs.define
class JobProgress:
    step: str = "initializing"
    percent: int = attrs.field(default=0, converter=_percent)
    message: str | None = None

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> JobProgress:
        """From a stored ``progress`` object (a missing or empty step reads as ``""``)."""
        return cls(
            step=str(value.get("step") or ""),
            percent=value.get("percent", 0),
            message=value.get("message"),
        )


@attrs.define
class JobError:
    """``code`` is one of the catalogue in :mod:`jobworker.errors` or a plugin's own code."""

    code: str
    message: str
    details: dict[str, Any] | None = None


@attrs.define
class LogEntry:
    timestamp: datetime
    level: LogLevel
    message: str


@attrs.define
class AccessControl:
    visibility: str = "private"
    read_access: list[str] = attrs.Factory(list)
    write_access: list[str] = attrs.Factory(list)
    admin_access: list[str] = attrs.Factory(list)

    @classmethod
    def for_user(cls, user_id: str | None) -> AccessControl:
        users = [user_id] if user_id else []
        return cls("private", list(users), list(users), list(users))


# The named keys of the legacy JobParameters and their defaults (legacy-schema.md, section 2).
_PARAMETER_DEFAULTS: dict[str, Any] = {
    "event": None,
    "session": None,
    "url": None,
    "filename": None,
    "track": None,
    "day": None,
    "starttime": None,
    "endtime": None,
    "speakers": [],
    "video_url": None,
    "attachments_url": None,
    "source_language": "en",
    "target_language": "de",
    "use_cache": True,
    "extraction_method": None,
    "template": None,
    "context": None,
    "include_images": False,
    "force_refresh": False,
    "file_hash": None,
    "webhook": None,
}

LEGACY_RESULT_KEYS: tuple[str, ...] = (
    "markdown_file",
    "markdown_content",
    "assets",
    "web_text",
    "video_transcript",
    "attachments_text",
    "context",
    "attachments_url",
    "archive_data",
    "archive_filename",
    "structured_data",
    "target_dir",
    "page_texts",
    "asset_dir",
)
_LIST_RESULT_KEYS = frozenset({"assets", "page_texts"})


@attrs.define
class JobParameters:
    """A job's parameters: named legacy keys (``values``) and everything else (``extra``).

    Two stored shapes, chosen by the job type (:meth:`from_dict`):

    * ``session`` jobs (and legacy jobs without a type) keep the old ``JobParameters`` shape
      that old readers need: every named key written, defaults filled in, other keys in
      ``extra`` (``given`` is ``None``);
    * every other type keeps its own parameters exactly as they were given (``given``), which
      is what :meth:`to_dict` writes and a person sees. Old readers accept that too: their
      ``from_dict`` fills missing named keys with defaults and moves unknown keys to ``extra``
      (docs/legacy-schema.md, section 2).

    ``values`` and ``extra`` are the read views either way; a type's schema is validated from
    :meth:`flat`, their merged view.
    """

    values: dict[str, Any] = attrs.Factory(lambda: _copy_defaults())
    extra: dict[str, Any] = attrs.Factory(dict)
    #: equal parameters mean equal views, whichever shape they were given in
    given: dict[str, Any] | None = attrs.field(default=None, eq=False)

    NAMED = tuple(_PARAMETER_DEFAULTS)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, *, job_type: str | None = LEGACY_DEFAULT_TYPE
    ) -> JobParameters:
        """Read parameters like the legacy ``from_dict``, flattening nested ``extra.extra``.

        Unknown top-level keys go to ``extra`` and win over keys already inside ``extra``.
        ``job_type`` picks the shape: the legacy one for ``session`` (the default, also for an
        empty type), the given mapping kept as it is for any other type.
        """
        data = dict(data or {})
        legacy = job_type_of(job_type) == LEGACY_DEFAULT_TYPE
        given = None if legacy else dict(data)
        extra = _flatten_extra(data.pop("extra", None))
        values = _copy_defaults() if legacy else {}
        for key, value in data.items():
            if key in _PARAMETER_DEFAULTS:
                values[key] = value
            else:
                extra[key] = value
        return cls(values, extra, given)

    def to_dict(self) -> dict[str, Any]:
        if self.given is not None:
            return dict(self.given)
        return {**self.values, "extra": dict(self.extra)}

    def flat(self) -> dict[str, Any]:
        """Named keys and ``extra`` in one mapping (``extra`` wins), for a type's schema."""
        return {**self.values, **self.extra}

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.extra:
            return self.extra[key]
        return self.values.get(key, default)

    def with_value(self, key: str, value: Any, job_type: str | None) -> JobParameters:
        """A copy with ``key`` set (at the top level), in the same shape."""
        return JobParameters.from_dict({**self.to_dict(), key: value}, job_type=job_type)


def _copy_defaults() -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in _PARAMETER_DEFAULTS.items()}


def _flatten_extra(extra: object) -> dict[str, Any]:
    """``{"a": 1, "extra": {"b": 2}}`` -> ``{"b": 2, "a": 1}`` (outer keys win)."""
    if extra is None or not isinstance(extra, Mapping):  # None: no ABC check, most often
        return {}
    inner = _flatten_extra(extra.get("extra"))
    inner.update({k: v for k, v in extra.items() if k != "extra"})
    return inner


def normalise_results(results: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill in the 14 legacy ``JobResults`` keys (nulls, empty lists) and keep every other key."""
    out: dict[str, Any] = {k: ([] if k in _LIST_RESULT_KEYS else None) for k in LEGACY_RESULT_KEYS}
    out.update(results or {})
    return out


@attrs.define
class Job:
    """One job document. Field names are the stored names."""

    job_type: str = LEGACY_DEFAULT_TYPE
    parameters: JobParameters = attrs.Factory(JobParameters)
    job_id: str = attrs.Factory(new_job_id)
    job_name: str | None = None
    status: JobStatus = JobStatus.PENDING
    created_at: datetime = attrs.Factory(utcnow)
    updated_at: datetime = attrs.Factory(utcnow)
    processing_started_at: datetime | None = None
    completed_at: datetime | None = None
    archived: bool = False
    user_id: str | None = None
    access_control: AccessControl = attrs.Factory(AccessControl)
    progress: JobProgress | None = None
    results: dict[str, Any] | None = None
    error: JobError | None = None
    batch_id: str | None = None
    logs: list[LogEntry] = attrs.Factory(list)
    # Scheduling state, stored as extra fields that old readers ignore.
    attempts: int = 0
    max_attempts: int = 3
    priority: int = 0
    available_at: datetime | None = None
    timeout: float | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    heartbeat_at: datetime | None = None
    cancel_requested: bool = False
    idempotency_key: str | None = None
    # Set with a terminal transition, cleared once the worker ran the job_finished hooks
    # (a worker that dies in between leaves it set, and a recovery sweep announces again).
    announce_pending: bool = False
    # Top-level keys this model does not know (e.g. legacy ``started_at``): kept as they are.
    unknown: dict[str, Any] = attrs.Factory(dict)

    @property
    def external_id(self) -> str | None:
        """The client's own id for the job (legacy ``parameters.webhook.jobId``)."""
        hook = self.parameters.values.get("webhook") or self.parameters.extra.get("webhook")
        return hook.get("jobId") if isinstance(hook, Mapping) else None

    def to_dict(self) -> dict[str, Any]:
        """The stored document (datetimes stay datetimes; BSON and the SQLite store encode them)."""
        return job_to_dict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Job:
        return job_from_dict(doc)


@attrs.define
class Batch:
    batch_id: str = attrs.Factory(new_batch_id)
    batch_name: str | None = None
    status: str = "processing"
    created_at: datetime = attrs.Factory(utcnow)
    updated_at: datetime = attrs.Factory(utcnow)
    completed_at: datetime | None = None
    total_jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    pending_jobs: int = 0
    processing_jobs: int = 0
    archived: bool = False
    isActive: bool = True  # noqa: N815 - legacy field name
    user_id: str | None = None
    access_control: AccessControl = attrs.Factory(AccessControl)
    #: set when the batch finishes, cleared once its ``batch_finished`` hooks ran
    announce_pending: bool = False
    unknown: dict[str, Any] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        if self.batch_name is None:
            self.batch_name = self.batch_id

    @property
    def finished(self) -> bool:
        return self.total_jobs > 0 and self.completed_jobs + self.failed_jobs >= self.total_jobs

    @property
    def percent(self) -> int:
        if not self.total_jobs:
            return 0
        return _percent(100 * (self.completed_jobs + self.failed_jobs) // self.total_jobs)

    def to_dict(self) -> dict[str, Any]:
        return batch_to_dict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Batch:
        return batch_from_dict(doc)


# -- (un)structuring -------------------------------------------------------------------------


@functools.cache
def _converter() -> cattrs.Converter:
    """The documents' converter, made on first use (cattrs is slow to import: a quick CLI)."""
    import cattrs

    converter = cattrs.Converter(detailed_validation=False)
    converter.register_structure_hook(datetime, lambda v, _: _to_datetime(v))
    converter.register_unstructure_hook(datetime, lambda v: v)
    converter.register_structure_hook(
        JobParameters,
        lambda v, _: v if isinstance(v, JobParameters) else JobParameters.from_dict(v),
    )
    converter.register_unstructure_hook(JobParameters, lambda p: p.to_dict())
    converter.register_structure_hook(LogLevel, lambda v, _: LogLevel.parse(v))
    converter.register_structure_hook(JobProgress, lambda v, _: JobProgress.from_dict(v))
    # Matches the None-able int/float fields loosely: legacy documents may carry floats or
    # strings.
    converter.register_structure_hook(int, lambda v, _: int(v))
    converter.register_structure_hook(bool, lambda v, _: bool(v))
    return converter


def _to_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, Mapping) and "$date" in value:  # Extended JSON
        return _to_datetime(value["$date"])
    text = str(value).replace("Z", "+00:00")
    return _to_datetime(datetime.fromisoformat(text))


def _optional(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else hook(v)


def _str_dict(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()}


def _log_entry(value: Mapping[str, Any]) -> LogEntry:
    return LogEntry(
        _to_datetime(value["timestamp"]), LogLevel.parse(value["level"]), str(value["message"])
    )


def _access_control(value: Mapping[str, Any]) -> AccessControl:
    kwargs: dict[str, Any] = {}
    if "visibility" in value:
        kwargs["visibility"] = str(value["visibility"])
    for name in ("read_access", "write_access", "admin_access"):
        if name in value:
            kwargs[name] = [str(v) for v in value[name]]
    return AccessControl(**kwargs)


def _job_error(value: Mapping[str, Any]) -> JobError:
    details = value.get("details")
    return JobError(
        str(value["code"]), str(value["message"]), None if details is None else _str_dict(details)
    )


_opt_str = _optional(str)
_opt_time = _optional(lambda v: _to_datetime(v))
#: How each field of a job document is structured: what the documents' cattrs converter does
#: (:func:`_converter`), written out because it is on every claim's path (a quarter of the
#: cost of reading a row). ``tests/test_job_structure.py`` checks that the two agree.
_JOB_HOOKS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("job_type", str),
    (
        "parameters",
        lambda v: v if isinstance(v, JobParameters) else JobParameters.from_dict(v),
    ),
    ("job_id", str),
    ("job_name", _opt_str),
    ("status", JobStatus),
    ("created_at", lambda v: _to_datetime(v)),
    ("updated_at", lambda v: _to_datetime(v)),
    ("processing_started_at", _opt_time),
    ("completed_at", _opt_time),
    ("archived", bool),
    ("user_id", _opt_str),
    ("access_control", _access_control),
    ("progress", _optional(JobProgress.from_dict)),
    ("results", _optional(_str_dict)),
    ("error", _optional(_job_error)),
    ("batch_id", _opt_str),
    ("logs", lambda v: [_log_entry(e) for e in v]),
    ("attempts", int),
    ("max_attempts", int),
    ("priority", int),
    ("available_at", _opt_time),
    ("timeout", _optional(float)),
    ("lease_owner", _opt_str),
    ("lease_expires_at", _opt_time),
    ("heartbeat_at", _opt_time),
    ("cancel_requested", bool),
    ("idempotency_key", _opt_str),
    ("announce_pending", bool),
)


def _structure_job(data: Mapping[str, Any]) -> Job:
    """``_converter().structure(data, Job)``, without cattrs' per-field dispatch."""
    return Job(**{name: _JOB_HOOK[name](value) for name, value in data.items()})


_JOB_HOOK = dict(_JOB_HOOKS)


_JOB_FIELDS = {f.name for f in attrs.fields(Job)} - {"unknown"}
_BATCH_FIELDS = {f.name for f in attrs.fields(Batch)} - {"unknown"}
# Fields written only when set, as the old system does (insert "only if given").
_JOB_OPTIONAL = {
    "job_name",
    "user_id",
    "batch_id",
    "processing_started_at",
    "completed_at",
    "available_at",
    "timeout",
    "lease_owner",
    "lease_expires_at",
    "heartbeat_at",
    "idempotency_key",
    "progress",
    "results",
    "error",
}
_BATCH_OPTIONAL = {"user_id", "completed_at"}


def job_to_dict(job: Job) -> dict[str, Any]:
    doc = _converter().unstructure(job)
    unknown = doc.pop("unknown")
    out = {k: v for k, v in doc.items() if not (k in _JOB_OPTIONAL and v is None)}
    if not job.announce_pending:
        del out["announce_pending"]
    out["status"] = job.status.value
    out["logs"] = [_converter().unstructure(e) for e in job.logs]
    for entry in out["logs"]:
        entry["level"] = LogLevel(entry["level"]).value
    return {**unknown, **out}


def job_from_dict(doc: Mapping[str, Any]) -> Job:
    """Read a stored job document, legacy quirks included.

    ``job_type`` empty or missing means ``session``; ``batch_id: "undefined"`` means none; an
    unknown status or a non-numeric percent raises ``ValueError`` (as the old reader does).
    """
    data: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _JOB_FIELDS:
            data[key] = value
        elif key != "_id":
            unknown[key] = value
    data["job_type"] = job_type_of(data.get("job_type"))
    data["parameters"] = JobParameters.from_dict(data.get("parameters"), job_type=data["job_type"])
    data["status"] = JobStatus(data.get("status") or "pending")
    if data.get("batch_id") in ("undefined", ""):
        # Legacy placeholder: no batch. Kept as it was so the document is written back unchanged.
        unknown["batch_id"] = data.pop("batch_id")
    for key in ("attempts", "priority", "max_attempts"):
        if data.get(key) is None:
            data.pop(key, None)
    data["cancel_requested"] = bool(data.get("cancel_requested", False))
    data["announce_pending"] = bool(data.get("announce_pending", False))
    data["archived"] = bool(data.get("archived", False))
    if not isinstance(data.get("access_control"), Mapping):
        data["access_control"] = attrs.asdict(AccessControl.for_user(data.get("user_id")))
    data["logs"] = [e for e in data.get("logs") or [] if isinstance(e, Mapping)]
    for entry in data["logs"]:
        entry.setdefault("message", "")
    if data.get("results") is not None and not isinstance(data["results"], Mapping):
        raise ValueError(f"results must be an object, got {type(data['results']).__name__}")
    job = _structure_job(data)
    job.unknown = unknown
    return job


def batch_to_dict(batch: Batch) -> dict[str, Any]:
    doc = _converter().unstructure(batch)
    unknown = doc.pop("unknown")
    if not batch.announce_pending:
        del doc["announce_pending"]
    return {**unknown, **{k: v for k, v in doc.items() if not (k in _BATCH_OPTIONAL and v is None)}}


def batch_from_dict(doc: Mapping[str, Any]) -> Batch:
    data = {k: v for k, v in doc.items() if k in _BATCH_FIELDS}
    unknown = {k: v for k, v in doc.items() if k not in _BATCH_FIELDS and k != "_id"}
    for key in ("total_jobs", "completed_jobs", "failed_jobs", "pending_jobs", "processing_jobs"):
        data[key] = int(data.get(key) or 0)
    batch = _converter().structure(data, Batch)
    batch.unknown = unknown
    return batch
