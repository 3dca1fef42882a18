"""The public OCR API of worker-plugin-ocr, used by its handler and by other plugins.

Example::

    from worker_plugin_ocr.api import ocr_file, ocr_image

    page = ocr_image(pil_image, "eng+deu")          # PageText(text=..., confidence=93.1, ...)
    for page in ocr_file("scan.pdf", "deu", pages=[1, 2], formats=("txt", "hocr")):
        print(page.page, page.confidence, page.text)

Every failure is a typed :class:`jobworker.JobFailure`: ``UNSUPPORTED_INPUT`` (not an image or
PDF), ``INPUT_TOO_LARGE`` (a decompression bomb: over the pixel limit), ``INVALID_PARAMETERS``
(unknown language, page range outside the document), ``DEPENDENCY_MISSING`` (no tesseract
binary, or no data for a language) and ``PDF_ENCRYPTED``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytesseract
from jobworker import DependencyMissing, JobFailure, UnsupportedInput
from PIL import Image

from .images import (
    DEFAULT_DPI,
    DEFAULT_MAX_PIXELS,
    count_pages,
    is_pdf,
    iter_pages,
    open_image,
    render_pdf_pages,
    select_pages,
)
from .params import FORMATS, normalise_formats
from .tesseract import (
    installed_languages,
    load_pytesseract,
    parse_languages,
    require_languages,
    tesseract_unavailable_reason,
    using_tesseract,
)

load_pytesseract()  # pytesseract runs tesseract with OMP_THREAD_LIMIT=1 (.tesseract)

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "PageText",
    "count_pages",
    "installed_languages",
    "is_pdf",
    "normalise_formats",
    "ocr_file",
    "ocr_image",
    "iter_ocr_file",
    "parse_languages",
    "render_pdf_pages",
    "select_pages",
    "tesseract_unavailable_reason",
]


@attrs.frozen
class PageText:
    """The OCR result of one page.

    :ivar text: recognised plain text (trailing form feed removed).
    :ivar confidence: mean word confidence 0..100 of the recognised words, ``None`` if none.
    :ivar words: number of recognised words.
    :ivar page: 1-based page number within its file (1 for a single image).
    :ivar hocr: the page as hOCR (XHTML bytes) when requested, else ``None``.
    :ivar pdf: the page as a one-page searchable PDF (image + invisible text) when requested.
    """

    text: str
    confidence: float | None
    words: int = 0
    page: int = 1
    hocr: bytes | None = None
    pdf: bytes | None = None


def ocr_image(
    image: Image.Image | str | os.PathLike[str],
    languages: str = "eng",
    *,
    formats: Iterable[str] = ("txt",),
    page: int = 1,
    timeout: float = 0,
    tesseract_cmd: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> PageText:
    """Recognise the text of one image (a PIL image or an image file's path).

    One tesseract run produces text, word confidences and the requested hOCR/PDF renderings.

    :param languages: tesseract language codes joined by ``+`` (``eng``, ``deu``, ``eng+deu``).
    :param formats: extra outputs besides text: ``hocr``, ``pdf``.
    :param timeout: seconds for the tesseract run, 0 for no limit.
    :param tesseract_cmd: another tesseract binary than pytesseract's default.
    :param max_pixels: refuse larger images (decompression bombs).
    """
    wanted = normalise_formats(formats)
    langs = require_languages(languages, tesseract_cmd)
    if not isinstance(image, Image.Image):
        path = Path(os.fspath(image))
        with open_image(path, max_pixels) as img:
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise UnsupportedInput(
                    f"{path.name}: cannot decode the image: {exc}", details={"reason": str(exc)}
                ) from None
            return ocr_image(
                img.copy(),
                langs,
                formats=wanted,
                page=page,
                timeout=timeout,
                tesseract_cmd=tesseract_cmd,
                max_pixels=max_pixels,
            )
    extensions = ["txt", "tsv", *(f for f in wanted if f != "txt")]
    with tempfile.TemporaryDirectory(prefix="jw-ocr-") as tmp:
        source = Path(tmp) / "page.png"
        # A copy: Pillow keeps save options on the image it saves, the caller's stays clean.
        image.copy().save(source, format="PNG", compress_level=1)
        outputs = _run(str(source), extensions, langs, timeout, tesseract_cmd)
    by_ext = dict(zip(extensions, outputs, strict=True))
    confidence, words = _confidence(_as_text(by_ext["tsv"]))
    return PageText(
        text=_as_text(by_ext["txt"]).rstrip("\x0c").strip("\n"),
        confidence=confidence,
        words=words,
        page=page,
        hocr=_as_bytes(by_ext.get("hocr")),
        pdf=_as_bytes(by_ext.get("pdf")),
    )


def iter_ocr_file(
    path: str | os.PathLike[str],
    languages: str = "eng",
    pages: Sequence[int] | None = None,
    *,
    formats: Iterable[str] = ("txt",),
    dpi: int = DEFAULT_DPI,
    password: str | None = None,
    timeout: float = 0,
    tesseract_cmd: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    should_stop: Callable[[], object] | None = None,
) -> Iterator[PageText]:
    """OCR the given 1-based pages (all if ``None``) of a PNG, JPEG, TIFF or PDF file, lazily.

    ``should_stop`` is called before each page (e.g. ``ctx.raise_if_cancelled``).
    """
    wanted = normalise_formats(formats)
    langs = require_languages(languages, tesseract_cmd)
    for number, image in iter_pages(
        Path(os.fspath(path)), pages, dpi=dpi, password=password, max_pixels=max_pixels
    ):
        if should_stop is not None:
            should_stop()
        yield ocr_image(
            image,
            langs,
            formats=wanted,
            page=number,
            timeout=timeout,
            tesseract_cmd=tesseract_cmd,
            max_pixels=max_pixels,
        )


def ocr_file(
    path: str | os.PathLike[str],
    languages: str = "eng",
    pages: Sequence[int] | None = None,
    **options: Any,
) -> list[PageText]:
    """Like :func:`iter_ocr_file` (the same keyword options), as a list."""
    return list(iter_ocr_file(path, languages, pages, **options))


def _run(
    source: str, extensions: list[str], langs: str, timeout: float, cmd: str | None
) -> list[bytes | str]:
    try:
        with using_tesseract(cmd):
            outputs: list[bytes | str] = pytesseract.pytesseract.run_and_get_multiple_output(
                source, extensions=extensions, lang=langs, timeout=timeout
            )
            return outputs
    except pytesseract.TesseractNotFoundError:
        raise DependencyMissing(
            tesseract_unavailable_reason(cmd) or "tesseract binary not found",
            details={"program": cmd or "tesseract"},
        ) from None
    except pytesseract.TesseractError as exc:
        message = str(exc.message)
        if "Failed loading language" in message or "Could not initialize" in message:
            raise DependencyMissing(
                f"tesseract cannot load language data {langs!r}: {message}",
                details={"languages": langs},
            ) from None
        raise UnsupportedInput(
            f"tesseract failed on the image: {message}", details={"status": exc.status}
        ) from None
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise JobFailure(
                f"tesseract took longer than {timeout} s on one page",
                code="TIMEOUT",
                retryable=True,
                details={"timeout": timeout},
            ) from None
        raise


def _as_text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _as_bytes(data: bytes | str | None) -> bytes | None:
    return data.encode("utf-8") if isinstance(data, str) else data


def _confidence(tsv: str) -> tuple[float | None, int]:
    """Mean confidence of the words in tesseract's TSV output, and the word count."""
    confs: list[float] = []
    for line in tsv.splitlines()[1:]:
        cells = line.split("\t", 11)
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            conf = float(cells[10])
        except ValueError:
            continue
        if conf >= 0:
            confs.append(conf)
    if not confs:
        return None, 0
    return round(sum(confs) / len(confs), 2), len(confs)
