"""The ``transform`` job's handler, legacy name ``transformer_template`` (imported when the first
transform job runs; its parameters live in :mod:`worker_plugin_transform.params`)."""

from __future__ import annotations

import re
from typing import Any

from jobworker import JobContext

from . import api
from .inputs import load_input
from .params import OPERATIONS, TransformParams

__all__ = ["OPERATIONS", "TransformParams", "handle_transform"]


def handle_transform(ctx: JobContext) -> dict[str, Any]:
    """Load the input, run the transformer and operations, render the template, save it."""
    p: TransformParams = ctx.params
    ctx.progress(5, "initializing")
    loaded = load_input(ctx, p)
    for warning in loaded.warnings:
        ctx.warning(f"{loaded.kind}: {warning}")
    text = loaded.text
    context = dict(p.context or {})
    structured: dict[str, Any] = {"input": loaded.kind}
    if text is not None:
        structured["input_chars"] = len(text)
        ctx.progress(20, "reading_input", f"{len(text)} characters from {loaded.kind}")

    if p.transformer:
        ctx.progress(30, "transforming", p.transformer)
        providers = {str(a[0]): a[1] for a in ctx.collect("register_text_transformers")}
        text = api.run_transformer(
            p.transformer,
            text or "",
            instruction=p.instruction or "",
            context=context,
            providers=providers,
        )
        structured["transformer"] = p.transformer
    ctx.raise_if_cancelled()

    variables: dict[str, Any] = {
        **context,
        "context": context,
        "source_language": p.source_language,
        "target_language": p.target_language,
    }
    if text is not None:
        variables["text"] = text
    if loaded.title:
        variables.setdefault("title", loaded.title)
    if loaded.source is not None:
        variables["source"] = loaded.source
    if p.operations:
        ctx.progress(50, "analysing", ", ".join(p.operations))
        variables.update(_operations(p, text or "", structured))
    ctx.raise_if_cancelled()

    output = text or ""
    if p.template or p.template_content is not None:
        ctx.progress(70, "rendering", p.template or "inline template")
        registered = {str(a[0]): str(a[1]) for a in ctx.collect("register_templates")}
        output = api.render_template(
            p.template,
            variables,
            template_content=p.template_content,
            settings=ctx.settings,
            registered=registered,
        )
        structured["template"] = p.template or "<inline>"
    structured["output_chars"] = len(output)

    ctx.progress(90, "writing")
    name = _file_name(p.output_filename or p.template or "output")
    path = ctx.output_dir / name
    path.write_text(output, encoding="utf-8")
    return {
        "markdown_content": output,
        "markdown_file": str(path),
        "target_dir": str(ctx.output_dir),
        "context": context or None,
        "structured_data": structured,
    }


def _operations(p: TransformParams, text: str, structured: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "front_matter" in p.operations:
        meta, body = api.parse_front_matter(text)
        structured["front_matter"] = meta
        found.update(front_matter=meta, body=body)
        text = body
    if "detect_language" in p.operations:
        info = api.detect_language(text, p.languages)
        structured["language"] = info
        found["language"] = info["language"]
    if "summarize" in p.operations:
        summary = api.summarize(text, p.summary_sentences, max_words=p.summary_words)
        structured["summary"] = summary
        structured["summary_words"] = len(summary.split())
        structured["input_words"] = len(text.split())
        found["summary"] = summary
    return found


def _file_name(stem: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:100] or "output"
    return stem if stem.lower().endswith((".md", ".txt", ".html", ".json")) else stem + ".md"
