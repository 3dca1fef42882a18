"""The plugin contract: every hook a jobworker plugin can implement.

This module is the whole contract. A plugin is a module (or object) with functions decorated by
``jobworker.hookimpl`` whose names are hook names below; it is found through the entry-point group
``jobworker`` of its distribution::

    # pyproject.toml of worker-plugin-hello
    [project.entry-points.jobworker]
    hello = "worker_plugin_hello"

The worker calls ``pm.check_pending()`` after loading, so a misspelt hook name is reported,
naming the plugin. Hooks named ``register_*`` receive a ``register`` callback and call it once per
thing they contribute. Lifecycle hooks (``job_*``, ``batch_*``) are notifications: they run in the
worker's (or submitting client's) process after the change they report has been committed to the
store, must return quickly, and an exception they raise is logged, never fatal to a job. They
receive the ``store`` too (declare only the arguments you need: pluggy passes a subset), so an
observer can record follow-up work durably, e.g. a webhook delivery job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from .handler import JobHandler
from .model import Batch, Job, JobProgress
from .store import Store

hookspec = pluggy.HookspecMarker("jobworker")


@hookspec
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    """Hand over the job types this plugin processes.

    Call ``register`` once per :class:`~jobworker.JobHandler`. A job type registered by two
    plugins is an error naming both; the worker refuses the second and serves the rest.

    Example::

        import attrs
        from jobworker import JobHandler, hookimpl

        @attrs.define
        class HelloParams:
            name: str = "world"

        def hello(ctx):
            ctx.progress(50, "greeting")
            return {"markdown_content": f"Hello, {ctx.params.name}!"}

        @hookimpl
        def register_job_handlers(register):
            register(JobHandler("hello", hello, params=HelloParams, timeout=10))
    """


@hookspec
def register_transcribers(register: Callable[[str, Any], None]) -> None:
    """Hand over speech-to-text engines for ``worker-plugin-audio``.

    ``register(name, factory)``; ``factory(settings: dict)`` returns an object with
    ``transcribe(path, language=None) -> dict`` giving ``{"text", "language", "segments":
    [{"start", "end", "text"}]}``. The audio plugin picks an engine by its ``engine`` parameter.

    Example::

        @hookimpl
        def register_transcribers(register):
            register("echo", lambda settings: EchoTranscriber())
    """


@hookspec
def register_templates(register: Callable[[str, str], None]) -> None:
    """Hand over Jinja2 templates for ``worker-plugin-transform``: ``register(name, source)``.

    Templates render in a sandbox. Names are case-sensitive; a later registration of a name
    wins over the plugin's built-in template of that name.

    Example::

        @hookimpl
        def register_templates(register):
            register("Greeting", "# Hello {{ name }}\\n")
    """


@hookspec
def register_text_transformers(register: Callable[[str, Callable[..., str]], None]) -> None:
    """Hand over text-model providers for ``worker-plugin-transform``: ``register(name, fn)``.

    ``fn(text: str, *, instruction: str, context: dict) -> str``. A job chooses one with its
    ``transformer`` parameter; none ships with jobworker and none needs the network.

    Example::

        @hookimpl
        def register_text_transformers(register):
            register("upper", lambda text, instruction, context: text.upper())
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``jobworker`` CLI (a :class:`click.Group`).

    Example::

        import click

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello")
    """


@hookspec
def job_submitted(job: Job, store: Store) -> None:
    """A job was stored as ``pending`` (called in the submitting process).

    Example::

        @hookimpl
        def job_submitted(job):
            metrics.increment("submitted", tags={"type": job.job_type})
    """


@hookspec
def job_started(job: Job, store: Store) -> None:
    """A worker claimed the job and its attempt ``job.attempts`` starts.

    Example::

        @hookimpl
        def job_started(job):
            print("started", job.job_id, "attempt", job.attempts)
    """


@hookspec
def job_progress(job: Job, progress: JobProgress, store: Store) -> None:
    """The job's progress was written to the store (coalesced: not every ``ctx.progress``).

    Example::

        @hookimpl
        def job_progress(job, progress):
            print(job.job_id, progress.percent, progress.step)
    """


@hookspec
def job_finished(job: Job, store: Store) -> None:
    """The job reached ``completed`` or ``failed`` (cancelled jobs fail with ``CANCELLED``).

    Called once per terminal transition, after it is committed; a job failed and then retried
    by hand finishes again later. Not called when an attempt fails and a retry is scheduled.

    Example::

        @hookimpl
        def job_finished(job):
            if job.status == "failed":
                alert(f"{job.job_id}: {job.error.code} {job.error.message}")
    """


@hookspec
def batch_finished(batch: Batch, store: Store) -> None:
    """Every job of the batch is completed or failed (``batch.completed_jobs``/``failed_jobs``).

    Example::

        @hookimpl
        def batch_finished(batch):
            print(batch.batch_id, batch.completed_jobs, "ok", batch.failed_jobs, "failed")
    """
