"""The steps of a session job: the page's text, the talk's transcript, the slides' text.

Each partner plugin is imported only when its step runs; a missing one fails the job with
:class:`jobworker.DependencyMissing` naming the package to install.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
from jobworker import DependencyMissing, JobContext
from worker_plugin_transform.api import FetchPolicy, fetch, html_to_text, read_text

from .paths import safe_component

__all__ = [
    "Attachment",
    "PageResult",
    "TranscriptResult",
    "attachments_step",
    "page_step",
    "partner",
    "video_step",
]

INSTALL = {
    "worker_plugin_video.api": "worker-plugin-video",
    "worker_plugin_audio.api": "worker-plugin-audio[whisper]",
    "worker_plugin_pdf.api": "worker-plugin-pdf",
}


def partner(module: str, purpose: str) -> ModuleType:
    """Import a partner plugin's API module, or raise ``DependencyMissing`` naming it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = INSTALL.get(module, module.split(".")[0].replace("_", "-"))
        raise DependencyMissing(
            f"{purpose} needs {package.split('[')[0]}, which is not installed: "
            f"pip install '{package}' (or 'worker-plugin-session[all]')",
            details={"install": f"pip install '{package}'", "missing": module, "error": str(exc)},
        ) from None


def _policy(settings: Any, key: str, default: int) -> FetchPolicy:
    base = FetchPolicy.from_settings(settings)
    return attrs.evolve(base, max_bytes=int(settings.get(key, default)))


# -- page -----------------------------------------------------------------------------------


@attrs.define
class PageResult:
    text: str
    title: str | None
    description: str | None


def page_step(ctx: JobContext, url: str, container: str | None) -> PageResult:
    """Fetch the session page and keep its main text."""
    policy = _policy(ctx.settings, "max_page_bytes", 10 << 20)
    got = fetch(url, ctx.scratch_dir / "page", policy, ctx.resolve_input, default_name="page")
    html = read_text(got.path.read_bytes(), got.content_type)
    page = html_to_text(
        html, container=container, max_chars=int(ctx.settings.get("max_page_chars", 500_000))
    )
    for warning in page.warnings:
        ctx.warning(f"page: {warning}")
    return PageResult(page.text, page.title, page.description)


# -- video ----------------------------------------------------------------------------------


@attrs.define
class TranscriptResult:
    text: str
    language: str | None
    duration: float | None
    engine: str
    cached: bool


def _cache_dir(ctx: JobContext) -> Path:
    configured = ctx.settings.get("cache_dir")
    return Path(configured) if configured else ctx.output_root / ".cache" / "session"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def video_step(
    ctx: JobContext,
    video_url: str,
    language: str | None,
    use_cache: bool,
    report: Callable[[float], None],
) -> TranscriptResult:
    """Fetch the video, extract its audio (video plugin), transcribe it (audio plugin).

    ``report(fraction)`` receives the progress of the transcription, 0..1. With ``use_cache``
    a transcript of the same video bytes, engine and language is reused from the cache
    directory (``cache_dir``, default ``<output root>/.cache/session``).
    """
    video = partner("worker_plugin_video.api", "the transcript of video_url")
    audio = partner("worker_plugin_audio.api", "the transcript of video_url")
    settings = ctx.settings
    engine = str(settings.get("transcriber", "whisper"))
    policy = _policy(settings, "max_video_bytes", 2 << 30)
    got = fetch(
        video_url, ctx.scratch_dir / "video", policy, ctx.resolve_input, default_name="video"
    )
    key = hashlib.sha256(f"{_digest(got.path)}|{engine}|{language}".encode()).hexdigest()
    cache = _cache_dir(ctx) / f"transcript-{key}.json"
    if use_cache and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        return TranscriptResult(
            data["text"], data.get("language"), data.get("duration"), engine, cached=True
        )
    max_seconds = settings.get("max_video_seconds", 4 * 3600)
    wav = ctx.scratch_dir / "video" / "audio.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)  # a local video_url is not copied there
    video.extract_audio(
        got.path,
        wav,
        "wav",
        sample_rate=16_000,
        channels=1,
        max_duration=float(max_seconds),
        on_progress=lambda _s: ctx.raise_if_cancelled(),
    )

    def progress(done: float, total: float) -> None:
        ctx.raise_if_cancelled()
        report(done / total if total else 1.0)

    result = audio.transcribe(
        wav,
        engine,
        dict(settings.get("transcriber_settings") or {}),
        language=language,
        on_progress=progress,
    )
    text = str(result.get("text") or "").strip()
    out = TranscriptResult(text, result.get("language"), result.get("duration"), engine, False)
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".part")
        tmp.write_text(
            json.dumps({"text": text, "language": out.language, "duration": out.duration}),
            encoding="utf-8",
        )
        tmp.replace(cache)
    return out


# -- attachments ----------------------------------------------------------------------------


@attrs.define
class Attachment:
    name: str
    path: Path  #: the copy in the staging asset directory
    source: str
    pages: int = 0
    text: str = ""


def attachments_step(ctx: JobContext, urls: list[str], staging: Path) -> list[Attachment]:
    """Fetch each attachment into ``staging``; extract the text of PDFs (pdf plugin)."""
    policy = _policy(ctx.settings, "max_attachment_bytes", 200 << 20)
    method = str(ctx.settings.get("pdf_method", "native"))
    staging.mkdir(parents=True, exist_ok=True)
    found: list[Attachment] = []
    for index, url in enumerate(urls):
        ctx.raise_if_cancelled()
        got = fetch(
            url,
            ctx.scratch_dir / f"attachment-{index}",
            policy,
            ctx.resolve_input,
            default_name=f"attachment-{index + 1}",
        )
        name = _unique(
            safe_component(got.path.name, default=f"attachment-{index + 1}"),
            {a.name for a in found},
        )
        copy = staging / name
        shutil.copyfile(got.path, copy)
        item = Attachment(name, copy, url)
        if _looks_pdf(copy):
            pdf = partner("worker_plugin_pdf.api", "the text of PDF attachments")
            opened = pdf.open_pdf(copy)
            pages = pdf.select_pages(opened.page_count, None, None)
            texts = [p.text.strip() for p in pdf.extract_pages(opened, copy, pages, method=method)]
            item.pages = len(texts)
            item.text = "\n\n".join(t for t in texts if t)
        else:
            ctx.warning(f"attachment {name} is not a PDF: kept as an asset, no text extracted")
        found.append(item)
    return found


def _looks_pdf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return b"%PDF-" in fh.read(1024)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        if candidate not in taken:
            return candidate
        n += 1
