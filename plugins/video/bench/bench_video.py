"""Benchmark: video thumbnails per second, through the worker vs the bare library call.

    python plugins/video/bench/bench_video.py [--seconds 60] [--jobs 3] [--repeat 2]

Generates a ``--seconds`` long 1280x720 25 fps H.264 video of slides (a new slide and keyframe
every 5 s, a moving square so frames differ), then measures, best of ``--repeat``, for two
thumbnail rules:

* ``count``: 20 evenly spaced frames scaled to 320 px wide, JPEG (each one a seek to the
  keyframe before it and decoding forward);
* ``keyframes``: every keyframe at full size, JPEG (the decoder skips all other frames).

bare: ``api.thumbnails(...)`` + ``api.save_thumbnails(...)``, ``--jobs`` times in a row;
worker: ``--jobs`` video jobs (``operations=["thumbnails"]``) on a real SQLite store run by one
in-process worker (``WorkerHarness.run_burst``, process executor, concurrency 1), first submit
to last completion. Overhead = bare rate / worker rate - 1.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from worker_plugin_video import api
from worker_plugin_video.testing import make_video

COUNT = 20


def bare(path: Path, out: Path, jobs: int, rule: dict) -> tuple[float, int]:
    start = time.perf_counter()
    made = 0
    for i in range(jobs):
        kwargs = (
            {"count": COUNT, "width": 320}
            if rule["thumbnail_mode"] == "count"
            else {"keyframes": True}
        )
        made += len(api.save_thumbnails(api.thumbnails(path, **kwargs), out / f"b{i}"))
    return time.perf_counter() - start, made


def through_worker(path: Path, jobs: int, work: Path, rule: dict) -> tuple[float, int]:
    import worker_plugin_video
    from jobworker.testing import WorkerHarness

    with WorkerHarness(
        work,
        plugins=[worker_plugin_video],
        input_roots=[path.parent],
        concurrency=1,
        poll_interval=0.01,
    ) as harness:
        start = time.perf_counter()
        ids = [
            harness.client.submit(
                "video", {"file_path": str(path), "operations": ["thumbnails"], **rule}
            ).job_id
            for _ in range(jobs)
        ]
        harness.run_burst()
        elapsed = time.perf_counter() - start
        made = 0
        for job_id in ids:
            job = harness.client.get(job_id)
            assert job is not None and job.status.value == "completed", job and job.error
            made += len((job.results or {})["thumbnails"])
    return elapsed, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        slides = [f"Slide {i + 1}" for i in range(max(1, args.seconds // 5))]
        started = time.perf_counter()
        path = make_video(
            root / "in" / "talk.mp4", slides, seconds_per_slide=5.0, fps=25, size=(1280, 720)
        )
        made_in = time.perf_counter() - started
        info = api.probe(path)
        print(
            f"video: {info.duration:.0f} s {info.width}x{info.height} {info.fps:g} fps "
            f"{info.video_codec}, {path.stat().st_size / 1e6:.1f} MB (made in {made_in:.1f} s)"
            f"; {args.jobs} jobs per run, best of {args.repeat}"
        )
        print(f"{'rule':34} {'bare thumbs/s':>14} {'worker thumbs/s':>16} {'overhead':>9}")
        rules = {
            f"count={COUNT}, 320 px, jpeg": {
                "thumbnail_mode": "count",
                "thumbnail_count": COUNT,
                "thumbnail_width": 320,
            },
            "keyframes, full size, jpeg": {"thumbnail_mode": "keyframes"},
        }
        for name, rule in rules.items():
            b_s, b_n = min(bare(path, root, args.jobs, rule) for _ in range(args.repeat))
            w_s, w_n = min(
                through_worker(path, args.jobs, root / f"w{i}", rule) for i in range(args.repeat)
            )
            assert b_n == w_n, (b_n, w_n)
            b, w = b_n / b_s, w_n / w_s
            print(f"{name:34} {b:14.1f} {w:16.1f} {b / w - 1:9.1%}")


if __name__ == "__main__":
    main()
