"""Benchmark: pdf pages/s through the worker vs a bare pypdf loop on the same file.

    python plugins/pdf/bench/bench_pdf.py [--pages 300] [--jobs 4] [--repeat 3]

Generates a text PDF (fpdf2, DejaVu), then measures, best of ``--repeat``:

* bare: ``PdfReader(path)`` and ``page.extract_text()`` for every page, ``--jobs`` times in a row;
* worker: ``--jobs`` pdf jobs on the same file submitted to a real SQLite store and processed by
  one in-process worker (``WorkerHarness.run_burst``, process executor, concurrency 1), from the
  first submit to the last job completed: claim, child process, page files, results, store writes.

Overhead = worker time / bare time - 1 (the issue's target: under 20%).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PARAGRAPH = (
    "Background jobs are claimed atomically, leased, heartbeated and retried with "
    "backoff. Größere Änderungen übernehmen wir im Frühjahr. "
) * 6


def make_pdf(path: Path, pages: int) -> Path:
    from fpdf import FPDF  # here, not at the top: the worker's spawned child re-imports __main__

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=10)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {number}\n" + "\n\n".join([PARAGRAPH] * 4))
    path.write_bytes(bytes(pdf.output()))
    return path


def bare(path: Path, jobs: int) -> float:
    start = time.perf_counter()
    for _ in range(jobs):
        reader = PdfReader(path)
        for page in reader.pages:
            page.extract_text()
    return time.perf_counter() - start


def through_worker(path: Path, jobs: int, work: Path) -> float:
    import worker_plugin_pdf
    from jobworker.testing import WorkerHarness

    with WorkerHarness(
        work,
        plugins=[worker_plugin_pdf],
        input_roots=[path.parent],
        concurrency=1,
        poll_interval=0.01,
    ) as harness:
        start = time.perf_counter()
        ids = [harness.client.submit("pdf", {"file_path": str(path)}).job_id for _ in range(jobs)]
        harness.run_burst()
        elapsed = time.perf_counter() - start
        for job_id in ids:
            job = harness.client.get(job_id)
            assert job is not None and job.status.value == "completed", job and job.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        path = make_pdf(root / "in" / "bench.pdf", args.pages)
        assert len(PdfReader(path).pages) == args.pages
        size_kib = path.stat().st_size // 1024
        total = args.pages * args.jobs
        bare_s = min(bare(path, args.jobs) for _ in range(args.repeat))
        worker_s = min(through_worker(path, args.jobs, root / f"w{i}") for i in range(args.repeat))
    print(
        f"file: {args.pages} text pages ({size_kib} KiB), "
        f"{args.jobs} jobs, best of {args.repeat}, python {sys.version.split()[0]}"
    )
    print(f"bare pypdf loop : {bare_s:7.2f} s  {total / bare_s:7.1f} pages/s")
    print(f"through worker  : {worker_s:7.2f} s  {total / worker_s:7.1f} pages/s")
    print(f"worker overhead : {100 * (worker_s / bare_s - 1):+.1f} %")


if __name__ == "__main__":
    main()
