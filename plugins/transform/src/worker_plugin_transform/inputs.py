"""The input text of a transform job: given text, a file, a URL, or another job's results."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
from jobworker import InputForbidden, InputNotFound, InputTooLarge, JobContext, JobFailure

from .fetch import FetchPolicy, fetch, read_text
from .htmltext import html_to_text

__all__ = ["DEFAULT_SOURCE_KEYS", "Loaded", "load_input", "results_value", "source_job_results"]

#: Result keys tried, in order, when ``source_key`` is not given.
DEFAULT_SOURCE_KEYS = (
    "markdown_content",
    "video_transcript",
    "attachments_text",
    "web_text",
    "structured_data.data.extracted_text",
    "structured_data.text",
    "structured_data.data.text",
)


@attrs.define
class Loaded:
    text: str | None
    kind: str  #: text, file, url, source_job or none
    source: dict[str, Any] | None = None  #: the source job's results
    title: str | None = None
    warnings: list[str] = attrs.Factory(list)  #: e.g. an HTML page cut at its depth limit


def _limit_text(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise InputTooLarge(
            f"{what} has {len(text)} characters, over the limit of {limit} (max_input_chars)",
            details={"limit": limit},
        )
    return text


def load_input(ctx: JobContext, params: Any) -> Loaded:
    """The text to work on, from exactly one of ``text``, ``file_path``/``filename``, ``url``
    and ``source_job_id`` (or none)."""
    settings = ctx.settings
    limit = int(settings.get("max_input_chars", 5_000_000))
    if params.text is not None:
        return Loaded(_limit_text(params.text, limit, "text"), "text")
    path = params.file_path or params.filename
    if path:
        policy = attrs.evolve(
            FetchPolicy.from_settings(settings),
            max_bytes=int(settings.get("max_input_bytes", 4 * limit)),
        )
        got = fetch(path, ctx.scratch_dir, policy, ctx.resolve_input)
        return _decoded(got.path.read_bytes(), None, got.path.name, limit)
    if params.url:
        if not settings.get("allow_urls", False):
            raise InputForbidden(
                "the transform job type does not fetch URLs here: set "
                "allow_urls = true and allowed_hosts in [plugins.transform]",
                details={"reason": "allow_urls is false"},
            )
        policy = attrs.evolve(
            FetchPolicy.from_settings(settings),
            max_bytes=int(settings.get("max_download_bytes", 4 * limit)),
        )
        got = fetch(params.url, ctx.scratch_dir, policy, ctx.resolve_input)
        return _decoded(got.path.read_bytes(), got.content_type, got.path.name, limit, kind="url")
    if params.source_job_id:
        results = source_job_results(params.source_job_id, settings)
        text = results_value(results, params.source_key)
        if text is None:
            keys = params.source_key or ", ".join(DEFAULT_SOURCE_KEYS)
            raise InputNotFound(
                f"job {params.source_job_id} has no text in its results ({keys})",
                details={"source_job_id": params.source_job_id},
            )
        return Loaded(_limit_text(text, limit, "the source job's text"), "source_job", results)
    return Loaded(None, "none")


def _decoded(
    data: bytes, content_type: str | None, name: str, limit: int, kind: str = "file"
) -> Loaded:
    text = read_text(data, content_type)
    looks_html = (
        "html" in (content_type or "").lower()
        or name.lower().endswith((".html", ".htm"))
        or text.lstrip()[:15].lower().startswith(("<!doctype html", "<html"))
    )
    if looks_html:
        page = html_to_text(text)
        return Loaded(
            _limit_text(page.text, limit, name), kind, title=page.title, warnings=page.warnings
        )
    return Loaded(_limit_text(text, limit, name), kind)


def results_value(results: Mapping[str, Any], key: str | None) -> str | None:
    """A text from job results by dotted key (``structured_data.data.extracted_text``), or the
    first non-empty of :data:`DEFAULT_SOURCE_KEYS`."""
    for candidate in [key] if key else DEFAULT_SOURCE_KEYS:
        value: Any = results
        for part in candidate.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n\n".join(value)
    return None


def source_job_results(job_id: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The results of a completed job, read from the store named by the ``store`` setting of
    ``[plugins.transform]`` or ``$JOBWORKER_STORE`` (the handler is not given the worker's store).
    """
    url = settings.get("store") or os.environ.get("JOBWORKER_STORE")
    if not url:
        raise JobFailure(
            "source_job_id needs the store URL: set store in [plugins.transform] "
            "or JOBWORKER_STORE",
            code="SOURCE_JOB_UNAVAILABLE",
        )
    from jobworker import open_store

    store = open_store(str(url))
    try:
        job = store.get_job(job_id, with_logs=False)
    finally:
        store.close()
    if job is None:
        raise InputNotFound(f"no job {job_id} in the store", details={"source_job_id": job_id})
    status = job.status.value
    if status != "completed":
        raise JobFailure(
            f"source job {job_id} is {status}, not completed",
            code="SOURCE_JOB_NOT_READY",
            retryable=status in ("pending", "processing"),
            details={"source_job_id": job_id, "status": status},
        )
    return dict(job.results or {})
