"""Benchmark: audio conversion and transcription speed (x realtime), worker vs bare library call.

    python plugins/audio/bench/bench_audio.py [--seconds 120] [--jobs 3] [--repeat 2]

Generates a recording of ``--seconds`` of espeak-ng speech with short pauses (WAV, 22.05 kHz
mono; needs apt's espeak-ng), then measures, best of ``--repeat``:

* convert, bare: ``api.convert(wav -> mp3 128k)``, ``--jobs`` times in a row;
* convert, worker: ``--jobs`` audio jobs (``operations=["convert"]``) submitted to a real SQLite
  store and run by one in-process worker (``WorkerHarness.run_burst``, process executor,
  concurrency 1), first submit to last completion;
* transcribe, bare: ``api.transcribe(wav, "whisper")`` with the model already loaded;
* transcribe, worker: ``--jobs`` jobs (``operations=["transcribe"]``); the child process loads
  the model once and keeps it for the following jobs.

Speed = seconds of audio processed / wall seconds ("x realtime"). Overhead = bare speed /
worker speed - 1. Also printed: word error rate of the transcript against the spoken text.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from worker_plugin_audio import api
from worker_plugin_audio.testing import SENTENCES, silence, speech_wav, word_error_rate


def make_recording(directory: Path, seconds: float) -> tuple[Path, str]:
    """The ``SENTENCES`` spoken in turn, 0.7 s pauses between, until ``seconds`` are filled."""
    clips = [api.decode(speech_wav(directory / "clip.wav", text)) for text in SENTENCES]
    gap = silence(0.7, rate=clips[0].frame_rate)
    audio, text = clips[0][:0], []
    while len(audio) / 1000 < seconds:
        i = len(text) % len(SENTENCES)
        audio += clips[i] + gap
        text.append(SENTENCES[i])
    path = api.export(audio, directory / "recording.wav")
    (directory / "clip.wav").unlink()
    return path, " ".join(text)


def bare_convert(path: Path, out: Path, jobs: int) -> float:
    start = time.perf_counter()
    for i in range(jobs):
        api.convert(path, out / f"bare-{i}.mp3", bitrate="128k")
    return time.perf_counter() - start


def bare_transcribe(path: Path, jobs: int) -> tuple[float, str]:
    api.transcribe(path, "whisper", {}, chunk_seconds=5)  # load the model, warm the caches
    start = time.perf_counter()
    text = ""
    for _ in range(jobs):
        text = api.transcribe(path, "whisper", {})["text"]
    return time.perf_counter() - start, text


def through_worker(path: Path, jobs: int, work: Path, params: dict) -> tuple[float, dict]:
    import worker_plugin_audio
    from jobworker.testing import WorkerHarness

    with WorkerHarness(
        work,
        plugins=[worker_plugin_audio],
        input_roots=[path.parent],
        concurrency=1,
        poll_interval=0.01,
    ) as harness:
        start = time.perf_counter()
        ids = [
            harness.client.submit("audio", {"file_path": str(path), **params}).job_id
            for _ in range(jobs)
        ]
        harness.run_burst()
        elapsed = time.perf_counter() - start
        results = {}
        for job_id in ids:
            job = harness.client.get(job_id)
            assert job is not None and job.status.value == "completed", job and job.error
            results = job.results or {}
    return elapsed, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        path, spoken = make_recording(root / "in", args.seconds)
        duration = api.probe(path).duration or 0.0
        audio_s = duration * args.jobs
        rows = []

        conv_bare = min(bare_convert(path, root, args.jobs) for _ in range(args.repeat))
        conv_worker = min(
            through_worker(
                path,
                args.jobs,
                root / f"w{i}",
                {"operations": ["convert"], "format": "mp3", "bitrate": "128k"},
            )[0]
            for i in range(args.repeat)
        )
        rows.append(("convert wav->mp3 128k", conv_bare, conv_worker))

        tr_bare, text = min(bare_transcribe(path, args.jobs) for _ in range(args.repeat))
        runs = [
            through_worker(path, args.jobs, root / f"t{i}", {"operations": ["transcribe"]})
            for i in range(args.repeat)
        ]
        tr_worker, results = min(runs, key=lambda r: r[0])
        rows.append(("transcribe whisper tiny.en", tr_bare, tr_worker))

        print(
            f"recording: {duration:.1f} s of espeak-ng speech, {args.jobs} jobs per run, "
            f"best of {args.repeat}"
        )
        print(f"{'operation':28} {'bare xrt':>9} {'worker xrt':>11} {'overhead':>9}")
        for name, bare_s, worker_s in rows:
            b, w = audio_s / bare_s, audio_s / worker_s
            print(f"{name:28} {b:9.1f} {w:11.1f} {b / w - 1:9.1%}")
        print(
            f"word error rate: bare {word_error_rate(spoken, text):.3f}, worker "
            f"{word_error_rate(spoken, results['transcript']['text']):.3f}"
        )


if __name__ == "__main__":
    main()
