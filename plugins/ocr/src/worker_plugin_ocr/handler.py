"""The ``ocr`` job's settings and handler (imported when the first ocr job runs; its parameters
live in :mod:`worker_plugin_ocr.params`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from jobworker import InputTooLarge, JobContext

from .api import (
    DEFAULT_DPI,
    DEFAULT_MAX_PIXELS,
    PageText,
    count_pages,
    iter_ocr_file,
    normalise_formats,
    select_pages,
)
from .images import PDFIUM_LOCK
from .params import OcrParams

__all__ = ["DEFAULT_SETTINGS", "OcrParams", "handle_ocr", "setting"]

DEFAULT_SETTINGS: dict[str, Any] = {
    "max_bytes": 200 * 1024 * 1024,  # input file size limit
    "max_pages": 500,  # pages per job
    "max_pixels": DEFAULT_MAX_PIXELS,  # per page image; Pillow's decompression-bomb limit
    "dpi": DEFAULT_DPI,  # default rendering resolution of PDF pages
    "tesseract_cmd": None,  # another tesseract binary than the one on PATH
    "page_timeout": 0,  # seconds per page for tesseract, 0 = none (job timeout rules)
}


def setting(settings: Mapping[str, Any], key: str) -> Any:
    """``settings[key]``, or its default from :data:`DEFAULT_SETTINGS`."""
    value = settings.get(key)
    return DEFAULT_SETTINGS[key] if value is None else value


def handle_ocr(ctx: JobContext) -> dict[str, Any]:
    """OCR an image or scanned PDF; write per-page text (and hOCR / searchable PDF) files."""
    p: OcrParams = ctx.params
    settings = ctx.settings
    ctx.progress(5, "initializing", "opening input")
    path = ctx.resolve_input(p.path)
    max_bytes = int(setting(settings, "max_bytes"))
    size = path.stat().st_size
    if size > max_bytes:
        raise InputTooLarge(
            f"{path.name} is {size} bytes, over the ocr limit of {max_bytes}",
            details={"size": size, "max_bytes": max_bytes},
        )
    formats = normalise_formats(p.output_formats)
    total = count_pages(path, p.password)
    pages = select_pages(total, p.page_start, p.page_end)
    max_pages = int(setting(settings, "max_pages"))
    if len(pages) > max_pages:
        raise InputTooLarge(
            f"{len(pages)} pages selected, over the limit of {max_pages}; choose a page range",
            details={"pages": len(pages), "max_pages": max_pages},
        )
    out = ctx.output_dir
    ctx.progress(10, "processing", f"OCR of {len(pages)} page(s) in {p.languages}")
    results: list[dict[str, Any]] = []
    texts: list[str] = []
    page_pdfs: list[Path] = []  # one-page PDFs in scratch, merged at the end
    page_texts: list[str] = []
    assets: list[str] = []
    for done, page in enumerate(
        iter_ocr_file(
            path,
            p.languages,
            pages,
            formats=formats,
            dpi=p.dpi or int(setting(settings, "dpi")),
            password=p.password,
            timeout=float(setting(settings, "page_timeout")),
            tesseract_cmd=setting(settings, "tesseract_cmd"),
            max_pixels=int(setting(settings, "max_pixels")),
            should_stop=ctx.raise_if_cancelled,
        ),
        start=1,
    ):
        entry = _write_page(out, page, page_texts, assets)
        results.append(entry)
        texts.append(page.text)
        if page.pdf is not None:
            page_pdfs.append(ctx.scratch_dir / f"page_{page.page:05d}.pdf")
            page_pdfs[-1].write_bytes(page.pdf)
        ctx.progress(
            10 + 85 * done // len(pages), "processing", f"page {page.page} ({done}/{len(pages)})"
        )
    ctx.progress(95, "postprocessing", "writing outputs")
    searchable = None
    if page_pdfs:
        searchable = out / "searchable.pdf"
        _merge_pdfs(page_pdfs, searchable)
        assets.append(str(searchable))
    confs = [r["confidence"] for r in results if r["confidence"] is not None]
    text = "\n\n".join(texts)
    (out / "text.txt").write_text(text, encoding="utf-8")
    return {
        "page_texts": page_texts,
        "assets": assets,
        "target_dir": str(out),
        "asset_dir": str(out),
        "structured_data": {
            "text": text,
            "languages": p.languages,
            "page_count": total,
            "pages": results,
            "mean_confidence": round(sum(confs) / len(confs), 2) if confs else None,
            "searchable_pdf": str(searchable) if searchable else None,
            "text_file": str(out / "text.txt"),
        },
    }


def _write_page(
    out: Path, page: PageText, page_texts: list[str], assets: list[str]
) -> dict[str, Any]:
    stem = f"page_{page.page:03d}"
    text_file = out / f"{stem}.txt"
    text_file.write_text(page.text, encoding="utf-8")
    page_texts.append(str(text_file))
    entry: dict[str, Any] = {
        "page": page.page,
        "text": page.text,
        "confidence": page.confidence,
        "words": page.words,
        "text_file": str(text_file),
    }
    if page.hocr is not None:
        hocr_file = out / f"{stem}.hocr"
        hocr_file.write_bytes(page.hocr)
        assets.append(str(hocr_file))
        entry["hocr_file"] = str(hocr_file)
    return entry


def _merge_pdfs(pages: list[Path], dest: Path) -> None:
    """One searchable PDF from tesseract's one-page PDFs (pypdfium2)."""
    with PDFIUM_LOCK:
        merged = pdfium.PdfDocument.new()
        try:
            for page in pages:
                src = pdfium.PdfDocument(str(page))
                try:
                    merged.import_pages(src)
                finally:
                    src.close()
            tmp = dest.with_suffix(".part")
            merged.save(os.fspath(tmp))
            tmp.replace(dest)
        finally:
            merged.close()
