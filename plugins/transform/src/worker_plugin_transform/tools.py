"""The text tools as Jinja filters and globals, available in every template.

=====================  ====================================================================
``detect_language``    filter: ``{{ text | detect_language }}`` -> ``"de"`` (``"und"`` if unsure)
``language_info``      filter: ``{"language": "de", "confidence": 0.98}``
``summarize(n=3)``     filter: the ``n`` most representative sentences, in text order
``sentences``          filter: the text split into sentences
``front_matter``       filter: the YAML front matter of Markdown as a dict (``{}`` if none)
``strip_front_matter`` filter: the Markdown without its front matter
``yaml``               filter: a value as block YAML (for writing front matter)
``slugify``            filter: ``"Über uns"`` -> ``"uber-uns"``
=====================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import texttools

__all__ = ["template_filters", "template_globals"]


def _language(text: Any) -> str:
    return texttools.detect_language(str(text))["language"] or "und"


def _language_info(text: Any) -> dict[str, Any]:
    return texttools.detect_language(str(text))


def _summarize(text: Any, n: int = 3) -> str:
    return texttools.summarize(str(text), min(int(n), 100))


def _front_matter(text: Any) -> dict[str, Any]:
    return texttools.parse_front_matter(str(text))[0]


def _strip_front_matter(text: Any) -> str:
    return texttools.parse_front_matter(str(text))[1]


def template_filters() -> dict[str, Callable[..., Any]]:
    return {
        "detect_language": _language,
        "language_info": _language_info,
        "summarize": _summarize,
        "sentences": lambda text: texttools.split_sentences(str(text)),
        "front_matter": _front_matter,
        "strip_front_matter": _strip_front_matter,
        "yaml": texttools.to_yaml,
        "slugify": lambda text, max_length=80: texttools.slugify(str(text), int(max_length)),
    }


def template_globals() -> dict[str, Any]:
    return {}
