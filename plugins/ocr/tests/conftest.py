"""Fixtures for the OCR tests: pages rendered with Pillow and DejaVu, made by the tests."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

EN_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "Background jobs are processed by a worker that",
    "claims them atomically and records progress.",
    "Invoice 2024: total amount 1,234.56 EUR due",
    "within thirty days of receipt of this letter.",
]
DE_LINES = [
    "Grüße aus München: Die Straße ist heute gesperrt.",
    "Größere Änderungen übernehmen wir im Frühjahr.",
    "Der Bär trägt schöne Schuhe über die Brücke.",
    "Öffnungszeiten: Montag bis Freitag, 9 bis 17 Uhr.",
]


def render_page(lines: list[str], size: int = 46, width: int = 2480) -> Image.Image:
    """A page strip at about 300 dpi: 46 px is 11 pt text; A4 width is 2480 px."""
    if not FONT.exists():
        pytest.skip("fonts-dejavu-core is not installed")
    font = ImageFont.truetype(str(FONT), size)
    step = int(size * 1.6)
    img = Image.new("L", (width, 300 + len(lines) * step), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((150, 150 + i * step), line, font=font, fill=0)
    return img


def png_bomb_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture()
def en_page() -> Image.Image:
    return render_page(EN_LINES)


@pytest.fixture()
def de_page() -> Image.Image:
    return render_page(DE_LINES)


@pytest.fixture()
def scanned_pdf(tmp_path: Path, en_page: Image.Image) -> Path:
    """An image-only PDF (a 'scan'): the English page embedded by Pillow at 300 dpi."""
    path = tmp_path / "scan.pdf"
    en_page.convert("RGB").save(path, "PDF", resolution=300)
    return path


@pytest.fixture(scope="session")
def en_lines() -> list[str]:
    return list(EN_LINES)


@pytest.fixture(scope="session")
def de_lines() -> list[str]:
    return list(DE_LINES)


@pytest.fixture(scope="session")
def render():  # type: ignore[no-untyped-def]
    """``render(lines, size=46)`` -> a Pillow page image."""
    return render_page


@pytest.fixture(scope="session")
def png_bomb():  # type: ignore[no-untyped-def]
    """``png_bomb(width, height)`` -> bytes of a PNG claiming that many pixels."""
    return png_bomb_header
