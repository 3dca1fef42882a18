"""The ``pdf`` job's handler, legacy result shape (imported when the first pdf job runs; its
parameters and settings live in :mod:`worker_plugin_pdf.params`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobworker import (
    InputForbidden,
    InputTooLarge,
    JobContext,
    download,
)

from .extract import PageResult, extract_pages, select_pages
from .ocr import OcrOptions
from .params import DEFAULT_SETTINGS, VERSION, PdfParams, setting
from .reader import open_pdf, pdf_metadata

__all__ = ["DEFAULT_SETTINGS", "PdfParams", "handle_pdf", "setting"]


def _input_path(ctx: JobContext, p: PdfParams) -> Path:
    if p.is_url:
        if not setting(ctx.settings, "allow_urls"):
            raise InputForbidden(
                "URL input is disabled for pdf jobs (settings allow_urls)",
                details={"url": p.source},
            )
        # SSRF-safe: http(s) only, checked addresses, size and time limits (jobworker.net).
        dest = ctx.scratch_dir / "input.pdf"
        download(
            p.source,
            dest,
            allowed_hosts=setting(ctx.settings, "allowed_hosts"),
            allow_private=list(setting(ctx.settings, "allow_private")),
            max_bytes=int(setting(ctx.settings, "max_bytes")),
            timeout=float(setting(ctx.settings, "url_timeout")),
        )
        return dest
    path = ctx.resolve_input(p.source)
    max_bytes = int(setting(ctx.settings, "max_bytes"))
    size = path.stat().st_size
    if size > max_bytes:
        raise InputTooLarge(
            f"{path.name} is {size} bytes, over the pdf limit of {max_bytes}",
            details={"size": size, "max_bytes": max_bytes},
        )
    return path


def _ocr_options(settings: Mapping[str, Any], p: PdfParams) -> OcrOptions:
    return OcrOptions(
        languages=p.languages or str(setting(settings, "ocr_languages")),
        dpi=int(setting(settings, "ocr_dpi")),
        max_pixels=settings.get("ocr_max_pixels"),
        timeout=float(setting(settings, "ocr_page_timeout")),
        tesseract_cmd=settings.get("tesseract_cmd"),
    )


def handle_pdf(ctx: JobContext) -> dict[str, Any]:
    """Extract text (and images) per page; write ``page_NNN.txt`` files under the output dir."""
    started = time.monotonic()
    p: PdfParams = ctx.params
    settings = ctx.settings
    ctx.progress(5, "downloading_or_opening", "opening the PDF")
    path = _input_path(ctx, p)
    opened = open_pdf(path, p.password)
    warnings = _Warnings(ctx, int(setting(settings, "max_warnings")))
    warnings.extend(opened.warnings)
    pages = select_pages(opened.page_count, p.page_start, p.page_end)
    max_pages = int(setting(settings, "max_pages"))
    if len(pages) > max_pages:
        raise InputTooLarge(
            f"{len(pages)} pages selected, over the limit of {max_pages}; choose a page range",
            details={"pages": len(pages), "max_pages": max_pages},
        )
    out = ctx.output_dir
    ctx.progress(10, "processing", f"{len(pages)} page(s), method {p.extraction_method}")
    results: list[PageResult] = []
    page_entries: list[dict[str, Any]] = []
    for done, page in enumerate(
        extract_pages(
            opened,
            path,
            pages,
            method=p.extraction_method,
            password=p.password,
            ocr=_ocr_options(settings, p),
            image_dir=out / "images" if p.include_images else None,
            max_images=int(setting(settings, "max_images")),
            min_native_chars=int(setting(settings, "auto_min_chars")),
            should_stop=ctx.raise_if_cancelled,
        ),
        start=1,
    ):
        text_file = out / f"page_{page.page:03d}.txt"
        text_file.write_text(page.text, encoding="utf-8")
        warnings.extend(page.warnings)
        results.append(page)
        page_entries.append(_page_entry(page, text_file))
        ctx.progress(
            10 + 85 * done // len(pages), "processing", f"page {page.page} ({done}/{len(pages)})"
        )
    ctx.progress(95, "postprocessing", "writing results")
    return _results(ctx, p, path, opened, results, page_entries, warnings.close(), started)


class _Warnings:
    """Logs each warning on the job and keeps it for the results, up to ``limit`` of them."""

    def __init__(self, ctx: JobContext, limit: int) -> None:
        self.ctx, self.limit = ctx, limit
        self.kept: list[str] = []
        self.dropped = 0

    def extend(self, messages: list[str]) -> None:
        for message in messages:
            if len(self.kept) < self.limit:
                self.kept.append(message)
                self.ctx.warning(message)
            else:
                self.dropped += 1

    def close(self) -> list[str]:
        if self.dropped:
            self.kept.append(f"... and {self.dropped} more warning(s) not listed")
            self.ctx.warning(self.kept[-1])
        return self.kept


def _page_entry(page: PageResult, text_file: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "page": page.page,
        "method": page.method,
        "chars": len(page.text),
        "text_file": str(text_file),
    }
    if page.ocr_text is not None:
        entry["ocr_confidence"] = page.ocr_confidence
    if page.images:
        entry["images"] = [str(i) for i in page.images]
    return entry


def _results(
    ctx: JobContext,
    p: PdfParams,
    path: Path,
    opened: Any,
    pages: list[PageResult],
    entries: list[dict[str, Any]],
    warnings: list[str],
    started: float,
) -> dict[str, Any]:
    out = ctx.output_dir
    text = "\n\n".join(page.text for page in pages)
    text_file = out / "text.txt"
    text_file.write_text(text, encoding="utf-8")
    limit = int(setting(ctx.settings, "max_inline_chars"))
    metadata = pdf_metadata(opened)
    metadata.update(
        {
            "file_name": path.name,
            "file_size": path.stat().st_size,
            "extraction_method": p.extraction_method,
            "pages_processed": len(pages),
            "page_range": [pages[0].page, pages[-1].page] if pages else None,
            "pages": entries,
        }
    )
    assets = [str(image) for page in pages for image in page.images]
    request = {
        "file_path": p.source,
        "extraction_method": p.extraction_method,
        "page_start": p.page_start,
        "page_end": p.page_end,
        "include_images": p.include_images,
        "languages": p.languages,
        "template": p.template,
        "context": p.context,
    }
    return {
        "page_texts": [entry["text_file"] for entry in entries],
        "target_dir": str(out),
        "asset_dir": str(out),
        "assets": assets,
        "context": p.context,
        "template": p.template,
        "warnings": warnings,
        "structured_data": {
            "status": "success",
            "request": request,
            "process": {
                "processor": "worker-plugin-pdf",
                "version": VERSION,
                "duration_ms": int((time.monotonic() - started) * 1000),
            },
            "error": None,
            "data": {
                "extracted_text": text[:limit],
                "extracted_text_truncated": len(text) > limit,
                "text_file": str(text_file),
                "metadata": metadata,
                "warnings": warnings,
            },
        },
    }
