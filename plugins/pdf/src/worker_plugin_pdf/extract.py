"""Per-page text (native, OCR, both, auto) and embedded images of an opened PDF."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
from jobworker.validation import select_pages  # checked against the page count

from .ocr import OcrOptions, load_ocr_api, ocr_page
from .params import METHODS, normalise_method
from .reader import OpenedPdf, capture_pypdf_warnings

__all__ = ["METHODS", "PageResult", "extract_pages", "normalise_method", "select_pages"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jp2", ".tif", ".tiff", ".bmp", ".gif", ".jbig2"}
_MAX_PAGE_WARNINGS = 20


@attrs.define
class PageResult:
    """What one page gave.

    :ivar method: how its text was obtained: ``native``, ``ocr``, ``both`` or ``failed``.
    """

    page: int
    text: str
    method: str
    native_text: str | None = None
    ocr_text: str | None = None
    ocr_confidence: float | None = None
    images: list[Path] = attrs.Factory(list)
    warnings: list[str] = attrs.Factory(list)


def extract_pages(
    opened: OpenedPdf,
    path: Path,
    pages: Sequence[int],
    *,
    method: str = "native",
    password: str | None = None,
    ocr: OcrOptions | None = None,
    image_dir: Path | None = None,
    max_images: int = 1000,
    min_native_chars: int = 1,
    should_stop: Callable[[], object] | None = None,
) -> Iterator[PageResult]:
    """Yield a :class:`PageResult` per 1-based page in ``pages``.

    :param method: ``native``, ``ocr``, ``both`` or ``auto`` (OCR for pages whose native text has
        fewer than ``min_native_chars`` non-blank characters).
    :param image_dir: write the pages' embedded images there (``include_images``); None: skip.
    :raises DependencyMissing: OCR is needed and worker-plugin-ocr is not installed.
    """
    method = normalise_method(method)
    ocr = ocr or OcrOptions()
    if method in ("ocr", "both"):
        load_ocr_api()  # fail before the first page, not after some work
    images_left = max_images
    for number in pages:
        if should_stop is not None:
            should_stop()
        result = PageResult(page=number, text="", method=method)
        if method != "ocr":
            result.native_text = _native_text(opened, number, result.warnings)
        needs_ocr = method in ("ocr", "both") or (
            method == "auto" and len(re.sub(r"\s", "", result.native_text or "")) < min_native_chars
        )
        if needs_ocr:
            ocr_result = ocr_page(path, number, ocr, password)
            result.ocr_text, result.ocr_confidence = ocr_result.text, ocr_result.confidence
        result.method, result.text = _combine(method, result)
        if image_dir is not None and images_left > 0:
            result.images = _page_images(opened, number, image_dir, images_left, result.warnings)
            images_left -= len(result.images)
        yield result


def _combine(method: str, result: PageResult) -> tuple[str, str]:
    native, ocred = result.native_text, result.ocr_text
    if method == "both":
        return "both", "\n\n".join(t for t in (native, ocred) if t)
    if ocred is not None:
        return "ocr", ocred
    if native is None:
        return "failed", ""
    return "native", native


def _native_text(opened: OpenedPdf, number: int, warnings: list[str]) -> str | None:
    with capture_pypdf_warnings() as logged:
        try:
            text = opened.reader.pages[number - 1].extract_text()
        except Exception as exc:  # pypdf raises many kinds on damaged content
            warnings.append(f"page {number}: text extraction failed: {type(exc).__name__}: {exc}")
            text = None
    warnings.extend(f"page {number}: pypdf: {m}" for m in logged[:_MAX_PAGE_WARNINGS])
    return text


def _page_images(
    opened: OpenedPdf, number: int, image_dir: Path, limit: int, warnings: list[str]
) -> list[Path]:
    written: list[Path] = []
    with capture_pypdf_warnings() as logged:
        try:
            images = opened.reader.pages[number - 1].images
            count = len(images)
        except Exception as exc:  # damaged resources
            warnings.append(f"page {number}: images could not be read: {exc}")
            count = 0
        for index in range(1, min(count, limit) + 1):
            try:  # decoding happens here: unsupported filters, damaged data, pixel bombs
                image = images[index - 1]
                data = image.data
            except Exception as exc:
                warnings.append(f"page {number}: image {index} could not be decoded: {exc}")
                continue
            suffix = Path(image.name).suffix.lower()
            suffix = suffix if suffix in _IMAGE_SUFFIXES else ".bin"
            image_dir.mkdir(parents=True, exist_ok=True)
            target = image_dir / f"page_{number:03d}_img_{index:02d}{suffix}"
            target.write_bytes(data)
            written.append(target)
    warnings.extend(f"page {number}: pypdf: {m}" for m in logged[:_MAX_PAGE_WARNINGS])
    return written
