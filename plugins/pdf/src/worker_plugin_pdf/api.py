"""The public API of worker-plugin-pdf, for its handler and for other plugins.

Example::

    from pathlib import Path
    from worker_plugin_pdf.api import extract_text, open_pdf, extract_pages

    text = extract_text(Path("report.pdf"), method="auto", page_start=2, page_end=4)

    opened = open_pdf(Path("report.pdf"))
    print(opened.page_count, opened.warnings)          # warnings: damage pypdf silently repaired
    for page in extract_pages(opened, Path("report.pdf"), [1, 2], method="native"):
        print(page.page, page.method, page.text[:80])

Failures are typed :class:`jobworker.JobFailure`\\ s: ``UNSUPPORTED_INPUT`` (not a PDF, damaged
beyond reading), ``PDF_ENCRYPTED`` (no or a wrong password), ``INVALID_PARAMETERS`` (page range,
method), ``DEPENDENCY_MISSING`` (OCR without ``worker-plugin-pdf[ocr]``).
"""

from __future__ import annotations

from pathlib import Path

from .extract import METHODS, PageResult, extract_pages, normalise_method, select_pages
from .ocr import OCR_EXTRA, OcrOptions, ocr_available
from .reader import PDF_ENCRYPTED, OpenedPdf, is_pdf, open_pdf, pdf_metadata

__all__ = [
    "METHODS",
    "OCR_EXTRA",
    "PDF_ENCRYPTED",
    "OcrOptions",
    "OpenedPdf",
    "PageResult",
    "extract_pages",
    "extract_text",
    "is_pdf",
    "normalise_method",
    "ocr_available",
    "open_pdf",
    "pdf_metadata",
    "select_pages",
]


def extract_text(
    path: Path,
    *,
    method: str = "native",
    page_start: int | None = None,
    page_end: int | None = None,
    password: str | None = None,
    ocr: OcrOptions | None = None,
) -> str:
    """The text of pages ``page_start..page_end`` (default: all), separated by blank lines."""
    opened = open_pdf(path, password)
    pages = select_pages(opened.page_count, page_start, page_end)
    return "\n\n".join(
        page.text
        for page in extract_pages(opened, path, pages, method=method, password=password, ocr=ocr)
    )
