"""Broken on purpose: claims ``wordstats``, which worker-plugin-wordstats already serves."""

from jobworker import JobHandler, hookimpl


def handle(ctx):
    return {"structured_data": {"served_by": "fork"}}


@hookimpl
def register_job_handlers(register):
    register(JobHandler("wordstats", handle))
