"""Installed plugins load light: their heavy libraries are imported when a job of theirs runs.

Each check runs in a fresh interpreter (tests/support/lazy_probe.py) that loads every installed
plugin the way a worker does (entry points, ``Plugins.load``).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).parent / "support" / "lazy_probe.py"
PLUGINS = {"audio", "ocr", "pdf", "session", "transform", "video"}


def probe(*args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    out = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_loading_every_plugin_imports_no_heavy_library() -> None:
    """Loading, listing and checking every plugin, calling its register hooks, building its
    parameters' JSON schema and validating parameters import none of the heavy libraries."""
    got = probe("load")
    assert got["problems"] == []
    assert set(got["plugins"]) >= PLUGINS, "a plugin is not installed here"
    assert got["plugins"]["ocr"]["unavailable"] == {}  # its check (tesseract) ran, light
    assert got["heavy"] == []
    assert got["schemas"] == got["server"]  # the server's own Jinja2 and PyYAML, nothing more


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(struct.pack("<8000h", *([0, 3000, 0, -3000] * 2000)))
    return path


def _pdf(path: Path) -> Path:
    from worker_plugin_ocr.testing import raw_pdf

    text = b"BT /F1 24 Tf 20 100 Td (Lazy plugins) Tj ET"
    path.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
                b"/Resources << /Font << /F1 5 0 R >> >> >>",
                b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            ]
        )
    )
    return path


def _png(path: Path) -> Path:
    from worker_plugin_video.testing import slide_image

    slide_image("Lazy plugins").save(path)
    return path


def _video(path: Path) -> Path:
    from worker_plugin_video.testing import make_video

    return make_video(path, ("Lazy",), seconds_per_slide=1.0)


# job type -> (input maker, parameters, the heavy libraries its first job must import)
JOBS: dict[str, tuple[Any, dict[str, Any], set[str]]] = {
    "audio": (_wav, {"operations": ["metadata"]}, {"av", "numpy"}),
    "video": (_video, {"operations": ["metadata"]}, {"av"}),
    "pdf": (_pdf, {}, {"pypdf"}),
    "ocr": (_png, {}, {"pytesseract", "PIL", "pypdfium2"}),
    "transform": (None, {"text": "Hi", "template_content": "{{ text }}!"}, {"jinja2"}),
    "session": (None, {"event": "Conf", "session": "Lazy plugins"}, {"jinja2"}),
}


@pytest.mark.parametrize("job_type", sorted(JOBS))
def test_a_job_imports_its_heavy_libraries_when_it_runs(job_type: str, tmp_path: Path) -> None:
    """Before the job, after its submission (parameters validated): none; after it ran: its own
    (laziness, not removal)."""
    make, params, needs = JOBS[job_type]
    if make is not None:
        suffix = {"audio": ".wav", "video": ".mp4", "pdf": ".pdf", "ocr": ".png"}[job_type]
        params = {**params, "file_path": str(make(tmp_path / f"input{suffix}"))}
    got = probe("run", job_type, json.dumps(params), str(tmp_path))
    assert got["before"] == [] and got["submitted"] == []
    assert (got["status"], got["error"]) == ("completed", None)
    assert needs <= set(got["after"]), got["after"]
