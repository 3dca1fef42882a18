"""The ``audio`` job's handler (imported when the first audio job runs; its parameters live in
:mod:`worker_plugin_audio.params`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from jobworker import InputTooLarge, InvalidParameters, JobContext

from .decoding import decode, probe
from .editing import normalise, split_fixed, split_on_silence, trim
from .encoding import FORMATS, convert, export
from .params import OPERATIONS, AudioParams
from .subtitles import write_subtitles
from .transcription import SAMPLE_RATE, transcribe


class _Encoding(TypedDict):
    """The encoder settings of a job, as keyword arguments of :func:`convert` and :func:`export`."""

    bitrate: str | None
    sample_rate: int | None
    channels: int | None


__all__ = ["OPERATIONS", "AudioParams", "handle_audio"]

DEFAULT_MAX_DURATION = 3 * 3600.0
DEFAULT_MAX_PARTS = 1000


def handle_audio(ctx: JobContext) -> dict[str, Any]:
    """Run the requested operations, in the order trim, normalise, convert, split, transcribe.

    Settings (``[plugins.audio]``): ``max_duration_seconds`` (10800), ``max_parts`` (1000),
    ``engine`` (``whisper``), ``chunk_seconds`` (60) and the engine's own (``model_dir``, ...).
    """
    p: AudioParams = ctx.params
    settings = dict(ctx.settings or {})
    source = p.file_path or p.filename
    if not source:
        raise InvalidParameters("an audio job needs file_path (or filename)")
    path = ctx.resolve_input(source)
    max_duration = float(settings.get("max_duration_seconds", DEFAULT_MAX_DURATION))
    ops = set(p.operations)

    ctx.progress(5, "initializing", f"probing {path.name}")
    info = probe(path)
    if info.duration is not None and info.duration > max_duration:
        raise InputTooLarge(
            f"{path.name} lasts {info.duration:.1f} s, over the limit of {max_duration:g} s",
            details={"duration": round(info.duration, 3), "limit": max_duration},
        )
    results: dict[str, Any] = {"metadata": info.as_dict(), "assets": []}
    if ops <= {"metadata"}:
        return results
    out = ctx.output_dir
    stem = _safe_stem(path)
    encode: _Encoding = {"bitrate": p.bitrate, "sample_rate": p.sample_rate, "channels": p.channels}
    if ops <= {"metadata", "convert"}:  # streamed: flat memory however long the file is
        total = info.duration or 1.0

        def converted(seconds: float) -> None:
            ctx.progress(20 + int(75 * seconds / total), "converting", f"{seconds:.0f} s")
            ctx.raise_if_cancelled()

        ctx.progress(20, "converting", f"encoding {p.format}")
        written = convert(
            path,
            out / f"{stem}{FORMATS[p.format].suffix}",
            p.format,
            max_duration=max_duration,
            on_progress=converted,
            **encode,
        )
        _converted(results, written, p.format)
        results["target_dir"] = results["asset_dir"] = str(out)
        return results

    ctx.progress(10, "decoding", f"decoding {path.name}")
    full = bool(ops - {"metadata", "transcribe"})  # transcription alone needs 16 kHz mono
    audio = (
        decode(path, max_duration=max_duration)
        if full
        else decode(path, sample_rate=SAMPLE_RATE, channels=1, max_duration=max_duration)
    )
    decoded = len(audio) / 1000
    if info.duration and decoded < 0.9 * info.duration - 0.5:
        ctx.warning(
            f"decoded only {decoded:.1f} s of the {info.duration:.1f} s the header "
            "announces: the file looks truncated or damaged"
        )
    results["metadata"]["duration"] = round(decoded, 3)
    ctx.raise_if_cancelled()
    if "trim" in ops:
        audio = trim(audio, p.start, p.end)
        results["trimmed"] = {"start": p.start, "end": p.end, "duration": len(audio) / 1000}
    if "normalise" in ops:
        ctx.progress(15, "normalising")
        before = audio.dBFS
        audio = normalise(audio, p.target_dbfs)
        results["loudness"] = {
            "before_dbfs": _db(before),
            "after_dbfs": _db(audio.dBFS),
            "target_dbfs": p.target_dbfs,
        }
    if "convert" in ops or (ops & {"trim", "normalise"} and not ops & {"split", "transcribe"}):
        ctx.progress(20, "converting", f"encoding {p.format}")
        written = export(audio, out / f"{stem}{FORMATS[p.format].suffix}", p.format, **encode)
        _converted(results, written, p.format)
    if "split" in ops:
        results["parts"] = _split(ctx, audio, p, out / "parts", stem, settings, encode)
        results["assets"] += [part["path"] for part in results["parts"]]
    if "transcribe" in ops:
        _transcribe(ctx, audio, p, settings, max_duration, results)
    results["target_dir"] = results["asset_dir"] = str(out)
    return results


def _converted(results: dict[str, Any], written: Path, fmt: str) -> None:
    results["converted"] = {"path": str(written), "format": fmt, "bytes": written.stat().st_size}
    results["assets"].append(str(written))


def _split(
    ctx: JobContext,
    audio: Any,
    p: AudioParams,
    directory: Path,
    stem: str,
    settings: dict[str, Any],
    encode: _Encoding,
) -> list[dict[str, Any]]:
    ctx.progress(25, "splitting", p.split_mode)
    if p.split_mode == "fixed":
        pieces = split_fixed(audio, p.segment_seconds)
    else:
        pieces = split_on_silence(
            audio, p.min_silence_ms, p.silence_threshold_dbfs, p.keep_silence_ms
        )
    limit = int(settings.get("max_parts", DEFAULT_MAX_PARTS))
    if len(pieces) > limit:
        raise InputTooLarge(
            f"splitting gives {len(pieces)} parts, over the limit of {limit}",
            details={"parts": len(pieces), "limit": limit},
        )
    directory.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, piece in enumerate(pieces, 1):
        ctx.raise_if_cancelled()
        target = directory / f"{stem}-{i:04d}{FORMATS[p.format].suffix}"
        export(piece.audio, target, p.format, **encode)
        parts.append(
            {"path": str(target), "start": round(piece.start, 3), "end": round(piece.end, 3)}
        )
    return parts


def _transcribe(
    ctx: JobContext,
    audio: Any,
    p: AudioParams,
    settings: dict[str, Any],
    max_duration: float,
    results: dict[str, Any],
) -> None:
    engine = p.engine or str(settings.get("engine", "whisper"))
    ctx.progress(30, "transcribing", f"loading engine {engine}")

    def progress(done: float, total: float) -> None:
        ctx.progress(
            30 + int(65 * done / max(total, 0.001)), "transcribing", f"{done:.0f} of {total:.0f} s"
        )
        ctx.raise_if_cancelled()

    result = transcribe(
        audio,
        engine,
        settings,
        language=p.language,
        on_progress=progress,
        max_duration=max_duration,
    )
    files = write_subtitles(result["segments"], ctx.output_dir, "transcript")
    result["srt"], result["vtt"] = str(files["srt"]), str(files["vtt"])
    results["transcript"] = result
    results["markdown_content"] = result["text"]
    results["assets"] += [result["srt"], result["vtt"]]
    ctx.info(
        f"transcribed {result['duration']:.1f} s with {engine} "
        f"in {result['chunks']} chunk(s), language {result['language']}"
    )


def _db(value: float) -> float | None:
    return None if value == float("-inf") else round(value, 2)


def _safe_stem(path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.stem).strip("._")
    return stem or "audio"
