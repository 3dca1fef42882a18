"""The ``ocr`` job's parameters and output formats, checked when a job is submitted.

Light on purpose (no pytesseract, Pillow or pypdfium2): the plugin loads this in every worker and
client process; the handler (:mod:`worker_plugin_ocr.handler`) is imported when an ocr job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from jobworker import InvalidParameters

from .tesseract import installed_languages, parse_languages, tesseract_unavailable_reason

__all__ = ["FORMATS", "OcrParams", "normalise_formats"]

FORMATS = ("txt", "hocr", "pdf")


def normalise_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """``("text", "HOCR")`` -> ``("txt", "hocr")``; plain text is always included.

    :raises InvalidParameters: a format other than txt/text, hocr or pdf.
    """
    out = ["txt"]
    for fmt in formats:
        name = {"text": "txt"}.get(str(fmt).lower(), str(fmt).lower())
        if name not in FORMATS:
            raise InvalidParameters(
                f"unknown OCR output format {fmt!r} (txt, hocr, pdf)", details={"format": fmt}
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def _languages(value: object) -> str:
    """``["eng", "deu"]`` or ``"ENG+deu"`` -> ``"eng+deu"``."""
    if isinstance(value, (list, tuple)):
        value = "+".join(str(v) for v in value)
    return str(value).strip().lower()


def _check_languages(_inst: object, _attr: object, value: str) -> None:
    value = parse_languages(value)
    if tesseract_unavailable_reason() is None:  # tesseract here: its installed data is the set
        have = installed_languages()
        missing = [lang for lang in value.split("+") if lang not in have]
        if missing:
            raise InvalidParameters(
                f"OCR language(s) {', '.join(missing)} not installed "
                f"(installed: {', '.join(sorted(have))})",
                details={"missing": missing},
            )


def _check_page(_inst: object, attr: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise InvalidParameters(f"{attr.name} must be 1 or more, not {value}")


def _check_formats(_inst: object, _attr: object, value: list[str]) -> None:
    normalise_formats(value)


@attrs.define
class OcrParams:
    """Parameters of an ``ocr`` job (validated at submit)."""

    file_path: str | None = None
    filename: str | None = None  # legacy name of the input path
    languages: str = attrs.field(default="eng", converter=_languages, validator=_check_languages)
    page_start: int | None = attrs.field(default=None, validator=_check_page)
    page_end: int | None = attrs.field(default=None, validator=_check_page)
    output_formats: list[str] = attrs.field(factory=lambda: ["txt"], validator=_check_formats)
    dpi: int | None = None
    password: str | None = None

    def __attrs_post_init__(self) -> None:
        if not (self.file_path or self.filename):
            raise InvalidParameters("an ocr job needs file_path (or the legacy filename)")
        if self.page_start and self.page_end and self.page_end < self.page_start:
            raise InvalidParameters(
                f"page_end {self.page_end} is before page_start {self.page_start}"
            )
        if self.dpi is not None and not 72 <= self.dpi <= 1200:
            raise InvalidParameters(f"dpi must be within 72..1200, not {self.dpi}")

    @property
    def path(self) -> str:
        return str(self.file_path or self.filename)
