"""What a plugin hands over (:class:`JobHandler`) and what a handler receives (:class:`JobContext`).

A handler is a plain function, sync or ``async``, taking one :class:`JobContext` and returning its
results as a mapping (legacy ``JobResults`` keys such as ``markdown_content``, ``page_texts``,
``structured_data``, plus any keys of its own). It reports progress and logs through the context
and raises :class:`jobworker.errors.JobFailure` for expected failures. It never writes a status:
the worker does that.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs

from .errors import (
    INVALID_DOCUMENT,
    Cancelled,
    InputForbidden,
    InputNotAFile,
    InputNotFound,
    InputTooLarge,
    InvalidParameters,
    JobFailure,
)
from .model import Job, folder_name_problem

__all__ = ["Executor", "JobContext", "JobHandler", "Reporter"]

Executor = Literal["async", "thread", "process"]


def _default_executor(handler: JobHandler) -> Executor:
    return "async" if inspect.iscoroutinefunction(handler.func) else "thread"


@attrs.define(frozen=True)
class JobHandler:
    """One job type, as registered through ``register_job_handlers``.

    :param job_type: the ``job_type`` this handler serves, e.g. ``"pdf"``.
    :param func: ``func(ctx) -> Mapping | None``, sync or ``async``. For the process executor it
        must be importable by its qualified name (a module-level function).
    :param params: an attrs class describing the parameters. Parameters are validated against it
        when a job is submitted; the handler gets an instance as ``ctx.params``.
    :param executor: ``"async"`` runs in the worker's event loop, ``"thread"`` in a thread pool,
        ``"process"`` in a child process that the worker kills on timeout or cancellation.
        Default: ``async`` for coroutine functions, else ``thread``.
    :param concurrency: at most this many jobs of the type at once in one worker process.
    :param timeout: seconds per attempt; ``None`` for no limit.
    :param max_attempts: attempts before a retried error becomes final.
    :param backoff: base delay in seconds for retries: ``backoff * 2**(attempt-1)`` plus jitter.
    :param aliases: other ``job_type`` names served by this handler (legacy names).
    :param check: returns ``None`` if the handler can run here, else the reason it cannot
        (e.g. a missing binary); shown by ``jobworker plugins``.
    """

    job_type: str
    func: Callable[[JobContext], Any]
    params: type | None = None
    executor: Executor = attrs.field(default=attrs.Factory(_default_executor, takes_self=True))
    concurrency: int | None = None
    timeout: float | None = None
    max_attempts: int = 3
    backoff: float = 2.0
    aliases: tuple[str, ...] = ()
    description: str = ""
    check: Callable[[], str | None] | None = None

    @executor.validator
    def _check_executor(self, _attr: Any, value: str) -> None:
        if value not in ("async", "thread", "process"):
            raise ValueError(f"executor must be async, thread or process, not {value!r}")
        if value == "async" and not inspect.iscoroutinefunction(self.func):
            raise ValueError(f"{self.job_type}: the async executor needs an async def handler")

    def unavailable_reason(self) -> str | None:
        if self.check is None:
            return None
        try:
            return self.check()
        except Exception as exc:  # a failing check is itself a reason
            return f"availability check failed: {exc!r}"


class Reporter(Protocol):
    """Where a context sends what the handler reports (the worker supplies one)."""

    def progress(self, percent: int, step: str | None, message: str | None) -> None: ...
    def log(self, level: str, message: str) -> None: ...
    def is_cancelled(self) -> bool: ...


@attrs.define
class JobContext:
    """Everything a handler needs, and the only way it talks back to the worker.

    Progress is clamped to 0..100 and never goes backwards within an attempt; progress and log
    writes are coalesced by the worker, so calling them often is cheap.
    """

    job: Job
    params: Any
    reporter: Reporter
    scratch_root: Path
    input_roots: tuple[Path, ...]
    output_root: Path
    settings: Mapping[str, Any] = attrs.Factory(dict)
    max_input_bytes: int | None = None
    plugin_modules: tuple[str, ...] = ()
    _percent: int = 0

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def attempt(self) -> int:
        return self.job.attempts

    @property
    def scratch_dir(self) -> Path:
        """A private temporary directory for this attempt, created on first use and removed
        (with everything in it) when the attempt ends."""
        path = self.scratch_root / f"{job_folder_name(self.job.job_id)}-{self.job.attempts}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def output_dir(self) -> Path:
        """``<output root>/<job_id>``, created on first use."""
        path = self.output_root / job_folder_name(self.job.job_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def progress(self, percent: int, step: str | None = None, message: str | None = None) -> None:
        """Report progress; a ``percent`` below an earlier one of this attempt is raised to it."""
        self._percent = max(self._percent, max(0, min(100, int(percent))))
        self.reporter.progress(self._percent, step, message)

    def log(self, level: str, message: str) -> None:
        """Append to the job's logs (``debug``, ``info``, ``warning``, ``error``, ``critical``)."""
        self.reporter.log(level, message)

    def info(self, message: str) -> None:
        self.log("info", message)

    def warning(self, message: str) -> None:
        self.log("warning", message)

    def is_cancelled(self) -> bool:
        """True once the job was cancelled or its attempt timed out; stop soon when it is."""
        return self.reporter.is_cancelled()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~jobworker.errors.Cancelled` if :meth:`is_cancelled`; call it in loops."""
        if self.is_cancelled():
            raise Cancelled("cancelled")

    def collect(self, hook_name: str) -> list[tuple[Any, ...]]:
        """Call a ``register_*`` hook of the worker's plugins and return what was registered,
        e.g. ``ctx.collect("register_transcribers")`` -> ``[(name, factory), ...]``.

        In the process executor the child loads the same plugins (installed ones and the
        modules given with ``--plugin``/config) once per process.
        """
        from .plugins import active

        return active(self.plugin_modules).collect(hook_name)

    def resolve_input(self, path: str | os.PathLike[str], *, must_exist: bool = True) -> Path:
        """Resolve a user-given path under the input roots, refusing anything outside them.

        Relative paths are taken from the first input root. Symlinks are resolved before the
        check, so a link pointing out of the roots is refused too.

        :raises InputForbidden: the path lies outside every input root.
        :raises InputNotFound: ``must_exist`` and no such file.
        :raises InputNotAFile: ``must_exist`` and the path is a directory (or another non-file).
        :raises InputTooLarge: the file is larger than the configured ``max_input_bytes``.
        :raises InvalidParameters: a path the system cannot take (NUL byte, too long).
        """
        return resolve_under(
            path, self.input_roots, must_exist=must_exist, max_bytes=self.max_input_bytes
        )


def job_folder_name(job_id: str) -> str:
    """``job_id`` as the name of the job's own folders; a job whose id cannot name one (a
    document written by someone else, see :func:`~jobworker.model.folder_name_problem`) fails
    with ``INVALID_DOCUMENT`` instead of writing outside its root."""
    problem = folder_name_problem(job_id)
    if problem is not None:
        raise JobFailure(f"{problem}, so the job has no folder of its own", code=INVALID_DOCUMENT)
    return job_id


def resolve_under(
    path: str | os.PathLike[str],
    roots: Sequence[Path],
    *,
    must_exist: bool = True,
    max_bytes: int | None = None,
) -> Path:
    """The checked, resolved path (see :meth:`JobContext.resolve_input`).

    A path the operating system cannot take (a NUL byte, a name or path over the system's
    length limits) is refused with :class:`InvalidParameters`.
    """
    if not roots:
        raise InputForbidden("no input roots are configured, so no file may be read")
    shown = _shown(path)
    try:
        raw = Path(os.fspath(path)).expanduser()
        candidate = (raw if raw.is_absolute() else roots[0] / raw).resolve()
        inside = any(candidate.is_relative_to(root.resolve()) for root in roots)
        is_file = inside and candidate.is_file()
        is_other = inside and not is_file and candidate.exists()
        size = candidate.stat().st_size if is_file else 0
    except (ValueError, OSError) as exc:
        reason = "a NUL byte" if "\0" in os.fspath(path) else getattr(exc, "strerror", None)
        raise InvalidParameters(
            f"{shown!r} is not a usable file path ({reason or exc})",
            details={"path": shown, "reason": str(reason or exc)},
        ) from None
    if not inside:
        raise InputForbidden(
            f"{shown!r} is outside the allowed input roots ({', '.join(str(r) for r in roots)})",
            details={"path": shown},
        )
    if must_exist and is_other:
        kind = "a directory" if candidate.is_dir() else "not a regular file"
        raise InputNotAFile(
            f"{shown} is {kind}, expected a file", details={"path": shown, "kind": kind}
        )
    if must_exist and not is_file:
        raise InputNotFound(f"input file not found: {shown}", details={"path": shown})
    if max_bytes is not None and is_file and size > max_bytes:
        raise InputTooLarge(
            f"{shown} is {size} bytes, over the limit of {max_bytes}",
            details={"path": shown, "limit": max_bytes},
        )
    return candidate


def _shown(path: str | os.PathLike[str], limit: int = 200) -> str:
    """The path as given, cut to ``limit`` characters for messages."""
    text = os.fspath(path)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
