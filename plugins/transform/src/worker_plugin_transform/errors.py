"""The typed errors of worker-plugin-transform (codes stored on the job as ``error.code``)."""

from __future__ import annotations

from jobworker import JobFailure

__all__ = [
    "TEMPLATE_ERROR",
    "TEMPLATE_FORBIDDEN",
    "TEMPLATE_LIMIT_EXCEEDED",
    "TEMPLATE_NOT_FOUND",
    "TEMPLATE_SYNTAX_ERROR",
    "TRANSFORMER_ERROR",
    "TemplateError",
    "TemplateForbidden",
    "TemplateLimitExceeded",
    "TemplateNotFound",
    "TemplateSyntaxError",
    "TransformerError",
]

TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
TEMPLATE_SYNTAX_ERROR = "TEMPLATE_SYNTAX_ERROR"
TEMPLATE_ERROR = "TEMPLATE_ERROR"
TEMPLATE_FORBIDDEN = "TEMPLATE_FORBIDDEN"
TEMPLATE_LIMIT_EXCEEDED = "TEMPLATE_LIMIT_EXCEEDED"
TRANSFORMER_ERROR = "TRANSFORMER_ERROR"


class TemplateNotFound(JobFailure):
    """No template of that name in the template directories or the ``register_templates`` hook."""

    code = TEMPLATE_NOT_FOUND


class TemplateSyntaxError(JobFailure):
    """The template does not parse; ``details`` has ``line`` and ``template``."""

    code = TEMPLATE_SYNTAX_ERROR


class TemplateError(JobFailure):
    """Rendering failed: an undefined variable (strict), a bad filter argument, a type error."""

    code = TEMPLATE_ERROR


class TemplateForbidden(JobFailure):
    """The template tried something the sandbox refuses (private attributes, unsafe calls)."""

    code = TEMPLATE_FORBIDDEN


class TemplateLimitExceeded(JobFailure):
    """A render limit was hit: output size, loop iterations, value size or render time.

    ``details = {"limit": <name>, "maximum": <configured value>}``.
    """

    code = TEMPLATE_LIMIT_EXCEEDED

    def __init__(
        self,
        message: str,
        *,
        limit: str = "",
        maximum: object = None,
        details: dict[str, object] | None = None,
        code: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        details = details or {"limit": limit, "maximum": maximum}
        super().__init__(message, code=code, details=details, retryable=retryable)


class TransformerError(JobFailure):
    """A ``register_text_transformers`` provider raised an error."""

    code = TRANSFORMER_ERROR
