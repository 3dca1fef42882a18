"""The ``video`` job's handler (imported when the first video job runs; its parameters live in
:mod:`worker_plugin_video.params`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jobworker import InvalidParameters, JobContext, UnsupportedInput

from .audiotrack import extract_audio
from .extras import audio_api, ocr_api, slide_texts
from .frames import (
    Thumbnail,
    even_times,
    iter_frames_at,
    iter_keyframes,
    save_thumbnails,
)
from .params import AUDIO_FORMATS, OPERATIONS, VideoParams
from .probing import VideoInfo, check_limits, probe

__all__ = ["OPERATIONS", "VideoParams", "handle_video"]

DEFAULTS = {
    "max_duration_seconds": 4 * 3600.0,
    "max_pixels": 4096 * 2304,
    "max_thumbnails": 100,
    "max_ocr_frames": 200,
}


def _setting(ctx: JobContext, key: str) -> Any:
    return (ctx.settings or {}).get(key, DEFAULTS[key])


class _Steps:
    """Progress across the requested operations, each with a share of 10..95 percent."""

    WEIGHTS = {"thumbnails": 2, "extract_audio": 1, "transcribe": 6, "ocr": 4}

    def __init__(self, ctx: JobContext, ops: set[str]) -> None:
        self.ctx = ctx
        active = [op for op in self.WEIGHTS if op in ops]
        total = sum(self.WEIGHTS[op] for op in active) or 1
        self.span: dict[str, tuple[float, float]] = {}
        start = 10.0
        for op in active:
            width = 85.0 * self.WEIGHTS[op] / total
            self.span[op] = (start, start + width)
            start += width

    def report(self, op: str, fraction: float, message: str | None = None) -> None:
        lo, hi = self.span[op]
        self.ctx.progress(int(lo + (hi - lo) * max(0.0, min(1.0, fraction))), op, message)
        self.ctx.raise_if_cancelled()


def handle_video(ctx: JobContext) -> dict[str, Any]:
    """Probe, check limits and dependencies, then run thumbnails, extract_audio, transcribe and
    ocr in that order. Settings (``[plugins.video]``): ``max_duration_seconds`` (14400),
    ``max_pixels`` (4096x2304), ``max_thumbnails`` (100), ``max_ocr_frames`` (200), and the
    transcription engine's own (``engine``, ``model_dir``, ...)."""
    p: VideoParams = ctx.params
    source = p.file_path or p.filename
    if not source:
        raise InvalidParameters("a video job needs file_path (or filename)")
    ops = set(p.operations)
    audio = audio_api() if "transcribe" in ops else None  # fail fast on missing partners
    ocr = ocr_api() if "ocr" in ops else None
    path = ctx.resolve_input(source)

    ctx.progress(5, "initializing", f"probing {path.name}")
    info = probe(path)
    max_duration = float(_setting(ctx, "max_duration_seconds"))
    check_limits(info, max_duration=max_duration, max_pixels=int(_setting(ctx, "max_pixels")))
    if ops & {"extract_audio", "transcribe"} and not info.has_audio:
        raise UnsupportedInput(
            f"{path.name} has no audio track to extract or transcribe",
            details={"reason": "no_audio_stream"},
        )
    steps = _Steps(ctx, ops)
    results: dict[str, Any] = {"metadata": info.as_dict(), "assets": []}
    out = ctx.output_dir

    if "thumbnails" in ops:
        results["thumbnails"] = save_thumbnails(
            _reporting(_thumbnail_frames(ctx, p, info), steps, "thumbnails", _planned(p)),
            out / "thumbnails",
            p.thumbnail_format,
        )
        results["assets"] += [t["path"] for t in results["thumbnails"]]
    if "extract_audio" in ops:
        steps.report("extract_audio", 0, f"writing {p.audio_format}")
        total = info.duration or 1.0
        track = extract_audio(
            path,
            out / f"audio{AUDIO_FORMATS[p.audio_format][2]}",
            p.audio_format,
            max_duration=max_duration,
            on_progress=lambda s: steps.report("extract_audio", s / total),
        )
        results["audio"] = track
        results["assets"].append(track["path"])
    if audio is not None:
        _transcribe(ctx, audio, p, path, max_duration, steps, results)
    if ocr is not None:
        limit = int(_setting(ctx, "max_ocr_frames"))
        frames = _reporting(iter_keyframes(path, limit=limit), steps, "ocr", None)
        results["slides"] = slide_texts(frames, p.ocr_languages, ocr=ocr)
        results["slides_text"] = "\n\n".join(s["text"] for s in results["slides"])
    results["target_dir"] = results["asset_dir"] = str(out)
    return results


def _planned(p: VideoParams) -> int | None:
    mode = _mode(p)
    if mode == "keyframes":
        return None
    return len(p.thumbnail_at) if mode == "at" else p.thumbnail_count


def _mode(p: VideoParams) -> str:
    return p.thumbnail_mode or ("at" if p.thumbnail_at else "count")


def _thumbnail_frames(ctx: JobContext, p: VideoParams, info: VideoInfo) -> Iterator[Thumbnail]:
    limit = int(_setting(ctx, "max_thumbnails"))
    mode = _mode(p)
    if mode == "keyframes":
        return iter_keyframes(path=info.path, width=p.thumbnail_width, limit=limit)
    if mode == "at" and not p.thumbnail_at:
        raise InvalidParameters("thumbnail_mode 'at' needs thumbnail_at: [seconds, ...]")
    times = p.thumbnail_at if mode == "at" else even_times(info.duration or 0.0, p.thumbnail_count)
    if len(times) > limit:
        raise InvalidParameters(
            f"{len(times)} thumbnails asked, the limit is {limit}",
            details={"asked": len(times), "limit": limit},
        )
    if info.duration is not None and any(t > info.duration for t in times):
        ctx.warning(f"thumbnail times past the end ({info.duration:.2f} s) give the last frame")
    return iter_frames_at(info.path, times, width=p.thumbnail_width)


def _reporting(
    frames: Iterator[Thumbnail], steps: _Steps, op: str, planned: int | None
) -> Iterator[Thumbnail]:
    steps.report(op, 0)
    for i, frame in enumerate(frames, 1):
        yield frame
        steps.report(op, i / planned if planned else 0.5, f"frame {i} at {frame.time:.2f} s")


def _transcribe(
    ctx: JobContext,
    audio: Any,
    p: VideoParams,
    path: Any,
    max_duration: float,
    steps: _Steps,
    results: dict[str, Any],
) -> None:
    settings = dict(ctx.settings or {})
    engine = p.engine or str(settings.get("engine", "whisper"))
    steps.report("transcribe", 0, f"loading engine {engine}")
    result = audio.transcribe(
        path,
        engine,
        settings,
        language=p.language,
        max_duration=max_duration,
        on_progress=lambda done, total: steps.report(
            "transcribe", done / max(total, 0.001), f"{done:.0f} of {total:.0f} s"
        ),
    )
    files = audio.write_subtitles(result["segments"], ctx.output_dir, "transcript")
    result["srt"], result["vtt"] = str(files["srt"]), str(files["vtt"])
    results["transcript"] = result
    results["markdown_content"] = results["video_transcript"] = result["text"]
    results["assets"] += [result["srt"], result["vtt"]]
