"""OCR of PDF pages through worker-plugin-ocr's public API (the optional ``[ocr]`` extra).

Pages are rendered with pypdfium2 (no poppler) by ``worker_plugin_ocr.api.render_pdf_pages`` and
recognised by ``worker_plugin_ocr.api.ocr_image``. Without worker-plugin-ocr installed, asking for
OCR fails with ``DEPENDENCY_MISSING`` naming the extra to install.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
from jobworker import DependencyMissing

__all__ = ["OCR_EXTRA", "OcrOptions", "load_ocr_api", "ocr_available", "ocr_page"]

OCR_EXTRA = "worker-plugin-pdf[ocr]"


@attrs.define
class OcrOptions:
    """How pages are rendered and recognised."""

    languages: str = "eng"
    dpi: int = 300
    max_pixels: int | None = None  # None: worker-plugin-ocr's default (Pillow's limit)
    timeout: float = 0  # seconds per page, 0 = none
    tesseract_cmd: str | None = None


def load_ocr_api() -> ModuleType:
    """``worker_plugin_ocr.api``, or :class:`DependencyMissing` naming the extra to install."""
    try:
        from worker_plugin_ocr import api
    except ImportError as exc:
        raise DependencyMissing(
            f"OCR needs worker-plugin-ocr, which is not installed: pip install '{OCR_EXTRA}' "
            f"({exc})",
            details={"package": "worker-plugin-ocr", "extra": OCR_EXTRA},
        ) from None
    return api


def ocr_available() -> bool:
    """True if worker-plugin-ocr can be imported here."""
    try:
        load_ocr_api()
    except DependencyMissing:
        return False
    return True


def ocr_page(path: Path, page: int, options: OcrOptions, password: str | None = None) -> Any:
    """Render one 1-based page and OCR it; returns worker_plugin_ocr's ``PageText``."""
    api = load_ocr_api()
    limits: dict[str, Any] = {}
    if options.max_pixels is not None:
        limits["max_pixels"] = options.max_pixels
    ((number, image),) = list(
        api.render_pdf_pages(path, [page], dpi=options.dpi, password=password, **limits)
    )
    return api.ocr_image(
        image,
        options.languages,
        page=number,
        timeout=options.timeout,
        tesseract_cmd=options.tesseract_cmd,
        **limits,
    )
