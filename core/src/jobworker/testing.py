"""Helpers for testing handlers and plugins in a few lines, against real components.

Run one handler on parameters, with the real validation, context and executor::

    from jobworker.testing import run_handler
    import worker_plugin_hello

    def test_hello(tmp_path):
        run = run_handler("hello", {"name": "Ada"}, plugins=[worker_plugin_hello],
                          tmp_path=tmp_path)
        assert run.error is None
        assert run.results["markdown_content"] == "Hello, Ada!"

Or a whole worker on a temporary SQLite store::

    from jobworker.testing import WorkerHarness

    def test_through_worker(tmp_path):
        with WorkerHarness(tmp_path, plugins=[worker_plugin_hello]) as h:
            job = h.client.submit("hello", {"name": "Ada"})
            h.run_burst()
            assert h.client.get(job.job_id).status.value == "completed"
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .client import Client
from .config import Settings
from .model import JobError, JobProgress, JobStatus
from .plugins import Plugins
from .store import open_store
from .worker import Worker

__all__ = ["HandlerRun", "WorkerHarness", "make_plugins", "run_handler"]


def make_plugins(plugins: Iterable[object] = (), *, installed: bool = False) -> Plugins:
    """A plugin manager with the built-ins and ``plugins`` (modules or objects); installed
    (entry-point) plugins only if ``installed``."""
    manager = Plugins()
    manager.load_builtins()
    if installed:
        manager.load_entry_points()
    for plugin in plugins:
        manager.register(plugin)
    manager.collect_handlers()
    return manager


@attrs.define
class HandlerRun:
    """What one job did: its results or error, and what it reported on the way."""

    results: dict[str, Any] | None
    error: JobError | None
    progress: list[JobProgress]
    logs: list[tuple[str, str]]
    status: JobStatus


class WorkerHarness:
    """A temporary SQLite store, a client and an in-process worker (real executors).

    :param settings: per job type settings, ``{"pdf": {"max_pages": 10}}`` (``ctx.settings``).
    :param options: other :class:`~jobworker.config.Settings` fields, e.g. ``concurrency=2``.
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        plugins: Iterable[object] = (),
        input_roots: Iterable[Path] | None = None,
        output_root: Path | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        tmp_path = Path(tmp_path)
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(
            store=f"sqlite:///{tmp_path / 'jobworker-test.db'}",
            input_roots=[Path(p) for p in (input_roots or [tmp_path])],
            output_root=output_root or tmp_path / "output",
            plugin_settings={k: dict(v) for k, v in (settings or {}).items()},
            lease_seconds=options.pop("lease_seconds", 10.0),
            retry_backoff=options.pop("retry_backoff", 0.0),
            **options,
        )
        self.plugins = make_plugins(plugins)
        self.store = open_store(self.settings.store)
        self.client = Client(self.store, self.plugins, self.settings)

    def worker(self, **kwargs: Any) -> Worker:
        return Worker(self.store, self.plugins, self.settings, **kwargs)

    def run_burst(self, **kwargs: Any) -> Worker:
        """Run a worker until nothing is claimable and nothing runs; return it."""
        worker = self.worker(burst=True, **kwargs)
        asyncio.run(worker.run())
        return worker

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> WorkerHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_handler(
    job_type: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    plugins: Iterable[object] = (),
    tmp_path: Path,
    input_roots: Iterable[Path] | None = None,
    output_root: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    **options: Any,
) -> HandlerRun:
    """Submit one job and run it through a real worker; return what happened.

    Submit-time refusals (unknown type, invalid parameters) are returned as ``error`` too, with
    status ``failed``, so every outcome is checked the same way. ``max_attempts`` defaults to 1.
    """
    from .errors import JobFailure

    with WorkerHarness(
        tmp_path,
        plugins=plugins,
        input_roots=input_roots,
        output_root=output_root,
        settings={job_type: dict(settings or {})},
    ) as harness:
        try:
            job = harness.client.submit(
                job_type, parameters, max_attempts=options.pop("max_attempts", 1), **options
            )
        except JobFailure as exc:
            return HandlerRun(
                None, JobError(exc.code, exc.message, exc.details), [], [], JobStatus.FAILED
            )
        progress: list[JobProgress] = []
        worker = harness.worker(burst=True)
        worker.on_progress = lambda _job_id, p: progress.append(p)
        asyncio.run(worker.run())
        done = harness.client.get(job.job_id)
        assert done is not None
        return HandlerRun(
            done.results,
            done.error,
            progress,
            [(e.level.value, e.message) for e in done.logs],
            done.status,
        )
