"""Benchmark: OCR pages/s with 1 and 2 processes, and what OMP_THREAD_LIMIT=1 changes.

    python plugins/ocr/bench/bench_ocr.py [--pages 6] [--worker]

Renders ``--pages`` full A4 pages at 300 dpi (2480 x 3508 px, 11 pt DejaVu text, about 45 lines
each), then OCRs all of them with ``worker_plugin_ocr.api.ocr_file`` in a pool of 1 and of 2
processes, with the plugin's ``OMP_THREAD_LIMIT=1`` and, for comparison, with tesseract's own
OpenMP threading (the variable left to the environment). ``--worker`` also runs the pages as
``ocr`` jobs through a real worker (WorkerHarness, process executor) with concurrency 1 and 2.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = [
    "background",
    "jobs",
    "are",
    "claimed",
    "atomically",
    "leased",
    "heartbeated",
    "and",
    "retried",
    "with",
    "backoff",
    "Größere",
    "Änderungen",
    "übernehmen",
    "wir",
    "im",
    "Frühjahr",
    "invoice",
    "2024",
    "total",
    "1,234.56",
    "EUR",
]


def make_page(path: Path, seed: int) -> Path:
    font = ImageFont.truetype(FONT, 46)
    img = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(img)
    for line in range(45):
        words = [WORDS[(seed * 7 + line * 3 + i) % len(WORDS)] for i in range(9)]
        draw.text((200, 200 + line * 68), " ".join(words), font=font, fill=0)
    img.save(path)
    return path


def _init(omp_limit: bool) -> None:
    import pytesseract.pytesseract as pt
    import worker_plugin_ocr.api  # noqa: F401 - installs its environment first

    if not omp_limit:  # undo it: tesseract's default, as many OpenMP threads as cores
        os.environ.pop("OMP_THREAD_LIMIT", None)
        pt.environ = os.environ
    assert ("OMP_THREAD_LIMIT" in pt.environ) == omp_limit


def _ocr(path: str) -> tuple[int, float]:
    """OCR one page; its text length and the CPU seconds tesseract used for it."""
    from worker_plugin_ocr.api import ocr_file

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    chars = sum(len(p.text) for p in ocr_file(path, "eng"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return chars, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pool_rate(paths: list[Path], processes: int, omp_limit: bool) -> tuple[float, float]:
    """Pages/s and tesseract CPU seconds per page."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes, initializer=_init, initargs=(omp_limit,)) as pool:
        pool.map(_ocr, [str(paths[0])] * processes)  # warm up: imports, language data
        start = time.perf_counter()
        done = pool.map(_ocr, [str(p) for p in paths], chunksize=1)
        elapsed = time.perf_counter() - start
    assert all(chars > 1000 for chars, _cpu in done)
    return len(paths) / elapsed, sum(cpu for _chars, cpu in done) / len(paths)


def worker_rate(paths: list[Path], concurrency: int, work: Path) -> float:
    import worker_plugin_ocr
    from jobworker.testing import WorkerHarness

    with WorkerHarness(
        work,
        plugins=[worker_plugin_ocr],
        input_roots=[paths[0].parent],
        concurrency=concurrency,
        poll_interval=0.01,
    ) as harness:
        start = time.perf_counter()
        ids = [harness.client.submit("ocr", {"file_path": str(p)}).job_id for p in paths]
        harness.run_burst()
        elapsed = time.perf_counter() - start
        for job_id in ids:
            job = harness.client.get(job_id)
            assert job is not None and job.status.value == "completed", job and job.error
    return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        paths = [make_page(root / "in" / f"page{i}.png", i) for i in range(args.pages)]
        print(
            f"{args.pages} A4 pages at 300 dpi, eng, cores: {os.cpu_count()}, "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        rates = {}
        for omp_limit in (True, False):
            for processes in (1, 2):
                rate, cpu = pool_rate(paths, processes, omp_limit)
                rates[(omp_limit, processes)] = rate
                label = "OMP_THREAD_LIMIT=1" if omp_limit else "OpenMP default   "
                print(
                    f"{label}  {processes} process(es): {rate:5.2f} pages/s "
                    f"({1 / rate:5.2f} s/page wall, {cpu:5.2f} s/page tesseract CPU)"
                )
        print(f"speed-up 2 vs 1 process with the limit: {rates[(True, 2)] / rates[(True, 1)]:.2f}x")
        if args.worker:
            for concurrency in (1, 2):
                rate = worker_rate(paths, concurrency, root / f"w{concurrency}")
                print(f"worker, concurrency {concurrency}: {rate:5.2f} pages/s")


if __name__ == "__main__":
    main()
