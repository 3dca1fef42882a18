"""The ``ocr`` job type through a real worker (jobworker.testing, process executor)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pypdf
import worker_plugin_ocr
from jobworker.testing import run_handler


def run(tmp_path: Path, params: dict, *, settings: dict | None = None, input_roots=None):  # type: ignore[no-untyped-def]
    return run_handler(
        "ocr",
        params,
        plugins=[worker_plugin_ocr],
        tmp_path=tmp_path / "jw",
        input_roots=input_roots or [tmp_path],
        settings=settings or {},
    )


def assert_failed(result, code: str) -> None:  # type: ignore[no-untyped-def]
    assert result.status.value == "failed", result.results
    assert result.error is not None and result.error.code == code, result.error
    assert "Traceback" not in result.error.message


def test_png_page_text_and_confidence(tmp_path, en_page, en_lines):
    en_page.save(tmp_path / "page.png")
    result = run(tmp_path, {"file_path": "page.png"})
    assert result.status.value == "completed", result.error
    res = result.results
    (text_file,) = res["page_texts"]
    assert Path(text_file).name == "page_001.txt"
    assert "quick brown fox" in Path(text_file).read_text()
    (page,) = res["structured_data"]["pages"]
    assert page["page"] == 1 and page["confidence"] > 80
    assert page["words"] == sum(len(line.split()) for line in en_lines)
    assert res["structured_data"]["languages"] == "eng"
    assert Path(res["target_dir"]).parent == tmp_path / "jw" / "output"
    assert res["assets"] == []  # plain text only unless asked
    assert [p.step for p in result.progress][-1] == "postprocessing"


def test_languages_as_a_list(tmp_path, en_page):
    """``"languages": ["ENG"]`` (the list form the parameters class accepts) reaches the
    plugin's converter as a list through a real submit, not as the text "['ENG']"."""
    en_page.save(tmp_path / "page.png")
    result = run(tmp_path, {"file_path": "page.png", "languages": ["ENG"]})
    assert result.status.value == "completed", result.error
    assert result.results["structured_data"]["languages"] == "eng"


def test_tiff_range_hocr_and_searchable_pdf(tmp_path, en_page, de_page, render):
    third = render(["A third page that is not selected."])
    en_page.save(tmp_path / "pages.tif", save_all=True, append_images=[de_page, third])
    result = run(
        tmp_path,
        {
            "filename": "pages.tif",
            "languages": "eng+deu",
            "extra": {"page_start": 1, "page_end": 2},
            "output_formats": ["hocr", "pdf"],
        },
    )
    assert result.status.value == "completed", result.error
    sd = result.results["structured_data"]
    assert [p["page"] for p in sd["pages"]] == [1, 2] and sd["page_count"] == 3
    assert "Grüße" in sd["pages"][1]["text"]
    assets = [Path(a) for a in result.results["assets"]]
    assert sorted(a.name for a in assets) == ["page_001.hocr", "page_002.hocr", "searchable.pdf"]
    assert b"ocrx_word" in assets[0].read_bytes()
    reader = pypdf.PdfReader(sd["searchable_pdf"])
    assert len(reader.pages) == 2
    assert "München" in reader.pages[1].extract_text()  # the text layer is searchable
    percents = [p.percent for p in result.progress]
    assert percents == sorted(percents)
    assert sum(1 for p in result.progress if (p.message or "").startswith("page ")) == 2


def test_scanned_pdf_input(tmp_path, scanned_pdf):
    result = run(tmp_path, {"file_path": str(scanned_pdf)})
    assert result.status.value == "completed", result.error
    assert "lazy dog" in result.results["structured_data"]["text"]


def test_not_an_image(tmp_path):
    (tmp_path / "a.jpg").write_text("not a jpeg")
    assert_failed(run(tmp_path, {"file_path": "a.jpg"}), "UNSUPPORTED_INPUT")


def test_decompression_bomb(tmp_path, png_bomb):
    (tmp_path / "bomb.png").write_bytes(png_bomb(30_000, 30_000))
    result = run(tmp_path, {"file_path": "bomb.png"})
    assert_failed(result, "INPUT_TOO_LARGE")


def test_pixel_limit_setting(tmp_path, en_page):
    en_page.save(tmp_path / "page.png")
    result = run(tmp_path, {"file_path": "page.png"}, settings={"max_pixels": 100_000})
    assert_failed(result, "INPUT_TOO_LARGE")


def test_languages_refused_at_submit(tmp_path, en_page):
    en_page.save(tmp_path / "page.png")
    for languages in ("xyz", "eng+", "fra" if "fra" not in _installed() else "xyz", "../eng"):
        result = run(tmp_path, {"file_path": "page.png", "languages": languages})
        assert_failed(result, "INVALID_PARAMETERS")
        assert result.progress == []


def _installed() -> set[str]:
    from worker_plugin_ocr.tesseract import installed_languages

    return set(installed_languages())


def test_page_range_outside(tmp_path, en_page):
    en_page.save(tmp_path / "page.png")
    result = run(tmp_path, {"file_path": "page.png", "page_start": 2})
    assert_failed(result, "INVALID_PARAMETERS")


def test_missing_and_forbidden_input(tmp_path, en_page):
    assert_failed(run(tmp_path, {"file_path": "nope.png"}), "INPUT_NOT_FOUND")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    en_page.save(tmp_path / "page.png")
    assert_failed(
        run(tmp_path, {"file_path": str(tmp_path / "page.png")}, input_roots=[inbox]),
        "INPUT_FORBIDDEN",
    )


def test_tesseract_missing_is_a_clear_job_error(tmp_path, en_page):
    en_page.save(tmp_path / "page.png")
    result = run(
        tmp_path,
        {"file_path": "page.png"},
        settings={"tesseract_cmd": str(tmp_path / "bin" / "tesseract")},
    )
    assert_failed(result, "DEPENDENCY_MISSING")
    assert "not found" in result.error.message


def _plugins_json(tmp_path: Path, path: str) -> dict:  # type: ignore[type-arg]
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": path, "JOBWORKER_PLUGINS": "worker-plugin-ocr"}
    proc = subprocess.run(
        [str(venv_bin / "jobworker"), "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (ocr,) = [p for p in json.loads(proc.stdout) if "ocr" in p["job_types"]]
    return ocr  # type: ignore[no-any-return]


def test_plugins_command_reports_ocr_unavailable_without_tesseract(tmp_path):
    without = _plugins_json(tmp_path, str(Path(sys.executable).parent))  # no /usr/bin
    assert without["available"] is False
    assert "tesseract" in without["unavailable"]["ocr"]
    assert "not found" in without["unavailable"]["ocr"]
    with_tesseract = _plugins_json(tmp_path, os.environ["PATH"])
    assert with_tesseract["available"] is True and with_tesseract["unavailable"] == {}
