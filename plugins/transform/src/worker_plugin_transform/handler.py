"""The ``transform`` job type (legacy name ``transformer_template``)."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
from jobworker import JobContext

from . import api
from .inputs import load_input

__all__ = ["OPERATIONS", "TransformParams", "handle_transform"]

OPERATIONS = ("detect_language", "summarize", "front_matter")


def _context(value: Any) -> dict[str, Any] | None:
    """``context`` may be a dict or (legacy office_via_pdf style) a JSON object string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("context must be an object or a JSON object string") from None
    if not isinstance(value, dict):
        raise ValueError(f"context must be an object, not {type(value).__name__}")
    return value


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _check_operations(_inst: Any, _attr: Any, value: list[str]) -> None:
    unknown = sorted(set(value) - set(OPERATIONS))
    if unknown:
        raise ValueError(
            f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPERATIONS)}"
        )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.define
class TransformParams:
    """Parameters of a ``transform`` job (see the README's table)."""

    text: str | None = attrs.field(default=None, converter=_optional_str)
    file_path: str | None = None
    filename: str | None = None
    url: str | None = None
    source_job_id: str | None = None
    source_key: str | None = None
    template: str | None = None
    template_content: str | None = None
    context: Any = attrs.field(default=None, converter=_context)
    operations: Any = attrs.field(factory=list, converter=_strings, validator=_check_operations)
    transformer: str | None = None
    instruction: str | None = None
    summary_sentences: int = attrs.field(
        default=3, validator=[attrs.validators.ge(1), attrs.validators.le(50)]
    )
    summary_words: int = attrs.field(
        default=60, validator=[attrs.validators.ge(5), attrs.validators.le(2000)]
    )
    languages: Any = attrs.field(default=None, converter=lambda v: _strings(v) or None)
    source_language: str | None = None
    target_language: str | None = None
    additional_field_descriptions: Any = None
    output_filename: str | None = None
    use_cache: bool = True

    def __attrs_post_init__(self) -> None:
        inputs = [
            n
            for n in ("text", "file_path", "url", "source_job_id")
            if getattr(self, n) not in (None, "")
        ]
        if self.filename and not self.file_path:
            inputs.append("filename")
        if len(inputs) > 1:
            raise ValueError(f"give at most one input, not {', '.join(inputs)}")
        if self.template and self.template_content is not None:
            raise ValueError("give template or template_content, not both")
        if not (
            self.template
            or self.template_content is not None
            or self.transformer
            or self.operations
        ):
            raise ValueError(
                "nothing to do: give template, template_content, transformer or operations"
            )
        if (self.operations or self.transformer) and not inputs:
            raise ValueError(
                "operations and transformer need an input: text, file_path, url or source_job_id"
            )


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
