"""Hostile PDFs end as typed, non-retried failures of their own job, through a real worker:
a cyclic page tree (PDFium cannot load the page) and a small PDF embedding a 40000 x 40000
image (refused from the image's dictionary, before PDFium would decode it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_ocr
from jobworker import InputTooLarge
from jobworker.testing import WorkerHarness
from worker_plugin_ocr.api import DEFAULT_MAX_PIXELS, render_pdf_pages
from worker_plugin_ocr.testing import cyclic_page_tree_pdf, huge_image_pdf


def run_worker(tmp_path: Path, files: dict[str, Path], settings: dict | None = None) -> dict:  # type: ignore[type-arg]
    """Submit one ``ocr`` job per file (3 attempts allowed) and run a burst worker."""
    with WorkerHarness(
        tmp_path / "jw",
        plugins=[worker_plugin_ocr],
        input_roots=[tmp_path],
        settings={"ocr": settings or {}},
    ) as h:
        ids = {
            name: h.client.submit("ocr", {"file_path": str(path)}, max_attempts=3).job_id
            for name, path in files.items()
        }
        h.run_burst()
        return {name: h.client.get(job_id) for name, job_id in ids.items()}


def test_cyclic_page_tree_fails_typed_and_is_not_retried(tmp_path: Path) -> None:
    pdf = cyclic_page_tree_pdf(tmp_path / "cyclic.pdf")
    job = run_worker(tmp_path, {"cyclic": pdf})["cyclic"]
    assert job.status.value == "failed" and job.attempts == 1
    assert job.error.code == "UNSUPPORTED_INPUT", job.error
    assert "page 2 cannot be read" in job.error.message and job.error.details["page"] == 2


def test_huge_embedded_image_is_refused_before_rendering(tmp_path: Path) -> None:
    pdf = huge_image_pdf(tmp_path / "huge.pdf")
    assert pdf.stat().st_size < 1_000_000
    job = run_worker(tmp_path, {"huge": pdf})["huge"]
    assert job.status.value == "failed" and job.attempts == 1
    assert job.error.code == "INPUT_TOO_LARGE", job.error
    assert "embedded image 1 is 40000x40000" in job.error.message
    assert job.error.details["max_pixels"] == DEFAULT_MAX_PIXELS


def test_embedded_image_limit_follows_max_pixels(tmp_path: Path) -> None:
    pdf = huge_image_pdf(tmp_path / "big.pdf", side=2000)  # 4 Mpx, drawn on a 200 pt page
    with pytest.raises(InputTooLarge, match="embedded image"):
        next(render_pdf_pages(pdf, [1], dpi=72, max_pixels=3_000_000))
    number, image = next(render_pdf_pages(pdf, [1], dpi=72, max_pixels=5_000_000))
    assert number == 1 and image.size == (200, 200)  # under the limit it still renders
