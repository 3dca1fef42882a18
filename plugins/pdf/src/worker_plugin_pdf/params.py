"""The ``pdf`` job's parameters and settings, checked when a job is submitted.

Light on purpose (no pypdf): the plugin loads this in every worker and client process; the
handler (:mod:`worker_plugin_pdf.handler`) is imported when a pdf job runs.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping
from typing import Any

import attrs
from jobworker import InvalidParameters

__all__ = ["DEFAULT_SETTINGS", "METHODS", "VERSION", "PdfParams", "normalise_method", "setting"]

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

# ``auto``: native text, and OCR for pages without any. ``tesseract_ocr`` is the legacy name.
METHODS = ("native", "ocr", "both", "auto")
_ALIASES = {"tesseract_ocr": "ocr", "text": "native"}
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def setting(settings: Mapping[str, Any], key: str) -> Any:
    """``settings[key]``, or its default from :data:`DEFAULT_SETTINGS`."""
    value = settings.get(key)
    return DEFAULT_SETTINGS[key] if value is None else value


def normalise_method(value: object) -> str:
    """``None`` -> ``native`` (the legacy default); legacy aliases mapped; others refused."""
    name = str(value or "native").strip().lower()
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise InvalidParameters(
            f"extraction_method {value!r} is not supported; choose one of {', '.join(METHODS)}",
            details={"extraction_method": value, "supported": list(METHODS)},
        )
    return name


def _check_page(_inst: object, attr: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise InvalidParameters(f"{attr.name} must be 1 or more, not {value}")


def _check_languages(_inst: object, _attr: object, value: str | None) -> None:
    if value is None:
        return
    try:
        from worker_plugin_ocr.tesseract import parse_languages  # light: no pytesseract
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
