"""The ``pdf`` job type: parameters, settings and the handler (legacy result shape)."""

from __future__ import annotations

import importlib.metadata
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from jobworker import (
    InputForbidden,
    InputTooLarge,
    InvalidParameters,
    JobContext,
    download,
)

from .extract import PageResult, extract_pages, normalise_method, select_pages
from .ocr import OcrOptions
from .reader import open_pdf, pdf_metadata

__all__ = ["DEFAULT_SETTINGS", "PdfParams", "handle_pdf", "setting"]

#: The installed distribution's version (written once, in pyproject.toml).
VERSION = importlib.metadata.version("worker-plugin-pdf")

DEFAULT_SETTINGS: dict[str, Any] = {
    "max_bytes": 100 * 1024 * 1024,  # input PDF size limit (bytes)
    "max_pages": 2000,  # pages one job may process (after the page range)
    "allow_urls": False,  # accept the `url` parameter at all
    "allowed_hosts": None,  # with allow_urls: only these hosts (None: any public host)
    "allow_private": (),  # networks/hosts allowed despite being private (CIDRs)
    "url_timeout": 30.0,  # seconds per network operation of a download
    "ocr_languages": "eng",  # OCR languages when the job gives none
    "ocr_dpi": 300,  # rendering resolution for OCR
    "ocr_page_timeout": 0,  # seconds per OCR page, 0 = none (the job timeout rules)
    "ocr_max_pixels": None,  # per rendered page; None = worker-plugin-ocr's default
    "tesseract_cmd": None,
    "auto_min_chars": 1,  # `auto`: OCR pages with fewer non-blank native characters
    "max_images": 1000,  # embedded images written per job (include_images)
    "max_inline_chars": 1_000_000,  # extracted_text kept in the job document; full text in a file
    "max_warnings": 200,  # warnings logged and kept in the results; the rest counted
}

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def setting(settings: Mapping[str, Any], key: str) -> Any:
    """``settings[key]``, or its default from :data:`DEFAULT_SETTINGS`."""
    value = settings.get(key)
    return DEFAULT_SETTINGS[key] if value is None else value


def _check_page(_inst: object, attr: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise InvalidParameters(f"{attr.name} must be 1 or more, not {value}")


def _check_languages(_inst: object, _attr: object, value: str | None) -> None:
    if value is None:
        return
    try:
        from worker_plugin_ocr.api import parse_languages
    except ImportError:  # checked again by the worker, where OCR runs
        if not re.fullmatch(r"[a-z][a-z_]*(\+[a-z][a-z_]*)*", value):
            raise InvalidParameters(
                f"languages must look like 'eng' or 'eng+deu', not {value!r}"
            ) from None
        return
    parse_languages(value)


@attrs.define
class PdfParams:
    """Parameters of a ``pdf`` job (validated at submit).

    The input is ``file_path``, the legacy ``filename`` or ``extra.file_path``, or ``url``.
    """

    file_path: str | None = None
    filename: str | None = None
    url: str | None = None
    extraction_method: str = attrs.field(default="native", converter=normalise_method)
    page_start: int | None = attrs.field(default=None, validator=_check_page)
    page_end: int | None = attrs.field(default=None, validator=_check_page)
    include_images: bool = False
    password: str | None = None
    languages: str | None = attrs.field(default=None, validator=_check_languages)
    template: Any = None
    context: Any = None

    def __attrs_post_init__(self) -> None:
        if not (self.file_path or self.filename or self.url):
            raise InvalidParameters("a pdf job needs file_path (or the legacy filename) or url")
        if self.page_start and self.page_end and self.page_end < self.page_start:
            raise InvalidParameters(
                f"page_end {self.page_end} is before page_start {self.page_start}"
            )

    @property
    def source(self) -> str:
        return str(self.file_path or self.filename or self.url)

    @property
    def is_url(self) -> bool:
        """A URL given as ``url`` or (legacy) in ``filename``: never mangled into a path."""
        return bool(_URL.match(self.source))


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
