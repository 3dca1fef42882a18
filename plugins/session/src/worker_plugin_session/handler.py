"""The ``session`` job type: a conference session into a Markdown document.

Jobs whose ``job_type`` is empty or missing (legacy ``event_jobs``) are session jobs too: the
core maps them here. Steps, each reported as progress: the page (``url``), the talk video
(``video_url``: audio extraction and transcription), the attachments (``attachments_url``: PDF
text), rendering the template (default ``Session``), writing
``<output root>/<job id>/<event>/<track>/<filename>.md`` with ``assets/<filename>/``, and an
optional ZIP archive next to it (a file; never base64 inside the job document). Every file lives
under the job's own ``ctx.output_dir``, so no other job's parameters can name it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

from jobworker import JobContext
from worker_plugin_transform.api import render_template

from .params import SessionParams
from .paths import SessionPaths, session_paths
from .steps import attachments_step, page_step, video_step

__all__ = ["handle_session"]


def handle_session(ctx: JobContext) -> dict[str, Any]:
    """Run the steps and return the legacy ``JobResults`` keys (plus ``archive_path``)."""
    p: SessionParams = ctx.params
    ctx.progress(5, "initializing", p.session)
    paths = session_paths(ctx.output_dir, p.event or "", p.track, p.filename, p.session or "")
    steps: dict[str, Any] = {}
    web_text = transcript = attachments_text = None
    page_title = None

    if p.url:
        ctx.progress(10, "fetching_page", p.url)
        page = page_step(ctx, p.url, p.container_selector)
        web_text, page_title = page.text or None, page.title
        steps["page"] = {"chars": len(page.text), "title": page.title}
        ctx.info(f"page: {len(page.text)} characters of main text")
    ctx.raise_if_cancelled()

    if p.video_url:
        ctx.progress(20, "transcribing_video", p.video_url)
        result = video_step(
            ctx,
            p.video_url,
            p.source_language,
            p.use_cache,
            lambda f: ctx.progress(20 + int(50 * f), "transcribing_video"),
        )
        transcript = result.text or None
        steps["video"] = {
            "chars": len(result.text),
            "language": result.language,
            "duration": result.duration,
            "engine": result.engine,
            "cached": result.cached,
        }
        ctx.info(
            f"transcript: {len(result.text)} characters"
            + (" (from the cache)" if result.cached else "")
        )
    ctx.raise_if_cancelled()

    staging = ctx.scratch_dir / "assets"
    attachments = []
    if p.attachment_urls:
        ctx.progress(72, "extracting_attachments", f"{len(p.attachment_urls)} attachment(s)")
        attachments = attachments_step(ctx, p.attachment_urls, staging)
        texts = [a.text for a in attachments if a.text]
        attachments_text = "\n\n".join(texts) or None
        steps["attachments"] = [
            {"name": a.name, "pages": a.pages, "chars": len(a.text), "source": a.source}
            for a in attachments
        ]
    ctx.raise_if_cancelled()

    ctx.progress(85, "rendering", p.template_name)
    metadata = p.metadata()
    variables = {
        **(p.context or {}),
        **metadata,
        "context": p.context or {},
        "title": page_title,
        "web_text": web_text,
        "video_transcript": transcript,
        "attachments_text": attachments_text,
        "attachments": [f"{paths.asset_link}/{a.name}" for a in attachments],
        "speakers_url": p.speakers_url,
        "speakers_image_url": p.speakers_image_url,
    }
    registered = {str(a[0]): str(a[1]) for a in ctx.collect("register_templates")}
    markdown = render_template(
        p.template_name, variables, settings=ctx.settings, registered=registered
    )

    ctx.progress(92, "writing", str(paths.markdown_file))
    assets = _write(paths, markdown, staging if attachments else None)
    archive = None
    if p.create_archive:
        ctx.progress(96, "archiving")
        archive = _archive(paths, assets)

    return {
        "markdown_file": str(paths.markdown_file),
        "markdown_content": markdown,
        "assets": [str(a) for a in assets],
        "web_text": web_text,
        "video_transcript": transcript,
        "attachments_text": attachments_text,
        "context": {**metadata, "page_title": page_title},
        "attachments_url": p.attachments_url,
        "archive_data": None,
        "archive_filename": archive.name if archive else None,
        "archive_path": str(archive) if archive else None,
        "structured_data": {"steps": steps, "template": p.template_name},
        "target_dir": str(paths.target_dir),
        "page_texts": [],
        "asset_dir": str(paths.asset_dir),
    }


def _write(paths: SessionPaths, markdown: str, staging: Path | None) -> list[Path]:
    """Write the Markdown atomically and replace the session's asset directory."""
    paths.target_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.markdown_file.with_name(f".{paths.markdown_file.name}.{os.getpid()}.part")
    tmp.write_text(markdown, encoding="utf-8")
    os.replace(tmp, paths.markdown_file)
    if paths.asset_dir.exists():
        shutil.rmtree(paths.asset_dir)
    if staging is None:
        return []
    paths.asset_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(staging, paths.asset_dir)
    return sorted(p for p in paths.asset_dir.iterdir() if p.is_file())


def _archive(paths: SessionPaths, assets: list[Path]) -> Path:
    """``<filename>.zip`` next to the Markdown: the document and its assets."""
    tmp = paths.archive_file.with_name(f".{paths.archive_file.name}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(paths.markdown_file, paths.markdown_file.name)
            for asset in assets:
                zf.write(asset, asset.relative_to(paths.target_dir).as_posix())
        os.replace(tmp, paths.archive_file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return paths.archive_file
