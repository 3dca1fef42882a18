"""The ``transform`` job's parameters, checked when a job is submitted.

Light on purpose (no Jinja2, lxml or PyYAML): the plugin loads this in every worker and client
process; the handler (:mod:`worker_plugin_transform.handler`) is imported when a transform job
runs.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["OPERATIONS", "TransformParams"]

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


def _optional_strings(value: Any) -> list[str] | None:
    return _strings(value) or None


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
    languages: Any = attrs.field(default=None, converter=_optional_strings)
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
