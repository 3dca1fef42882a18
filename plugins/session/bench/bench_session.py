"""Benchmark: session jobs through a real worker, per step.

    python plugins/session/bench/bench_session.py [--sessions 20] [--video-seconds 30]

Serves generated inputs from a local HTTP server on 127.0.0.1 and runs, on a SQLite store with
one in-process worker (process executor, concurrency 1 as the plugin registers it):

* ``--sessions`` sessions with a page and a 10-page PDF slide deck (no video): sessions per
  second, first submit to last completion;
* one session with a talk video of about ``--video-seconds`` of espeak-ng speech (needs
  espeak-ng, worker-plugin-video, worker-plugin-audio[whisper]): wall seconds and speed
  (x realtime), then the same session again with the transcript cache.

Step timings come from the jobs' own progress (not measured inside the handler).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import worker_plugin_session
import worker_plugin_transform
from jobworker.testing import WorkerHarness
from worker_plugin_session.testing import LOCAL, serve_directory, session_page, slide_deck

PLUGINS = [worker_plugin_session, worker_plugin_transform]


def talk(folder: Path, seconds: float) -> Path:
    from worker_plugin_audio import api as audio
    from worker_plugin_audio.testing import SPEECH_TEXT, speech_wav
    from worker_plugin_video.testing import make_video

    clip = audio.decode(speech_wav(folder / "clip.wav", SPEECH_TEXT))
    speech = clip
    while len(speech) / 1000 < seconds:
        speech += clip
    wav = audio.export(speech, folder / "speech.wav")
    slides = [f"Slide {i + 1}" for i in range(max(1, int(seconds // 10)))]
    return make_video(
        folder / "talk.mp4",
        slides,
        seconds_per_slide=len(speech) / 1000 / len(slides),
        fps=5,
        audio=wav,
    )


def run(base_tmp: Path, jobs: list[dict]) -> tuple[float, list]:
    with WorkerHarness(base_tmp, plugins=PLUGINS, settings={"session": LOCAL}) as h:
        start = time.perf_counter()
        ids = [h.client.submit("session", p).job_id for p in jobs]
        h.run_burst()
        elapsed = time.perf_counter() - start
        return elapsed, [h.client.get(i) for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--video-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jwb-") as tmp:
        root = Path(tmp) / "www"
        root.mkdir()
        (root / "talk.html").write_text(session_page("Open budgets"))
        slide_deck(root / "deck.pdf", [f"Slide {i}: budget line {i}" for i in range(10)])
        with serve_directory(root) as base:
            jobs = [
                {
                    "event": "Bench",
                    "session": f"Talk {i}",
                    "track": "T",
                    "url": f"{base}/talk.html",
                    "attachments_url": f"{base}/deck.pdf",
                }
                for i in range(args.sessions)
            ]
            elapsed, done = run(Path(tmp) / "a", jobs)
            ok = sum(j.status.value == "completed" for j in done)
            print(
                f"page+slides sessions: {ok}/{len(jobs)} completed in {elapsed:.2f} s, "
                f"{len(jobs) / elapsed:.2f} sessions/s"
            )
            if shutil.which("espeak-ng") is None:
                print("video session: skipped (no espeak-ng)")
                return
            video = talk(Path(tmp), args.video_seconds)
            shutil.copy(video, root / "talk.mp4")
            from worker_plugin_video.api import probe

            duration = probe(video).duration
            job = {
                "event": "Bench",
                "session": "Video talk",
                "video_url": f"{base}/talk.mp4",
                "url": f"{base}/talk.html",
            }
            for label in ("video session", "video session (cached)"):
                elapsed, [j] = run(Path(tmp) / "b", [job])
                steps = j.results["structured_data"]["steps"] if j.results else j.error
                print(
                    f"{label}: {j.status.value} in {elapsed:.2f} s for {duration:.1f} s of "
                    f"video ({duration / elapsed:.2f}x realtime); {steps}"
                )


if __name__ == "__main__":
    main()
