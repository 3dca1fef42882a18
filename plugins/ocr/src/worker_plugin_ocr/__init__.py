"""worker-plugin-ocr: the ``ocr`` job type (Tesseract OCR of images and scanned PDFs).

Other plugins reuse the OCR through :mod:`worker_plugin_ocr.api` (``ocr_image``, ``ocr_file``).
Loading the plugin is light: pytesseract, Pillow and pypdfium2 are imported by
:mod:`worker_plugin_ocr.handler` when the first ocr job runs (and by ``api`` when it is imported;
this module's ``PageText``, ``ocr_file`` and ``ocr_image`` import it on first access).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobworker import JobContext, JobHandler, hookimpl

from .params import OcrParams
from .tesseract import tesseract_unavailable_reason

if TYPE_CHECKING:
    from .api import PageText, ocr_file, ocr_image

__all__ = ["OcrParams", "PageText", "handle_ocr", "ocr_file", "ocr_image", "register_job_handlers"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``PageText``, ``ocr_file`` and ``ocr_image`` from :mod:`worker_plugin_ocr.api`, imported on
    first access."""
    if name in ("PageText", "ocr_file", "ocr_image"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def handle_ocr(ctx: JobContext) -> dict[str, Any]:
    """The ``ocr`` handler (:func:`worker_plugin_ocr.handler.handle_ocr`), imported on the first
    call so that loading the plugin imports neither pytesseract, Pillow nor pypdfium2."""
    from .handler import handle_ocr as run

    return run(ctx)


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
