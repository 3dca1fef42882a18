"""Opening a PDF with pypdf: typed errors for bad input, warnings for silent damage.

pypdf repairs what it can without raising (a wrong ``startxref``, a broken xref table, a page tree
that lost pages) and reports it, if at all, through the ``pypdf`` logger. A document that opens
"fine" with fewer pages than it declares must not pass as clean, so :func:`open_pdf` collects
those log records and checks the page tree's ``/Count`` against the pages pypdf can reach.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from jobworker import DependencyMissing, JobFailure, UnsupportedInput
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError, WrongPasswordError
from pypdf.generic import DictionaryObject

__all__ = ["OpenedPdf", "capture_pypdf_warnings", "is_pdf", "open_pdf", "pdf_metadata"]

PDF_ENCRYPTED = "PDF_ENCRYPTED"


@attrs.define
class OpenedPdf:
    """A readable pypdf document and what was wrong with it.

    :ivar page_count: pages pypdf can reach (what extraction will see).
    :ivar declared_pages: the page tree's ``/Count``, if readable.
    :ivar warnings: damage found while opening (empty for a clean file).
    """

    reader: PdfReader
    page_count: int
    declared_pages: int | None
    encrypted: bool
    warnings: list[str] = attrs.Factory(list)


class _ThreadRecords(logging.Handler):
    """Collects the ``pypdf`` log records of one thread (others may run pypdf at the same time)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            message = record.getMessage()
            if message not in self.messages:
                self.messages.append(message)


@contextlib.contextmanager
def capture_pypdf_warnings() -> Iterator[list[str]]:
    """Collect the messages pypdf logs (warning and up) in this thread inside the block."""
    handler = _ThreadRecords()
    logger = logging.getLogger("pypdf")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def is_pdf(path: Path) -> bool:
    """True if the file starts like a PDF (``%PDF-`` within its first KiB, as readers allow)."""
    with open(path, "rb") as fh:
        return b"%PDF-" in fh.read(1024)


def _has_eof_marker(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 2048))
        return b"%%EOF" in fh.read()


def open_pdf(path: Path, password: str | None = None) -> OpenedPdf:
    """Open ``path`` with pypdf, decrypting it if needed, and check it for damage.

    :raises UnsupportedInput: not a PDF, or too damaged to read (``details.reason``).
    :raises JobFailure: code ``PDF_ENCRYPTED``: encrypted and no or a wrong password.
    :raises DependencyMissing: AES encryption without the ``cryptography`` package.
    """
    name = path.name
    if not is_pdf(path):
        raise UnsupportedInput(
            f"{name} is not a PDF (no %PDF- header)",
            details={"path": str(path), "reason": "not_pdf"},
        )
    with capture_pypdf_warnings() as logged:
        try:
            reader = PdfReader(path, password=password)
            encrypted = reader.is_encrypted
            pages = len(reader.pages)
            declared = _declared_count(reader)
        except WrongPasswordError:
            raise _encrypted(name, password) from None
        except FileNotDecryptedError:
            raise _encrypted(name, password) from None
        except DependencyError as exc:
            raise DependencyMissing(
                f"{name} uses AES encryption, which needs the 'cryptography' package: {exc}",
                details={"package": "cryptography"},
            ) from None
        except (
            PyPdfError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            RecursionError,
            OSError,
        ) as exc:
            raise UnsupportedInput(
                f"{name} is a damaged or truncated PDF that cannot be read: {exc}",
                details={"path": str(path), "reason": "corrupt", "error": str(exc)},
            ) from None
    if pages == 0:
        raise UnsupportedInput(
            f"{name} has no readable pages (damaged or truncated PDF)",
            details={"path": str(path), "reason": "no_pages", "declared_pages": declared},
        )
    found = [f"pypdf: {message}" for message in logged]
    if declared is not None and declared != pages:
        found.insert(
            0,
            f"the page tree declares {declared} pages but only {pages} can be read: "
            "the file is damaged and text may be missing",
        )
    if not _has_eof_marker(path):
        found.insert(
            0,
            "no %%EOF marker at the end of the file: it may be truncated or have "
            "other data appended",
        )
    return OpenedPdf(reader, pages, declared, encrypted, found)


def _encrypted(name: str, password: str | None) -> JobFailure:
    given = bool(password)
    return JobFailure(
        f"{name} is encrypted and "
        + ("the password is wrong" if given else "needs a password (parameter 'password')"),
        code=PDF_ENCRYPTED,
        details={"password_given": given},
    )


def _declared_count(reader: PdfReader) -> int | None:
    try:
        root = reader.trailer["/Root"].get_object()
        pages = root["/Pages"].get_object() if isinstance(root, DictionaryObject) else None
        count = pages.get("/Count") if isinstance(pages, DictionaryObject) else None
        return int(count) if count is not None else None
    except (PyPdfError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def pdf_metadata(opened: OpenedPdf) -> dict[str, Any]:
    """Title, author and other document-info fields (``None`` when absent), and page counts."""
    info: dict[str, Any] = {}
    try:
        meta = opened.reader.metadata
    except (PyPdfError, KeyError, TypeError, ValueError, AttributeError):
        meta = None
    fields = {
        "title": "/Title",
        "author": "/Author",
        "subject": "/Subject",
        "creator": "/Creator",
        "producer": "/Producer",
        "keywords": "/Keywords",
    }
    for key, pdf_key in fields.items():
        try:
            info[key] = _clean(meta.get(pdf_key)) if meta is not None else None
        except (PyPdfError, KeyError, TypeError, ValueError, AttributeError):
            info[key] = None
    info["page_count"] = opened.page_count
    info["declared_page_count"] = opened.declared_pages
    info["encrypted"] = opened.encrypted
    return info
