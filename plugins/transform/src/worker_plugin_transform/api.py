"""The public API of worker-plugin-transform, for its handler and for other plugins (session).

::

    from worker_plugin_transform.api import render_template, detect_language, summarize

    md = render_template("Session", {"session": "Open data", "web_text": "..."})
    md = render_template(template_content="# {{ title }}", variables={"title": "Hi"})
    detect_language("Guten Morgen, wie geht es Ihnen?")   # {"language": "de", "confidence": ...}

Templates render in :class:`~worker_plugin_transform.sandbox.SafeEnvironment` under
:class:`Limits`; failures are typed :class:`jobworker.JobFailure`\\ s (``TEMPLATE_NOT_FOUND``,
``TEMPLATE_SYNTAX_ERROR``, ``TEMPLATE_ERROR``, ``TEMPLATE_FORBIDDEN``,
``TEMPLATE_LIMIT_EXCEEDED``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jobworker import InvalidParameters, JobFailure

from .errors import (
    TemplateError,
    TemplateForbidden,
    TemplateLimitExceeded,
    TemplateNotFound,
    TemplateSyntaxError,
    TransformerError,
)
from .fetch import Fetched, FetchPolicy, fetch, is_url, read_text
from .guards import Limits
from .htmltext import PageText, html_to_text
from .sandbox import SafeEnvironment, render
from .templates import TemplateRegistry, environment_for, registered_templates
from .texttools import detect_language, parse_front_matter, slugify, summarize, to_yaml

__all__ = [
    "FetchPolicy",
    "Fetched",
    "Limits",
    "PageText",
    "SafeEnvironment",
    "TemplateError",
    "TemplateForbidden",
    "TemplateLimitExceeded",
    "TemplateNotFound",
    "TemplateRegistry",
    "TemplateSyntaxError",
    "TransformerError",
    "available_templates",
    "detect_language",
    "fetch",
    "html_to_text",
    "is_url",
    "parse_front_matter",
    "read_text",
    "render_template",
    "run_transformer",
    "slugify",
    "summarize",
    "text_transformers",
    "to_yaml",
]


def _env(
    settings: Mapping[str, Any] | None, registered: Mapping[str, str] | None
) -> SafeEnvironment:
    s = dict(settings or {})
    dirs = s.get("template_dirs") or ()
    if isinstance(dirs, str):
        dirs = [dirs]
    reg = None if registered is None else tuple(registered.items())
    return environment_for(Limits.from_settings(s), tuple(dirs), reg)


def render_template(
    template: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    template_content: str | None = None,
    settings: Mapping[str, Any] | None = None,
    registered: Mapping[str, str] | None = None,
) -> str:
    """Render a named template (or the inline ``template_content``) with ``variables``.

    :param settings: ``template_dirs`` and :class:`Limits` fields (``max_output_chars``...).
    :param registered: templates by name instead of the installed plugins'
        ``register_templates`` (mostly for tests).
    """
    if (template is None) == (template_content is None):
        raise InvalidParameters("give exactly one of template and template_content")
    env = _env(settings, registered)
    if template_content is not None:
        return render(env, template_content, dict(variables or {}), inline=True)
    return render(env, str(template), dict(variables or {}))


def available_templates(settings: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the templates a job can use with these settings."""
    s = dict(settings or {})
    dirs = s.get("template_dirs") or ()
    return TemplateRegistry(
        [dirs] if isinstance(dirs, str) else dirs, registered_templates()
    ).names()


def text_transformers() -> dict[str, Callable[..., str]]:
    """Providers from the plugins' ``register_text_transformers`` (the worker's plugins, else
    the installed ones)."""
    from jobworker import active_plugins as active

    return {str(a[0]): a[1] for a in active().collect("register_text_transformers") if len(a) >= 2}


def run_transformer(
    name: str,
    text: str,
    *,
    instruction: str = "",
    context: Mapping[str, Any] | None = None,
    providers: Mapping[str, Callable[..., str]] | None = None,
) -> str:
    """Run the text-model provider ``name`` on ``text``.

    :raises InvalidParameters: no such provider (the message lists the installed ones).
    :raises TransformerError: the provider raised or returned something other than text.
    """
    available = dict(text_transformers() if providers is None else providers)
    fn = available.get(name)
    if fn is None:
        raise InvalidParameters(
            f"no text transformer named {name!r}; installed: "
            f"{', '.join(sorted(available)) or 'none'} (providers are "
            f"plugins implementing register_text_transformers)",
            details={"available": sorted(available)},
        )
    try:
        out = fn(text, instruction=instruction, context=dict(context or {}))
    except JobFailure:
        raise
    except Exception as exc:
        raise TransformerError(
            f"text transformer {name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(out, str):
        raise TransformerError(f"text transformer {name!r} returned {type(out).__name__}, not text")
    return out
