"""Broken on purpose: a dependency it forgot to declare (and that does not exist)."""

import jobworker_no_such_dependency  # noqa: F401
from jobworker import JobHandler, hookimpl


def handle(ctx):
    return {}


@hookimpl
def register_job_handlers(register):
    register(JobHandler("broken_import", handle))
