"""worker-plugin-pdf: the ``pdf`` job type (text and images from PDFs, OCR via worker-plugin-ocr).

Other plugins reuse the extraction through :mod:`worker_plugin_pdf.api`. Loading the plugin is
light: pypdf is imported by :mod:`worker_plugin_pdf.handler` when the first pdf job runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from jobworker import JobContext, JobHandler, hookimpl

from .params import VERSION, PdfParams

__all__ = ["PdfParams", "handle_pdf", "register_job_handlers"]
__version__ = VERSION


def handle_pdf(ctx: JobContext) -> dict[str, Any]:
    """The ``pdf`` handler (:func:`worker_plugin_pdf.handler.handle_pdf`), imported on the first
    call so that loading the plugin imports neither pypdf nor Pillow."""
    from .handler import handle_pdf as run

    return run(ctx)


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    """Register the ``pdf`` job type: a process pool sized to the cores."""
    register(
        JobHandler(
            "pdf",
            handle_pdf,
            params=PdfParams,
            executor="process",
            concurrency=os.cpu_count() or 1,
            timeout=1800,
            max_attempts=3,
            description="Text, metadata and images from PDFs (pypdf); OCR with [ocr]",
        )
    )
