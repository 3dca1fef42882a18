"""The Python client API: how an application submits jobs and follows them.

::

    import jobworker

    client = jobworker.connect("sqlite:///jobworker.db")
    job = client.submit("hello", {"name": "Ada"})
    done = client.wait(job.job_id, timeout=30)
    print(done.status, done.results["markdown_content"])

Parameters are validated against the job type's schema at submit time when the type's plugin is
installed in the submitting process; unknown types are refused unless ``allow_unknown_type=True``
(the workers live elsewhere with plugins this process does not have).
"""

from __future__ import annotations

import builtins
import glob
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings
from .errors import InvalidParameters, UnknownJobType
from .model import (
    AccessControl,
    Batch,
    Job,
    JobParameters,
    JobStatus,
    LogEntry,
    folder_name_problem,
    job_type_of,
    utcnow,
)
from .newjobs import NewJob
from .plugins import Plugins
from .quick_entries import QuickEntries
from .store import Purged, Store, open_store
from .validation import check_json_parameters, check_submitted_keys, params_for

if TYPE_CHECKING:
    from .fleet import WorkerRecord
    from .store.apikeys import KeyStore
    from .webhooks.signing import verify_webhook

__all__ = ["Client", "connect", "verify_webhook"]

#: Options of :meth:`Client.submit` that :class:`~jobworker.quick_entries.QuickEntries` takes.
_QUICK_OPTIONS = frozenset({"priority", "job_name"})


def __getattr__(name: str) -> Any:
    """``verify_webhook`` (:mod:`.webhooks.signing`), imported on first use."""
    if name == "verify_webhook":
        from .webhooks.signing import verify_webhook

        return verify_webhook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def connect(
    url: str | None = None,
    *,
    plugins: Plugins | None = None,
    settings: Settings | None = None,
    **store_options: Any,
) -> Client:
    """Open the store at ``url`` (default: the configured store) and return a :class:`Client`."""
    settings = settings or load_settings(store=url)
    store = open_store(url or settings.store, **{**settings.store_options, **store_options})
    return Client(
        store, plugins if plugins is not None else Plugins.load(settings.plugins), settings
    )


class Client:
    """Submit, follow and change jobs in ``store``. ``settings`` (default: the built-in
    defaults) tells :meth:`purge` where the jobs' output folders are."""

    def __init__(
        self, store: Store, plugins: Plugins | None = None, settings: Settings | None = None
    ) -> None:
        self.store = store
        self.plugins = plugins if plugins is not None else Plugins.load()
        self.settings = settings if settings is not None else Settings()
        self._quick: QuickEntries | None = None  # for submit(), kept across calls

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting ------------------------------------------------------------------------

    def build_job(
        self,
        job_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
        delay: float | timedelta | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        job_name: str | None = None,
        user_id: str | None = None,
        allow_unknown_type: bool = False,
        webhook: Mapping[str, Any] | str | None = None,
        owner: str | None = None,
    ) -> Job:
        """A validated, not yet stored job (see :meth:`submit` for the arguments)."""
        parameters = dict(parameters or {})
        check_json_parameters(parameters)
        if webhook is not None:
            from .webhooks.config import check_webhook

            parameters["webhook"] = check_webhook(webhook)
        elif parameters.get("webhook"):
            from .webhooks.config import parse_webhook

            parse_webhook(parameters["webhook"])  # raises InvalidParameters
        handler = self.plugins.handler_for(job_type)
        if handler is None and not allow_unknown_type:
            raise UnknownJobType(
                f"unknown job type {job_type!r}; installed: {self.plugins.types_text()} "
                f"(pass allow_unknown_type / --allow-unknown-type if the workers have plugins "
                f"this process lacks)"
            )
        if handler is not None:
            job_type = handler.job_type  # an alias submits as the primary type
        # session jobs in the legacy shape; any other type's parameters as they were given
        stored = JobParameters.from_dict(parameters, job_type=job_type)
        if handler is not None:
            check_submitted_keys(handler, parameters)
            params_for(handler, stored)  # raises InvalidParameters
        if max_attempts is not None and max_attempts < 1:
            raise InvalidParameters("max_attempts must be at least 1")
        now = utcnow()
        if isinstance(delay, (int, float)):
            delay = timedelta(seconds=delay)
        job = Job(
            job_type,
            stored,
            job_name=job_name,
            user_id=user_id,
            access_control=AccessControl.for_user(user_id),
            created_at=now,
            updated_at=now,
            priority=priority,
            available_at=now + delay if delay else None,
            max_attempts=max_attempts or (handler.max_attempts if handler else 3),
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        if owner is not None:
            job.unknown["owner_key"] = owner
        return job

    def submit(
        self,
        job_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        batch_id: str | None = None,
        **options: Any,
    ) -> Job:
        """Store one job as pending and return it.

        :param priority: higher runs first; equal priorities run oldest first.
        :param delay: seconds (or a timedelta) before the job may start.
        :param max_attempts: attempts for retried errors (default: the handler's).
        :param timeout: seconds per attempt (default: the handler's).
        :param idempotency_key: submitting the same key again returns the first job.
        :param batch_id: add the job to this batch (created if it does not exist).
        :param webhook: ``{"url", "secret"?, "events"?, "token"?, "jobId"?}``, stored as
            ``parameters.webhook`` (see docs/webhooks.md).
        :param owner: who submitted it (the HTTP server's API key id), stored in the extra
            field ``owner_key`` and usable as a :meth:`list` filter.
        :raises UnknownJobType, InvalidParameters: refused at the door, nothing stored.
        """
        if _QUICK_OPTIONS.issuperset(options):  # the common submit: no Job built to store it
            quick = self._quick
            if quick is None or quick.plugins is not self.plugins:
                quick = self._quick = QuickEntries(self.plugins, None, False, None, recheck=True)
            spec = {"job_type": job_type, "parameters": {} if parameters is None else parameters}
            if options:
                spec.update(options)
            new = quick.take(spec)
            if new is not None:
                self.store.enqueue_entries([new], Batch(batch_id=batch_id) if batch_id else None)
                job = new.to_job(batch_id or None)
                self.plugins.notify("job_submitted", job=job, store=self.store)
                return job
        return self.submit_built(self.build_job(job_type, parameters, **options), batch_id)

    def submit_built(self, job: Job, batch_id: str | None = None) -> Job:
        """Store a job made by :meth:`build_job` (e.g. after placing its input file in a
        folder named by its id, as the HTTP server does with uploads)."""
        batch = Batch(batch_id=batch_id) if batch_id else None
        [stored] = self.store.enqueue([job], batch)
        if stored.job_id == job.job_id:
            self.plugins.notify("job_submitted", job=stored, store=self.store)
        return stored

    def submit_batch(
        self,
        jobs: Iterable[Mapping[str, Any]],
        *,
        batch_name: str | None = None,
        batch_id: str | None = None,
        user_id: str | None = None,
        allow_unknown_type: bool = False,
        webhook: Mapping[str, Any] | str | None = None,
        owner: str | None = None,
    ) -> Batch:
        """The batch of :meth:`submit_batch_jobs` (same arguments)."""
        return self._submit_batch(
            jobs, batch_name, batch_id, user_id, allow_unknown_type, webhook, owner, jobs=False
        )[0]

    def submit_batch_jobs(
        self,
        jobs: Iterable[Mapping[str, Any]],
        *,
        batch_name: str | None = None,
        batch_id: str | None = None,
        user_id: str | None = None,
        allow_unknown_type: bool = False,
        webhook: Mapping[str, Any] | str | None = None,
        owner: str | None = None,
    ) -> tuple[Batch, builtins.list[Job]]:
        """Submit many jobs (mixed types allowed) as one batch; all or nothing.

        Each entry: ``{"job_type": ..., "parameters": {...}}`` plus any :meth:`submit` option
        (``priority``, ``job_name``, ``idempotency_key`` ...). Every entry is validated before
        anything is stored; the first invalid one raises, naming its index. ``webhook``:
        ``{"url", "secret"?, "events"?: ["batch.finished", "completed", "failed"]}`` for the batch.
        """
        return self._submit_batch(
            jobs, batch_name, batch_id, user_id, allow_unknown_type, webhook, owner, jobs=True
        )

    def _submit_batch(
        self,
        specs: Iterable[Mapping[str, Any]],
        batch_name: str | None,
        batch_id: str | None,
        user_id: str | None,
        allow_unknown_type: bool,
        webhook: Mapping[str, Any] | str | None,
        owner: str | None,
        *,
        jobs: bool,
    ) -> tuple[Batch, builtins.list[Job]]:
        """:meth:`submit_batch_jobs`; the stored jobs are made only if ``jobs`` is true or a
        plugin observes ``job_submitted`` (else the list is empty). Common entries are taken by
        :class:`~jobworker.quick_entries.QuickEntries`, the others built by :meth:`build_job`."""
        from .webhooks.config import check_webhook

        batch_hook = None if webhook is None else check_webhook(webhook, batch=True)
        quick = QuickEntries(self.plugins, user_id, allow_unknown_type, owner)
        built: builtins.list[Job | NewJob] = []
        for index, spec in enumerate(specs):
            entry = quick.take(spec)
            if entry is not None:
                built.append(entry)
                continue
            spec = dict(spec)
            job_type = job_type_of(spec.pop("job_type", None))
            parameters = spec.pop("parameters", {})
            spec.setdefault("user_id", user_id)
            spec.setdefault("allow_unknown_type", allow_unknown_type)
            spec["owner"] = owner
            try:
                built.append(self.build_job(job_type, parameters, **spec))
            except (InvalidParameters, UnknownJobType) as exc:
                raise type(exc)(f"job #{index}: {exc.message}", details=exc.details) from None
        if not built:
            raise InvalidParameters("a batch needs at least one job")
        batch = Batch(
            batch_name=batch_name,
            user_id=user_id,
            access_control=AccessControl.for_user(user_id),
        )
        if batch_id:
            batch.batch_id = batch_id
        if batch_hook is not None:
            batch.unknown["webhook"] = batch_hook
        if owner is not None:
            batch.unknown["owner_key"] = owner
        entries = self.store.enqueue_entries(built, batch)
        stored: builtins.list[Job] = []
        if jobs or self.plugins.observes("job_submitted"):
            stored = [e if isinstance(e, Job) else e.to_job(batch.batch_id) for e in entries]
            for job in stored:
                self.plugins.notify("job_submitted", job=job, store=self.store)
        return self.store.get_batch(batch.batch_id) or batch, stored

    # -- reading ---------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        return self.store.get_job(job_id)

    def list(
        self,
        *,
        status: JobStatus | str | None = None,
        job_type: str | None = None,
        batch_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
        owner: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[Job]:
        """Jobs newest first, without logs. ``after`` is the ``(created_at, job_id)`` of the
        last job of the previous page (keyset pagination: stable while jobs are added)."""
        return self.store.list_jobs(
            status=JobStatus(status) if status else None,
            job_type=job_type,
            batch_id=batch_id,
            limit=limit,
            offset=offset,
            owner=owner,
            created_from=created_from,
            created_to=created_to,
            after=after,
        )

    def batch(self, batch_id: str) -> Batch | None:
        return self.store.get_batch(batch_id)

    def batches(
        self,
        *,
        status: str | None = None,
        owner: str | None = None,
        limit: int = 100,
        after: tuple[datetime, str] | None = None,
    ) -> builtins.list[Batch]:
        """Batches newest first; ``after`` as in :meth:`list`, with the batch id."""
        return self.store.list_batches(limit=limit, status=status, owner=owner, after=after)

    def counts(self, *, batch_id: str | None = None, job_type: str | None = None) -> dict[str, int]:
        """``{status: number of jobs}`` over the store (or one batch, or one job type)."""
        return self.store.count_by_status(batch_id=batch_id, job_type=job_type)

    def logs(self, job_id: str) -> builtins.list[LogEntry] | None:
        """A job's log entries, oldest first (the newest ``log_cap`` kept); ``None`` if there
        is no such job."""
        job = self.store.get_job(job_id)
        return None if job is None else job.logs

    def watcher(self) -> Any | None:
        """An object with ``fileno()``/``drain()`` readable after any change of the jobs, for
        live views; ``None`` if the store cannot tell (see :meth:`Store.watcher`)."""
        return self.store.watcher()

    def api_keys(self) -> KeyStore:
        """The HTTP server's API keys, kept in this store."""
        keys: KeyStore = self.store.api_keys()
        return keys

    # -- the fleet ---------------------------------------------------------------------------

    def workers(self, *, include_gone: bool = False) -> builtins.list[WorkerRecord]:
        """The workers on this store, from its registry: the live ones (with
        ``include_gone``, also those stopped or dead but still remembered), oldest first.

        Each :class:`~jobworker.fleet.WorkerRecord` says what the worker serves
        (``types``), runs (``running``), its counts, versions and plugins;
        ``record.state(now)`` and ``record.heartbeat_age(now)`` give its liveness.
        """
        now = utcnow()
        return [r for r in self.store.workers() if include_gone or r.alive(now)]

    def unserved(self, job_type: str) -> str | None:
        """Why jobs of ``job_type`` are not being claimed (no live worker serves the type), or
        ``None`` if a live worker serves it."""
        from .fleet import unserved_reason

        return unserved_reason(job_type, self.store.workers(), utcnow())

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.05) -> Job:
        """Block until the job is completed or failed; raise ``TimeoutError`` after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.store.get_job(job_id, with_logs=False)
            if job is None:
                raise KeyError(job_id)
            if job.status.terminal:
                return self.store.get_job(job_id) or job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{job_id} is still {job.status.value} after {timeout} s")
            time.sleep(poll)

    def wait_batch(self, batch_id: str, timeout: float | None = None, poll: float = 0.1) -> Batch:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.store.get_batch(batch_id)
            if batch is None:
                raise KeyError(batch_id)
            if batch.finished:
                return batch
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{batch_id} is not finished after {timeout} s")
            time.sleep(poll)

    # -- changing --------------------------------------------------------------------------

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a pending job at once, or ask a running job's worker to stop it.
        ``None`` if there is no such job or it already finished."""
        t = self.store.cancel(job_id, utcnow())
        if t is None:
            return None
        from .announce import announce  # webhooks (httpx): only when something is announced

        jobs, batches = announce(self.plugins, self.store, [t])
        if jobs or batches:
            self.store.mark_announced(jobs, batches)
        return t.job

    def retry(self, job_id: str, *, attempts: int | None = None) -> Job | None:
        """Put a failed job back to pending with ``attempts`` more attempts (default: its
        type's ``max_attempts``, 3 if no local plugin knows the type). Attempts keep counting:
        the job's next attempt is numbered ``attempts + 1``. ``None`` if it is not failed."""
        if attempts is None:
            job = self.store.get_job(job_id, with_logs=False)
            handler = self.plugins.handler_for(job.job_type) if job is not None else None
            attempts = handler.max_attempts if handler is not None else 3
        if attempts < 1:
            raise InvalidParameters("a retry needs at least one attempt")
        return self.store.retry(job_id, utcnow(), attempts)

    def purge(
        self,
        older_than: timedelta,
        statuses: Iterable[JobStatus | str] = (JobStatus.COMPLETED, JobStatus.FAILED),
        *,
        dry_run: bool = False,
    ) -> Purged:
        """Delete finished jobs last updated more than ``older_than`` ago: their documents,
        logs, output folders (``<output_root>/<job_id>``) and any scratch folders a killed
        worker left (``$TMPDIR/jobworker-*/<job_id>-*``), and the batches no job is left in.
        ``dry_run`` deletes nothing and returns what would go."""
        before: datetime = utcnow() - older_than
        purged = self.store.purge(
            before=before, statuses=[JobStatus(s) for s in statuses], dry_run=dry_run
        )
        if not dry_run:
            for job_id in purged.job_ids:
                for folder in self.job_folders(job_id):
                    shutil.rmtree(folder, ignore_errors=True)
        return purged

    def job_folders(self, job_id: str) -> builtins.list[str]:
        """The folders on this machine that belong to a job: its output folder and scratch
        folders left by killed workers (those that exist)."""
        if folder_name_problem(job_id) is not None:
            return []  # no folder can be its own (see jobworker.model.folder_name_problem)
        output = self.settings.output_root / job_id
        scratch = glob.glob(
            glob.escape(tempfile.gettempdir()) + f"/jobworker-*/{glob.escape(job_id)}-*"
        )
        return ([str(output)] if output.is_dir() else []) + sorted(scratch)
