"""worker-plugin-pdf: the ``pdf`` job type (text and images from PDFs, OCR via worker-plugin-ocr).

Other plugins reuse the extraction through :mod:`worker_plugin_pdf.api`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from jobworker import JobHandler, hookimpl

from .handler import VERSION, PdfParams, handle_pdf

__all__ = ["PdfParams", "handle_pdf", "register_job_handlers"]
__version__ = VERSION


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
