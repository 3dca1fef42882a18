"""The ``pdf`` job type through a real worker (jobworker.testing, process executor)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import worker_plugin_pdf
from jobworker import JobHandler, hookimpl
from jobworker.testing import run_handler
from worker_plugin_ocr.testing import cyclic_page_tree_pdf, huge_image_pdf
from worker_plugin_pdf.handler import PdfParams, handle_pdf


def run(
    tmp_path: Path, params: dict, *, settings: dict | None = None, plugins=None, input_roots=None
):  # type: ignore[no-untyped-def]
    return run_handler(
        "pdf",
        params,
        plugins=plugins or [worker_plugin_pdf],
        tmp_path=tmp_path / "jw",
        input_roots=input_roots or [tmp_path],
        settings=settings or {},
    )


def assert_failed(result, code: str) -> None:  # type: ignore[no-untyped-def]
    assert result.status.value == "failed", result.results
    assert result.error is not None and result.error.code == code, result.error
    assert "Traceback" not in result.error.message


def test_legacy_shape_page_range_template_context(tmp_path, text_pdf, en_pages):
    result = run(
        tmp_path,
        {
            "filename": str(text_pdf),
            "template": "Summary",
            "context": {"event": "FOSDEM"},
            "extra": {"page_start": 2, "page_end": 4},
        },
    )
    assert result.status.value == "completed", result.error
    res = result.results
    assert [Path(p).name for p in res["page_texts"]] == [
        "page_002.txt",
        "page_003.txt",
        "page_004.txt",
    ]
    assert [Path(p).read_text().strip() for p in res["page_texts"]] == en_pages[1:4]
    out = Path(res["target_dir"])
    assert res["asset_dir"] == str(out) and out.is_dir() and res["assets"] == []
    assert out.parent == tmp_path / "jw" / "output"  # under the output root
    assert res["context"] == {"event": "FOSDEM"} and res["template"] == "Summary"
    sd = res["structured_data"]
    assert sd["status"] == "success" and sd["error"] is None
    assert sd["request"]["template"] == "Summary"
    meta = sd["data"]["metadata"]
    assert (meta["title"], meta["author"], meta["page_count"]) == ("Test Report", "Ada Lovelace", 5)
    assert [(p["page"], p["method"]) for p in meta["pages"]] == [
        (2, "native"),
        (3, "native"),
        (4, "native"),
    ]
    assert sd["data"]["extracted_text"].split("\n\n") == en_pages[1:4]
    assert res["warnings"] == [] and sd["data"]["warnings"] == []
    # progress: per page, never backwards, ending in postprocessing
    percents = [p.percent for p in result.progress]
    assert percents == sorted(percents)
    assert [p.message for p in result.progress if p.message and p.message.startswith("page ")] == [
        "page 2 (1/3)",
        "page 3 (2/3)",
        "page 4 (3/3)",
    ]
    assert result.progress[-1].step == "postprocessing"


def test_extra_file_path_legacy_key(tmp_path, de_pdf, de_pages):
    result = run(tmp_path, {"extra": {"file_path": str(de_pdf)}})
    assert result.status.value == "completed", result.error
    assert result.results["structured_data"]["data"]["extracted_text"].split("\n\n") == de_pages


def test_auto_method_and_images(tmp_path, mixed_pdf):
    result = run(
        tmp_path, {"file_path": "mixed.pdf", "extraction_method": "auto", "include_images": True}
    )
    assert result.status.value == "completed", result.error
    pages = result.results["structured_data"]["data"]["metadata"]["pages"]
    assert [p["method"] for p in pages] == ["native", "ocr"]
    assert pages[1]["ocr_confidence"] > 80
    assert "Invoice number 4711" in Path(result.results["page_texts"][1]).read_text()
    (asset,) = result.results["assets"]
    assert Path(asset).is_file() and Path(asset).parent.name == "images"


def test_damaged_pdf_completes_with_warnings(tmp_path, lost_page_pdf):
    result = run(tmp_path, {"file_path": str(lost_page_pdf)})
    assert result.status.value == "completed", result.error
    assert len(result.results["page_texts"]) == 4
    (warning,) = result.results["warnings"]
    assert "declares 5 pages but only 4" in warning
    assert result.results["structured_data"]["data"]["warnings"] == [warning]
    assert ("warning", warning) in result.logs


def test_repaired_xref_warnings_are_capped(tmp_path, bad_xref_pdf):
    full = run(tmp_path, {"file_path": str(bad_xref_pdf)})
    assert full.status.value == "completed", full.error
    assert len(full.results["warnings"]) >= 2
    assert any("startxref" in w for w in full.results["warnings"])
    capped = run(tmp_path, {"file_path": str(bad_xref_pdf)}, settings={"max_warnings": 1})
    first, last = capped.results["warnings"]
    assert first == full.results["warnings"][0]
    assert last == f"... and {len(full.results['warnings']) - 1} more warning(s) not listed"
    assert [m for level, m in capped.logs if level == "warning"] == [first, last]


def test_encrypted_with_password_completes(tmp_path, encrypted_pdf, en_pages):
    result = run(tmp_path, {"file_path": str(encrypted_pdf), "password": "s3cret"})
    assert result.status.value == "completed", result.error
    assert result.results["structured_data"]["data"]["metadata"]["encrypted"] is True
    assert Path(result.results["page_texts"][0]).read_text().strip() == en_pages[0]


@pytest.mark.parametrize("password", [None, "wrong"])
def test_encrypted_without_right_password(tmp_path, encrypted_pdf, password):
    result = run(tmp_path, {"file_path": str(encrypted_pdf), "password": password})
    assert_failed(result, "PDF_ENCRYPTED")


def test_missing_file(tmp_path):
    assert_failed(run(tmp_path, {"file_path": "nope.pdf"}), "INPUT_NOT_FOUND")


def test_path_outside_input_roots(tmp_path, text_pdf):
    inside = tmp_path / "inbox"
    inside.mkdir()
    assert_failed(
        run(tmp_path, {"file_path": str(text_pdf)}, input_roots=[inside]), "INPUT_FORBIDDEN"
    )
    assert_failed(
        run(tmp_path, {"file_path": "../english.pdf"}, input_roots=[inside]), "INPUT_FORBIDDEN"
    )
    (inside / "link.pdf").symlink_to(text_pdf)  # a link out of the roots is refused too
    assert_failed(run(tmp_path, {"file_path": "link.pdf"}, input_roots=[inside]), "INPUT_FORBIDDEN")


def test_not_a_pdf(tmp_path, not_pdf):
    assert_failed(run(tmp_path, {"file_path": str(not_pdf)}), "UNSUPPORTED_INPUT")


@pytest.mark.parametrize("fixture", ["truncated_pdf", "garbage_pdf"])
def test_truncated_or_corrupt(tmp_path, request, fixture):
    path = request.getfixturevalue(fixture)
    result = run(tmp_path, {"file_path": str(path)})
    assert_failed(result, "UNSUPPORTED_INPUT")
    assert result.error.details["reason"] == "corrupt"


@pytest.mark.parametrize("method", ["native", "ocr"])
def test_cyclic_page_tree_is_typed(tmp_path, method):
    pdf = cyclic_page_tree_pdf(tmp_path / "cyclic.pdf")
    result = run(tmp_path, {"file_path": str(pdf), "extraction_method": method})
    assert_failed(result, "UNSUPPORTED_INPUT")
    assert "cyclic" in result.error.message


def test_ocr_of_a_page_embedding_a_huge_image_is_refused(tmp_path):
    pdf = huge_image_pdf(tmp_path / "huge.pdf")  # 40000 x 40000 pixels, about 200 KB
    result = run(tmp_path, {"file_path": str(pdf), "extraction_method": "ocr"})
    assert_failed(result, "INPUT_TOO_LARGE")
    assert "embedded image 1 is 40000x40000" in result.error.message


def test_page_range_out_of_bounds(tmp_path, text_pdf):
    result = run(tmp_path, {"file_path": str(text_pdf), "page_start": 4, "page_end": 9})
    assert_failed(result, "INVALID_PARAMETERS")
    assert result.error.details["page_count"] == 5


def test_refused_at_submit(tmp_path, text_pdf):
    for params in (
        {"file_path": str(text_pdf), "page_start": 3, "page_end": 2},
        {"file_path": str(text_pdf), "page_start": 0},
        {"file_path": str(text_pdf), "extraction_method": "llm"},
        {"file_path": str(text_pdf), "extraction_method": 5},  # the converter gets the JSON value
        {"file_path": str(text_pdf), "languages": "klingon"},
        {"file_path": str(text_pdf), "pagestart": 2},
        {},
    ):
        result = run(tmp_path, params)
        assert_failed(result, "INVALID_PARAMETERS")
        assert result.progress == []  # never reached a worker


def test_file_over_size_limit(tmp_path, text_pdf):
    result = run(tmp_path, {"file_path": str(text_pdf)}, settings={"max_bytes": 1000})
    assert_failed(result, "INPUT_TOO_LARGE")
    assert result.error.details["max_bytes"] == 1000


def test_too_many_pages(tmp_path, text_pdf):
    result = run(tmp_path, {"file_path": str(text_pdf)}, settings={"max_pages": 3})
    assert_failed(result, "INPUT_TOO_LARGE")
    ok = run(
        tmp_path, {"file_path": str(text_pdf), "page_start": 3}, settings={"max_pages": 3}
    )  # a page range within the limit is fine
    assert ok.status.value == "completed", ok.error


def test_url_refused_unless_allowed(tmp_path):
    for params in (
        {"url": "https://example.org/a.pdf"},
        {"filename": "https://example.org/a.pdf"},
    ):  # legacy: URL in filename
        result = run(tmp_path, params)
        assert_failed(result, "INPUT_FORBIDDEN")
        assert "allow_urls" in result.error.message


def test_url_download_through_the_safe_downloader(tmp_path, text_pdf):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(text_pdf.parent))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{text_pdf.name}"
        refused = run(tmp_path / "a", {"url": url}, settings={"allow_urls": True})
        assert_failed(refused, "INPUT_FORBIDDEN")  # loopback, not allow-listed
        ok = run(
            tmp_path / "b",
            {"url": url, "page_start": 2, "page_end": 2},
            settings={"allow_urls": True, "allow_private": ["127.0.0.1/32"]},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert ok.status.value == "completed", ok.error
    assert len(ok.results["page_texts"]) == 1
    assert ok.results["structured_data"]["data"]["extracted_text"].strip()


def test_ocr_without_tesseract_is_dependency_missing(tmp_path, scanned_pdf):
    result = run(
        tmp_path,
        {"file_path": str(scanned_pdf), "extraction_method": "ocr"},
        settings={"tesseract_cmd": str(tmp_path / "bin" / "tesseract")},
    )
    assert_failed(result, "DEPENDENCY_MISSING")
    assert "tesseract" in result.error.message


class ThreadPdf:
    """The same handler in the worker's own process, so an import can be made to fail."""

    @hookimpl
    def register_job_handlers(self, register):  # type: ignore[no-untyped-def]
        register(JobHandler("pdf", handle_pdf, params=PdfParams, executor="thread"))


def test_ocr_without_ocr_plugin_is_dependency_missing(tmp_path, scanned_pdf, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("worker_plugin_ocr")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "worker_plugin_ocr", None)
    result = run(
        tmp_path, {"file_path": str(scanned_pdf), "extraction_method": "ocr"}, plugins=[ThreadPdf()]
    )
    assert_failed(result, "DEPENDENCY_MISSING")
    assert "worker-plugin-pdf[ocr]" in result.error.message
