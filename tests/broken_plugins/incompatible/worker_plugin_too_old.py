"""Broken on purpose: declares ``jobworker<0.1``; importing it would be a mistake."""

from jobworker import JobHandler, hookimpl

IMPORTED = True  # a test checks the core refused it without importing it


def handle(ctx):
    return {}


@hookimpl
def register_job_handlers(register):
    register(JobHandler("too_old", handle))
