"""Fixtures for the pdf tests: every PDF is generated here (fpdf2, Pillow, pypdf)."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

EN_PAGES = [
    "Page one. The quick brown fox jumps over the lazy dog.",
    "Page two. Background jobs are claimed atomically.",
    "Page three. Nothing is lost and nothing runs twice.",
    "Page four. Progress is reported for every page.",
    "Page five. The end of the English test document.",
]
DE_PAGES = [
    "Seite eins. Grüße aus München, die Straße ist gesperrt.",
    "Seite zwei. Größere Änderungen übernehmen wir im Frühjahr.",
]
SCAN_LINES = [
    "Scanned page: the quick brown fox jumps",
    "over the lazy dog. Invoice number 4711.",
]


def _font_or_skip() -> Path:
    if not FONT.exists():
        pytest.skip("fonts-dejavu-core is not installed")
    return FONT


def render_lines(lines: list[str], size: int = 46) -> Image.Image:
    """A page strip as a 300 dpi scanner would give it (46 px = 11 pt)."""
    font = ImageFont.truetype(str(_font_or_skip()), size)
    step = int(size * 1.6)
    img = Image.new("L", (2480, 300 + len(lines) * step), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((150, 150 + i * step), line, font=font, fill=0)
    return img


def make_pdf(
    path: Path,
    pages: list[str | Image.Image],
    *,
    title: str | None = None,
    author: str | None = None,
) -> Path:
    """A PDF with one page per entry: text (DejaVu, so umlauts work) or an image-only page."""
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(_font_or_skip()))
    pdf.set_font("DejaVu", size=12)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    for page in pages:
        pdf.add_page()
        if isinstance(page, Image.Image):
            pdf.image(page, x=0, y=0, w=pdf.w)
        else:
            pdf.multi_cell(0, 8, page)
    path.write_bytes(bytes(pdf.output()))
    return path


@pytest.fixture()
def text_pdf(tmp_path: Path) -> Path:
    return make_pdf(
        tmp_path / "english.pdf", list(EN_PAGES), title="Test Report", author="Ada Lovelace"
    )


@pytest.fixture()
def de_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "deutsch.pdf", list(DE_PAGES), title="Bericht für München")


@pytest.fixture()
def scanned_pdf(tmp_path: Path) -> Path:
    """Image only, as a scanner writes it (Pillow's PDF writer, 300 dpi)."""
    path = tmp_path / "scan.pdf"
    render_lines(SCAN_LINES).convert("RGB").save(path, "PDF", resolution=300)
    return path


@pytest.fixture()
def mixed_pdf(tmp_path: Path) -> Path:
    """Page 1 has a text layer; page 2 is only an image of text."""
    return make_pdf(tmp_path / "mixed.pdf", [EN_PAGES[0], render_lines(SCAN_LINES)])


def damaged(path: Path, name: str, data: bytes) -> Path:
    target = path.parent / name
    target.write_bytes(data)
    return target


@pytest.fixture()
def lost_page_pdf(text_pdf: Path) -> Path:
    """The page tree lost its last kid but still declares 5 pages: pypdf opens it silently."""
    data = text_pdf.read_bytes()
    kids_end = data.index(b"]", data.index(b"/Kids"))
    last_ref = data.rindex(b"\n", 0, kids_end)
    damaged_data = data[:last_ref] + b"]" + b" " * (kids_end - last_ref) + data[kids_end + 1 :]
    assert len(damaged_data) == len(data)  # offsets in the xref table stay valid
    return damaged(text_pdf, "lost-page.pdf", damaged_data)


@pytest.fixture()
def bad_xref_pdf(text_pdf: Path) -> Path:
    """A wrong startxref offset: pypdf rebuilds the xref table and only logs it."""
    data = text_pdf.read_bytes()
    cut = data.rindex(b"startxref")
    return damaged(text_pdf, "bad-xref.pdf", data[:cut] + b"startxref\n99999\n%%EOF\n")


@pytest.fixture()
def truncated_pdf(text_pdf: Path) -> Path:
    data = text_pdf.read_bytes()
    return damaged(text_pdf, "truncated.pdf", data[: len(data) // 2])


@pytest.fixture()
def garbage_pdf(tmp_path: Path) -> Path:
    """Starts like a PDF, then nothing a reader can use."""
    return damaged(tmp_path / "x", "garbage.pdf", b"%PDF-1.7\n" + b"\x00garbage " * 200)


@pytest.fixture()
def not_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "notes.pdf"
    path.write_text("This is a plain text file with a .pdf name.\n")
    return path


def encrypt(source: Path, target: Path, password: str, algorithm: str | None = None) -> Path:
    writer = pypdf.PdfWriter(clone_from=source)
    writer.encrypt(password, algorithm=algorithm)
    with open(target, "wb") as fh:
        writer.write(fh)
    return target


@pytest.fixture()
def encrypted_pdf(text_pdf: Path) -> Path:
    """AES-256, as current tools write it (pypdf needs `cryptography` for it)."""
    return encrypt(text_pdf, text_pdf.parent / "locked.pdf", "s3cret", "AES-256")


@pytest.fixture()
def rc4_pdf(text_pdf: Path) -> Path:
    return encrypt(text_pdf, text_pdf.parent / "locked-rc4.pdf", "s3cret")


@pytest.fixture(scope="session")
def en_pages() -> list[str]:
    return list(EN_PAGES)


@pytest.fixture(scope="session")
def de_pages() -> list[str]:
    return list(DE_PAGES)


@pytest.fixture(scope="session")
def scan_lines() -> list[str]:
    return list(SCAN_LINES)


@pytest.fixture(scope="session")
def pdf_maker():  # type: ignore[no-untyped-def]
    """``pdf_maker(path, pages, title=..., author=...)``; pages are str or PIL images."""
    return make_pdf
