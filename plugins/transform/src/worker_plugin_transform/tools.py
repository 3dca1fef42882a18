"""The text tools as Jinja filters and globals, available in every template.

=====================  ====================================================================
``detect_language``    filter: ``{{ text | detect_language }}`` -> ``"de"`` (``"und"`` if unsure)
``language_info``      filter: ``{"language": "de", "confidence": 0.98}``
``summarize(n=3, words=None)`` filter: up to ``n`` most representative sentences, in text
                       order, within ``words`` words
``sentences``          filter: the text split into sentences
``front_matter``       filter: the YAML front matter of Markdown as a dict (``{}`` if none)
``strip_front_matter`` filter: the Markdown without its front matter
``yaml``               filter: a value as block YAML (for writing front matter)
``slugify``            filter: ``"Über uns"`` -> ``"uber-uns"``
``drop_heading(*t)``   filter: the text without its first line if that is a Markdown heading
                       saying one of ``t`` (a page's main heading, already the document's)
=====================  ====================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import texttools

__all__ = ["template_filters", "template_globals"]


def _language(text: Any) -> str:
    return texttools.detect_language(str(text))["language"] or "und"


def _language_info(text: Any) -> dict[str, Any]:
    return texttools.detect_language(str(text))


def _summarize(text: Any, n: int = 3, words: int | None = None) -> str:
    limit = None if words is None else min(int(words), 100_000)
    return texttools.summarize(str(text), min(int(n), 100), max_words=limit)


def _front_matter(text: Any) -> dict[str, Any]:
    return texttools.parse_front_matter(str(text))[0]


def _strip_front_matter(text: Any) -> str:
    return texttools.parse_front_matter(str(text))[1]


def _drop_heading(value: Any, *titles: Any) -> str:
    text = str(value)
    first, _, rest = text.lstrip().partition("\n")
    heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", first)
    wanted = {" ".join(str(t).split()).casefold() for t in titles if t}
    if heading and " ".join(heading[1].split()).casefold() in wanted:
        return rest.lstrip("\n")
    return text


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
        "drop_heading": _drop_heading,
    }


def template_globals() -> dict[str, Any]:
    return {}
