"""Measuring OCR quality, and hostile PDFs, in tests (this plugin's tests and
worker-plugin-pdf's)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "character_error_rate",
    "cyclic_page_tree_pdf",
    "edit_distance",
    "huge_image_pdf",
    "raw_pdf",
]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def character_error_rate(reference: Sequence[str], text: str) -> float:
    """Character error rate of OCR ``text`` against the rendered ``reference`` lines (blank
    lines of the OCR output ignored, each line stripped)."""
    ref = "\n".join(reference)
    got = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return edit_distance(ref, got) / len(ref)


def raw_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of the given object bodies (object 1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def cyclic_page_tree_pdf(path: Path) -> Path:
    """A PDF whose page tree contains itself: it claims two pages, the second cannot load."""
    path.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            ]
        )
    )
    return path


def huge_image_pdf(path: Path, side: int = 40_000) -> Path:
    """A one-page PDF (a few hundred KB) drawing a ``side x side`` 1-bit image on a 200 pt page:
    PDFium would decode the whole image to render the page."""
    packer = zlib.compressobj(9)
    row = b"\x00" * ((side + 7) // 8)
    data = b"".join(packer.compress(row * 1000) for _ in range(side // 1000))
    data += packer.compress(row * (side % 1000)) + packer.flush()
    content = b"q 200 0 0 200 0 0 cm /Im0 Do Q"
    image = (
        f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace "
        f"/DeviceGray /BitsPerComponent 1 /Filter /FlateDecode /Length {len(data)} >>\n"
    ).encode()
    path.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources "
                b"<< /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
                image + b"stream\n" + data + b"\nendstream",
                f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
            ]
        )
    )
    return path
