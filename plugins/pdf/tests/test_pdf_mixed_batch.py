"""A mixed batch (text PDFs, scanned PDFs, images) through the real CLI: `jobworker run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("worker_plugin_ocr")


def jobworker(cwd: Path, *args: str) -> str:
    exe = Path(sys.executable).parent / "jobworker"
    env = {**os.environ, "JOBWORKER_PLUGINS": "worker-plugin-pdf,worker-plugin-ocr"}
    env.pop("JOBWORKER_STORE", None)
    env.pop("JOBWORKER_CONFIG", None)
    proc = subprocess.run(
        [str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_mixed_batch_end_to_end(
    tmp_path, text_pdf, de_pdf, scanned_pdf, mixed_pdf, not_pdf, pdf_maker
):
    from PIL import Image, ImageDraw, ImageFont

    inbox = tmp_path  # the fixtures live here
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 46)
    page = Image.new("L", (2480, 400), 255)
    ImageDraw.Draw(page).text((150, 150), "Scanned receipt number 1234", font=font, fill=0)
    page.save(inbox / "receipt.png")
    page.save(inbox / "receipt.jpg", quality=90)
    page.save(inbox / "receipt.tif", save_all=True, append_images=[page])
    (tmp_path / "jobworker.toml").write_text(
        'store = "sqlite:///jobs.db"\n'
        "[worker]\nconcurrency = 2\npoll_interval = 0.1\n"
        f'[paths]\ninput_roots = ["{inbox}"]\noutput_root = "{tmp_path / "out"}"\n'
        "[plugins.pdf]\nmax_pages = 50\n"
    )
    jobs = [
        ("pdf", {"file_path": "english.pdf"}),
        ("pdf", {"filename": str(de_pdf), "extra": {"page_start": 2}}),
        ("pdf", {"file_path": "scan.pdf", "extraction_method": "auto"}),
        ("pdf", {"file_path": "mixed.pdf", "extraction_method": "auto"}),
        ("pdf", {"file_path": "notes.pdf"}),  # not a PDF: fails, the rest goes on
        ("ocr", {"file_path": "receipt.png"}),
        ("ocr", {"file_path": "receipt.jpg"}),
        ("ocr", {"file_path": "receipt.tif", "output_formats": ["pdf"]}),
        ("ocr", {"file_path": "scan.pdf", "languages": "eng"}),
    ]
    spec = tmp_path / "jobs.jsonl"
    spec.write_text("\n".join(json.dumps({"job_type": t, "parameters": p}) for t, p in jobs))
    batch_id = jobworker(tmp_path, "batch", "submit", str(spec)).strip()
    jobworker(tmp_path, "run", "--burst")
    status = json.loads(jobworker(tmp_path, "batch", "status", batch_id, "--json"))
    assert (status["total_jobs"], status["completed_jobs"], status["failed_jobs"]) == (9, 8, 1)
    listed = json.loads(jobworker(tmp_path, "list", "--batch", batch_id, "--limit", "20", "--json"))
    by_file = {}
    for row in listed:
        job = json.loads(jobworker(tmp_path, "status", row["job_id"], "--json"))
        params = job["parameters"]
        source = params.get("filename") or params.get("file_path")  # as given
        by_file[(job["job_type"], Path(source).name)] = job
    assert by_file[("pdf", "notes.pdf")]["error"]["code"] == "UNSUPPORTED_INPUT"
    german = by_file[("pdf", "deutsch.pdf")]["results"]
    assert "Änderungen" in german["structured_data"]["data"]["extracted_text"]
    assert len(german["page_texts"]) == 1
    scan = by_file[("pdf", "scan.pdf")]["results"]["structured_data"]["data"]
    assert scan["metadata"]["pages"][0]["method"] == "ocr"
    assert "lazy dog" in scan["extracted_text"]
    for name in ("receipt.png", "receipt.jpg", "receipt.tif"):
        text = by_file[("ocr", name)]["results"]["structured_data"]["text"]
        assert "receipt number 1234" in text, (name, text)
    assert Path(by_file[("ocr", "receipt.tif")]["results"]["assets"][0]).name == "searchable.pdf"
    for job in by_file.values():
        for text_file in (job.get("results") or {}).get("page_texts", []):
            assert Path(text_file).is_relative_to(tmp_path / "out")
