"""worker-plugin-transform: the ``transform`` job type (legacy ``transformer_template``).

Sandboxed Jinja2 templates with resource limits, and offline text tools (language detection,
extractive summary, Markdown front matter). The reusable functions live in
:mod:`worker_plugin_transform.api`; this module only holds the hook implementations, found
through the ``jobworker`` entry point. It loads light: Jinja2, lxml and PyYAML are imported by
:mod:`worker_plugin_transform.handler` when the first transform job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from jobworker import JobContext, JobHandler, hookimpl

from . import hookspecs
from .params import TransformParams

__all__ = ["TransformParams", "handle_transform", "register_hookspecs", "register_job_handlers"]


@hookimpl
def register_hookspecs(register: Callable[[ModuleType], None]) -> None:
    """Declare ``register_templates`` and ``register_text_transformers``
    (:mod:`worker_plugin_transform.hookspecs`)."""
    register(hookspecs)


def handle_transform(ctx: JobContext) -> dict[str, Any]:
    """The ``transform`` handler (:func:`worker_plugin_transform.handler.handle_transform`),
    imported on the first call so that loading the plugin imports neither Jinja2, lxml nor
    PyYAML."""
    from .handler import handle_transform as run

    return run(ctx)


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    register(
        JobHandler(
            "transform",
            handle_transform,
            params=TransformParams,
            executor="process",
            concurrency=2,
            timeout=120,
            max_attempts=2,
            aliases=("transformer_template",),
            description="sandboxed Jinja2 templates, language detection, summaries, front matter",
        )
    )
