"""worker-plugin-ocr: the ``ocr`` job type (Tesseract OCR of images and scanned PDFs).

Other plugins reuse the OCR through :mod:`worker_plugin_ocr.api` (``ocr_image``, ``ocr_file``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from jobworker import JobHandler, hookimpl

from .api import PageText, ocr_file, ocr_image
from .handler import OcrParams, handle_ocr
from .tesseract import tesseract_unavailable_reason

__all__ = ["OcrParams", "PageText", "handle_ocr", "ocr_file", "ocr_image", "register_job_handlers"]
__version__ = "0.1.0"


@hookimpl
def register_job_handlers(register: Callable[[JobHandler], None]) -> None:
    """Register the ``ocr`` job type: a process pool sized to the cores, one page per process."""
    register(
        JobHandler(
            "ocr",
            handle_ocr,
            params=OcrParams,
            executor="process",
            concurrency=os.cpu_count() or 1,
            timeout=1800,
            max_attempts=2,
            description="OCR of PNG/JPEG/TIFF images and scanned PDFs with Tesseract",
            check=tesseract_unavailable_reason,
        )
    )
