"""The plugin contract: every hook of the core that a jobworker plugin can implement.

This module is the whole core contract; a plugin declares hooks of its own with
:func:`register_hookspecs` (worker-plugin-audio's ``register_transcribers``, for one). A plugin is
a module (or object) with functions decorated by ``jobworker.hookimpl`` whose names are hook names
below; it is found through the entry-point group ``jobworker`` of its distribution::

    # pyproject.toml of worker-plugin-hello
    [project.entry-points.jobworker]
    hello = "worker_plugin_hello"

Once every plugin is loaded, a plugin implementing a hook that nobody declared (a misspelt hook
name) is refused, naming it. Hooks named ``register_*`` receive a ``register`` callback and call
it once per thing they contribute. Lifecycle hooks (``job_*``, ``batch_*``) are notifications:
they run in the worker's (or submitting client's) process after the change they report has been
committed to the store, and an exception they raise is logged, never fatal to a job. A worker
runs them on its hook threads, never on its event loop, so a slow hook delays no job; a call
slower than a second is logged, and the worker waits for one at most ``hook_timeout`` seconds.
They receive the ``store`` too (declare only the arguments you need: pluggy passes a subset), so
an observer can record follow-up work durably; in a worker its calls run on the worker's I/O
thread.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pluggy reads only the parameters' names; hookdoc the annotations' text
    from .handler import JobHandler
    from .model import Batch, Job, JobProgress
    from .store import Store

hookspec = pluggy.HookspecMarker("jobworker")


@hookspec
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    """Hand over the job types this plugin processes.

    Call ``register`` once per :class:`~jobworker.JobHandler`. A job type registered by two
    plugins is an error naming both; the worker refuses the second and serves the rest.

    Every worker and client process imports the plugin module and calls this hook, whether or
    not a job of yours ever runs there: import heavy libraries (NumPy, PyAV, Pillow...) in the
    handler, not at load. Keep the parameters class and the ``check`` function in light
    modules, and register a small function that imports the heavy handler module on its first
    call ("Heavy libraries" in docs/writing-plugins.md).

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
def register_hookspecs(register: Callable[[ModuleType | type], None]) -> None:
    """Declare hooks of your own, for other plugins to implement: ``register(module_or_class)``.

    ``register`` is pluggy's ``add_hookspecs``: hand it the module (or class) holding your
    hookspecs, functions decorated with ``jobworker.hookspec``. jobworker calls this as soon as
    your plugin is loaded and checks hook names only once every plugin is loaded, so plugins
    implementing your hooks may load before or after yours. Call your hooks from a handler with
    ``ctx.collect("register_...")`` (or ``jobworker.active_plugins().collect(...)``), which
    returns ``[]`` when no loaded plugin implements them. worker-plugin-audio declares
    ``register_transcribers`` this way, worker-plugin-transform ``register_templates`` and
    ``register_text_transformers``; their references are below.

    Example::

        from jobworker import hookspec

        class GreeterHooks:  # or a module, e.g. worker_plugin_greeter/hookspecs.py
            @hookspec
            def register_greetings(self, register):
                ...  # document what to hand over, with an example

        @hookimpl
        def register_hookspecs(register):
            register(GreeterHooks)
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
