"""Page images from PNG, JPEG, TIFF (multi-page) and PDF files, with pixel limits.

Every image is checked against a pixel limit *before* its pixels are decoded: Pillow reads only
the header on ``open``, and a PDF page's pixel size is known from its box and the DPI before it
is rendered. A decompression bomb is refused with :class:`jobworker.InputTooLarge`, never decoded.
PDF pages are rendered with pypdfium2 (no poppler); PDFium is not thread-safe, so its calls are
serialised within a process.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from jobworker import InputTooLarge, JobFailure, UnsupportedInput
from jobworker.validation import select_pages  # checked against the page count
from PIL import Image, ImageSequence, UnidentifiedImageError

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_FORMATS",
    "check_pixels",
    "count_pages",
    "is_pdf",
    "iter_pages",
    "open_image",
    "render_pdf_pages",
    "select_pages",
]

DEFAULT_DPI = 300
# Pillow's own default (about 89.5 megapixels, a 9500 x 9500 image): above it we refuse.
DEFAULT_MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "MPO"})
PDFIUM_LOCK = threading.RLock()


def is_pdf(path: Path) -> bool:
    """True if the file starts like a PDF (``%PDF-`` within its first KiB)."""
    with open(path, "rb") as fh:
        return b"%PDF-" in fh.read(1024)


def check_pixels(width: int, height: int, max_pixels: int | None, what: str) -> None:
    """Refuse ``width x height`` over ``max_pixels`` (a decompression bomb, an oversized page)."""
    if max_pixels is not None and width * height > max_pixels:
        raise InputTooLarge(
            f"{what} is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels} (decompression bomb protection)",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )


def open_image(path: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image lazily (header only) and check its size; refuse what is not an image.

    :raises UnsupportedInput: not an image, or not PNG/JPEG/TIFF.
    :raises InputTooLarge: over ``max_pixels`` (checked before any pixel is decoded).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise InputTooLarge(f"{path.name}: {exc}", details={"max_pixels": max_pixels}) from None
    except UnidentifiedImageError:
        raise UnsupportedInput(
            f"{path.name} is not an image Pillow can read (PNG, JPEG, TIFF) nor a PDF",
            details={"path": str(path)},
        ) from None
    if img.format not in IMAGE_FORMATS:
        img.close()
        raise UnsupportedInput(
            f"{path.name} is a {img.format} image; OCR takes PNG, JPEG, TIFF or PDF",
            details={"format": img.format},
        )
    check_pixels(*img.size, max_pixels, path.name)
    return img


def count_pages(path: Path, password: str | None = None) -> int:
    """Number of pages (frames for TIFF, 1 for other images, pages for a PDF)."""
    if is_pdf(path):
        with PDFIUM_LOCK:
            pdf = _open_pdf(path, password)
            try:
                return len(pdf)
            finally:
                pdf.close()
    img = open_image(path, max_pixels=None)
    try:
        return int(getattr(img, "n_frames", 1))
    finally:
        img.close()


def _open_pdf(path: Path, password: str | None) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise JobFailure(
                f"{path.name} is encrypted and "
                + ("the password is wrong" if password else "no password was given"),
                code="PDF_ENCRYPTED",
                details={"password_given": bool(password)},
            ) from None
        raise UnsupportedInput(
            f"{path.name} is not a readable PDF: {exc}",
            details={"path": str(path), "reason": str(exc)},
        ) from None


def render_pdf_pages(
    path: Path,
    pages: Sequence[int],
    *,
    dpi: int = DEFAULT_DPI,
    password: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[int, Image.Image]]:
    """Render the given 1-based pages to greyscale images at ``dpi`` (pypdfium2, no poppler).

    Before a page is rendered, its pixel size at ``dpi`` and the pixel size of every image it
    embeds (read from the image's dictionary, nothing decoded) are checked against
    ``max_pixels``: PDFium decodes an embedded image whole, whatever size it is drawn at, so a
    small PDF holding a 40000 x 40000 image would otherwise need gigabytes.

    :raises UnsupportedInput: not a readable PDF, or a page PDFium cannot load (a damaged or
        cyclic page tree). ``JobFailure`` with code ``PDF_ENCRYPTED``: encrypted and no or a
        wrong password.
    :raises InputTooLarge: a page would render to more than ``max_pixels``, or embeds an image
        of more than ``max_pixels``.
    """
    scale = dpi / 72.0
    with PDFIUM_LOCK:
        pdf = _open_pdf(path, password)
    try:
        for number in pages:
            with PDFIUM_LOCK:
                page = _load_page(pdf, path, number)
                try:
                    width, height = page.get_size()
                    check_pixels(
                        round(width * scale),
                        round(height * scale),
                        max_pixels,
                        f"page {number} at {dpi} dpi",
                    )
                    _check_embedded_images(page, number, max_pixels)
                    image = page.render(scale=scale, grayscale=True).to_pil()
                except pdfium.PdfiumError as exc:
                    raise _unreadable_page(path, number, exc) from None
                finally:
                    page.close()
            yield number, image
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _load_page(pdf: pdfium.PdfDocument, path: Path, number: int) -> pdfium.PdfPage:
    try:
        return pdf[number - 1]
    except pdfium.PdfiumError as exc:
        raise _unreadable_page(path, number, exc) from None


def _unreadable_page(path: Path, number: int, exc: Exception) -> UnsupportedInput:
    return UnsupportedInput(
        f"{path.name}: page {number} cannot be read ({exc}); the PDF's page tree or the page "
        "is damaged",
        details={"page": number, "reason": str(exc)},
    )


def _check_embedded_images(page: pdfium.PdfPage, number: int, max_pixels: int | None) -> None:
    """Refuse a page embedding an image over ``max_pixels`` (also inside form XObjects)."""
    if max_pixels is None:
        return
    for index, obj in enumerate(
        page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=8), start=1
    ):
        width, height = obj.get_px_size()
        check_pixels(width, height, max_pixels, f"page {number}: embedded image {index}")


def iter_pages(
    path: Path,
    pages: Sequence[int] | None = None,
    *,
    dpi: int = DEFAULT_DPI,
    password: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[int, Image.Image]]:
    """``(page number, image)`` for the given 1-based pages of an image or PDF file (all if None).

    :raises UnsupportedInput: neither an image nor a PDF, or its pixels cannot be decoded.
    :raises InputTooLarge: a page over ``max_pixels``.
    """
    if is_pdf(path):
        wanted = (
            list(pages) if pages is not None else list(range(1, count_pages(path, password) + 1))
        )
        yield from render_pdf_pages(path, wanted, dpi=dpi, password=password, max_pixels=max_pixels)
        return
    img = open_image(path, max_pixels)
    try:
        wanted_set = set(pages) if pages is not None else None
        for index, frame in enumerate(ImageSequence.Iterator(img), start=1):
            if wanted_set is not None and index not in wanted_set:
                continue
            check_pixels(*frame.size, max_pixels, f"{path.name} page {index}")
            try:
                frame.load()
                yield index, _normalise(frame)
            except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt pixel data
                raise UnsupportedInput(
                    f"{path.name} page {index}: cannot decode the image: {exc}",
                    details={"page": index, "reason": str(exc)},
                ) from None
    finally:
        img.close()


def _normalise(frame: Image.Image) -> Image.Image:
    """A standalone copy in a mode tesseract reads well (L, RGB or 1-bit), alpha on white."""
    if frame.mode in ("L", "RGB", "1"):
        return frame.copy()
    if "A" in frame.getbands() or frame.mode == "P":
        rgba = frame.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return frame.convert("RGB")
