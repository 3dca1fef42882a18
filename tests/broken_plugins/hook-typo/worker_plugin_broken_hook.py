"""Broken on purpose: the hook is ``register_job_handlers``, with an s."""

from jobworker import JobHandler, hookimpl


def handle(ctx):
    return {}


@hookimpl
def register_job_handler(register):
    register(JobHandler("broken_hook", handle))
