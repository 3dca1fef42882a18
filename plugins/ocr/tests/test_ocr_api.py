"""The OCR library API (worker_plugin_ocr.api) on pages the tests render themselves."""

from __future__ import annotations

import os
import stat

import pypdf
import pytest
from jobworker import DependencyMissing, InputTooLarge, InvalidParameters, UnsupportedInput
from worker_plugin_ocr import api, tesseract
from worker_plugin_ocr.testing import character_error_rate as cer


def test_english_page_character_error_rate_under_2_percent(en_page, en_lines):
    page = api.ocr_image(en_page, "eng")
    assert cer(en_lines, page.text) < 0.02, page.text
    assert page.words == sum(len(line.split()) for line in en_lines)
    assert page.confidence is not None and page.confidence > 80


def test_german_page_with_umlauts_under_2_percent(de_page, de_lines):
    page = api.ocr_image(de_page, "deu")
    assert cer(de_lines, page.text) < 0.02, page.text
    assert "Grüße" in page.text and "Straße" in page.text


def test_multipage_tiff_selected_page_only(tmp_path, en_page, de_page, de_lines):
    path = tmp_path / "two.tif"
    en_page.save(path, save_all=True, append_images=[de_page])
    assert api.count_pages(path) == 2
    pages = api.ocr_file(path, "eng+deu", pages=[2])
    assert [p.page for p in pages] == [2]
    assert cer(de_lines, pages[0].text) < 0.02


def test_jpeg_file_path(tmp_path, en_page, en_lines):
    path = tmp_path / "page.jpg"
    en_page.save(path, quality=90)
    page = api.ocr_image(path, "eng")
    assert cer(en_lines, page.text) < 0.02


def test_scanned_pdf_is_rendered_and_recognised(scanned_pdf, en_lines):
    assert pypdf.PdfReader(scanned_pdf).pages[0].extract_text().strip() == ""  # image only
    (page,) = api.ocr_file(scanned_pdf, "eng")
    assert page.page == 1
    assert cer(en_lines, page.text) < 0.02


def test_hocr_and_searchable_pdf_outputs(en_page):
    page = api.ocr_image(en_page, "eng", formats=["hocr", "pdf"])
    assert page.hocr is not None and b"ocr_page" in page.hocr and b"quick" in page.hocr
    assert page.pdf is not None and page.pdf.startswith(b"%PDF")
    path_text = pypdf.PdfReader(__import__("io").BytesIO(page.pdf)).pages[0].extract_text()
    assert "quick brown fox" in path_text  # the invisible text layer is searchable


def test_plain_text_only_by_default(en_page):
    page = api.ocr_image(en_page, "eng")
    assert page.hocr is None and page.pdf is None


def test_unknown_output_format_refused():
    with pytest.raises(InvalidParameters, match="docx"):
        api.normalise_formats(["docx"])


def test_not_an_image_is_unsupported_input(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("just some text, not pixels\n")
    with pytest.raises(UnsupportedInput):
        api.ocr_file(path, "eng")


def test_truncated_png_is_unsupported_input(tmp_path, en_page):
    path = tmp_path / "cut.png"
    en_page.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedInput, match="decode"):
        api.ocr_file(path, "eng")


def test_decompression_bomb_header_refused_before_decoding(tmp_path, png_bomb):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(40_000, 40_000))  # 1.6 gigapixels in a few hundred bytes
    assert path.stat().st_size < 1000
    with pytest.raises(InputTooLarge) as info:
        api.ocr_file(path, "eng")
    assert info.value.code == "INPUT_TOO_LARGE"


def test_bomb_just_over_pillow_limit_refused(tmp_path, png_bomb):
    # Over MAX_IMAGE_PIXELS but under 2x: Pillow only warns here; we refuse.
    side = int((api.DEFAULT_MAX_PIXELS * 1.2) ** 0.5)
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(side, side))
    with pytest.raises(InputTooLarge, match="decompression bomb"):
        api.ocr_file(path, "eng")


def test_configured_pixel_limit_applies_to_real_images(tmp_path, en_page):
    path = tmp_path / "page.png"
    en_page.save(path)
    with pytest.raises(InputTooLarge):
        api.ocr_file(path, "eng", max_pixels=1000 * 1000)


def test_pdf_page_pixel_limit_checked_before_rendering(scanned_pdf):
    with pytest.raises(InputTooLarge, match="1200 dpi"):
        api.ocr_file(scanned_pdf, "eng", dpi=1200, max_pixels=10_000_000)


def test_unknown_language_is_invalid_parameters(en_page):
    with pytest.raises(InvalidParameters, match="xyz"):
        api.ocr_image(en_page, "eng+xyz")
    with pytest.raises(InvalidParameters):
        api.ocr_image(en_page, "eng; rm -rf /")


def test_known_language_without_data_is_dependency_missing(en_page):
    missing = sorted(tesseract.KNOWN_LANGUAGES - api.installed_languages())[0]
    with pytest.raises(DependencyMissing, match=f"tesseract-ocr-{missing}"):
        api.ocr_image(en_page, missing)


def test_missing_tesseract_binary(en_page, tmp_path):
    cmd = str(tmp_path / "no" / "tesseract")
    reason = api.tesseract_unavailable_reason(cmd)
    assert reason is not None and "not found" in reason
    with pytest.raises(DependencyMissing, match="not found"):
        api.ocr_image(en_page, "eng", tesseract_cmd=cmd)
    assert api.tesseract_unavailable_reason() is None  # the real one is still used afterwards


def test_tesseract_runs_with_omp_thread_limit_1(tmp_path, en_page, monkeypatch):
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")  # even when the worker's environment says else
    seen = tmp_path / "env.txt"
    wrapper = tmp_path / "tesseract-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$OMP_THREAD_LIMIT" >> {seen}\nexec tesseract "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    page = api.ocr_image(en_page, "eng", tesseract_cmd=str(wrapper))
    assert "quick" in page.text
    assert set(seen.read_text().split()) == {"1"}  # --version, --list-langs and the OCR run
    assert os.environ["OMP_THREAD_LIMIT"] == "8"  # our own environment is untouched


def test_page_range_outside_document():
    assert api.select_pages(5, 2, 3) == [2, 3]
    assert api.select_pages(5, None, None) == [1, 2, 3, 4, 5]
    for start, end in ((6, None), (2, 9), (0, 1), (3, 2)):
        with pytest.raises(InvalidParameters, match=r"page_(start|end) "):
            api.select_pages(5, start, end)


def test_encrypted_scan_needs_password(tmp_path, scanned_pdf, en_lines):
    writer = pypdf.PdfWriter(clone_from=scanned_pdf)
    writer.encrypt("secret")  # RC4-128: pypdf needs no extra package for it
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as fh:
        writer.write(fh)
    with pytest.raises(Exception) as info:
        api.ocr_file(locked, "eng")
    assert getattr(info.value, "code", None) == "PDF_ENCRYPTED"
    (page,) = api.ocr_file(locked, "eng", password="secret")
    assert cer(en_lines, page.text) < 0.02


def test_rgba_and_palette_images(tmp_path, en_page):
    for mode in ("RGBA", "P", "LA"):
        path = tmp_path / f"page-{mode}.png"
        en_page.convert(mode).save(path)
        (page,) = api.ocr_file(path, "eng")
        assert "quick brown fox" in page.text, mode
