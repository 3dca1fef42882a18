"""Text tools for templates and operations: language detection, extractive summary, front matter.

Everything works offline: language identification uses py3langid, whose model ships inside the
wheel; the summary is a word-frequency extract with small built-in stop-word lists; front matter
is YAML read with PyYAML's safe loader, with anchors and aliases refused (no "billion laughs").
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from jobworker import UnsupportedInput

__all__ = [
    "detect_language",
    "parse_front_matter",
    "slugify",
    "split_sentences",
    "summarize",
    "to_yaml",
]

MAX_FRONT_MATTER_CHARS = 65_536
#: deepest nesting of mappings/sequences accepted in front matter (PyYAML's composer recurses)
MAX_FRONT_MATTER_DEPTH = 64
_OPENS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSES = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)

# -- language --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, candidates: Iterable[str] | None = None) -> dict[str, Any]:
    """``{"language": "de", "confidence": 0.98}`` for ``text`` (ISO 639-1 codes).

    ``candidates`` restricts the answer to those languages (confidence renormalised among
    them). Text with fewer than three letters gives ``{"language": None, "confidence": 0.0}``.
    """
    sample = str(text)[:20_000]
    if sum(ch.isalpha() for ch in sample[:200]) < 3:
        return {"language": None, "confidence": 0.0}
    ranked = _identifier().rank(sample)
    wanted = {c.lower() for c in candidates} if candidates else None
    if wanted:
        ranked = [(lang, p) for lang, p in ranked if lang in wanted]
        if not ranked:
            return {"language": None, "confidence": 0.0}
        total = sum(p for _, p in ranked) or 1.0
        ranked = [(lang, p / total) for lang, p in ranked]
    lang, prob = ranked[0]
    return {"language": lang, "confidence": round(float(prob), 4)}


# -- summary ---------------------------------------------------------------------------------

_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how i if in into is it its itself just
me more most my no nor not now of off on once only or other our ours out over own same she
should so some such than that the their theirs them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your yours aber alle allem allen aller als also am an ander andere anderen auch auf aus bei bin
bis bist da damit dann das dass dein dem den der des dich die dies diese diesem diesen dieser
doch dort du durch ein eine einem einen einer eines er es etwas euch euer für gegen hat hatte
hier hin ich ihm ihn ihr ihre im in ist jede jedem jeden jeder jetzt kann kein keine man mein
mich mir mit muss nach nicht nichts noch nun nur ob oder ohne sehr sein seine sich sie sind so
solche soll sondern um und uns unser unter viel vom von vor war waren was weil welche wenn wer
werden wie wieder will wir wird wo zu zum zur über
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'„“«(\[]?[A-ZÄÖÜÀ-Þ0-9])|\n\s*\n")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Sentences (and paragraphs without end punctuation) of ``text``, whitespace collapsed."""
    pieces = _SENTENCE_END.split(str(text))
    return [s for s in (" ".join(p.split()) for p in pieces if p) if s]


def summarize(
    text: str,
    sentences: int = 3,
    *,
    max_chars: int | None = None,
    max_words: int | None = None,
) -> str:
    """An extractive summary: at most ``sentences`` of the highest-scoring sentences, in text
    order, and at most ``max_words`` words (the best sentences that fit; if even the best one
    is longer, its first ``max_words`` words and "…").

    A sentence scores the mean relative frequency of its content words (stop words of English
    and German ignored); very short sentences are dampened. No model, no network. A text of
    no more than ``sentences`` sentences within ``max_words`` words is its own summary.
    """
    parts = split_sentences(text)
    count = max(int(sentences), 0)
    budget = None if max_words is None else max(int(max_words), 1)
    sizes = [len(p.split()) for p in parts]
    if len(parts) <= count and (budget is None or sum(sizes) <= budget):
        return _cut(" ".join(parts), max_chars)
    words = [
        [w for w in (m.lower() for m in _WORD.findall(s)) if w not in _STOPWORDS] for s in parts
    ]
    freq = Counter(w for ws in words for w in ws)
    top = max(freq.values(), default=1)
    scores = []
    for index, ws in enumerate(words):
        if not ws:
            scores.append((0.0, index))
            continue
        score = sum(freq[w] / top for w in ws) / math.sqrt(len(ws)) * min(1.0, len(ws) / 5)
        scores.append((score, index))
    ranked = [i for _, i in sorted(scores, key=lambda si: (-si[0], si[1]))]
    # fragments ("Oh dear!") only when nothing longer is there
    ranked = [i for i in ranked if sizes[i] >= 4] or ranked
    chosen: list[int] = []
    used = 0
    for index in ranked:
        if len(chosen) == count:
            break
        if budget is None or used + sizes[index] <= budget:
            chosen.append(index)
            used += sizes[index]
    if not chosen and ranked:  # even the best sentence is over the budget: its beginning
        return _cut(" ".join(parts[ranked[0]].split()[:budget]).rstrip(",;:") + " …", max_chars)
    return _cut(" ".join(parts[i] for i in sorted(chosen)), max_chars)


def _cut(summary: str, max_chars: int | None) -> str:
    if max_chars is not None and len(summary) > max_chars:
        summary = summary[: max(max_chars - 1, 0)].rsplit(" ", 1)[0] + "…"
    return summary


# -- front matter ----------------------------------------------------------------------------

_FRONT = re.compile(
    r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
    re.DOTALL | re.MULTILINE,
)


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split Markdown into its YAML front matter (a dict, ``{}`` if none) and the body.

    Dates become ISO strings, so the result is plain JSON. YAML anchors/aliases, non-mapping
    front matter, front matter over 64 KiB and nesting deeper than 64 levels are refused.

    :raises UnsupportedInput: the front matter is not valid, safe YAML mapping.
    """
    text = str(text)
    match = _FRONT.match(text)
    if not match:
        return {}, text
    raw = match.group(1)
    if len(raw) > MAX_FRONT_MATTER_CHARS:
        raise UnsupportedInput(
            f"front matter is {len(raw)} characters, over the limit of {MAX_FRONT_MATTER_CHARS}"
        )
    try:
        _check_tokens(raw)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise UnsupportedInput(f"front matter is not valid YAML: {exc}") from None
    except RecursionError:  # not reached after _check_tokens; kept as the last guard
        raise UnsupportedInput("front matter is nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UnsupportedInput(f"front matter must be a mapping, not {type(data).__name__}")
    return _plain(data), text[match.end() :]


def _check_tokens(raw: str) -> None:
    """Refuse anchors/aliases and nesting deeper than :data:`MAX_FRONT_MATTER_DEPTH`, from
    PyYAML's (iterative) scanner, before the (recursive) composer sees the text."""
    depth = 0
    for token in yaml.scan(raw, Loader=yaml.SafeLoader):
        if isinstance(token, (yaml.AliasToken, yaml.AnchorToken)):
            raise UnsupportedInput("YAML anchors and aliases are not allowed in front matter")
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_FRONT_MATTER_DEPTH:
                raise UnsupportedInput(
                    f"front matter is nested deeper than {MAX_FRONT_MATTER_DEPTH} levels",
                    details={"limit": MAX_FRONT_MATTER_DEPTH},
                )
        elif isinstance(token, _CLOSES):
            depth -= 1


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def to_yaml(value: Any) -> str:
    """``value`` as block-style YAML (safe dumper, Unicode kept, key order kept), no trailing
    newline: for front matter in templates."""
    return yaml.safe_dump(
        _plain(value), allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000
    ).rstrip("\n")


def slugify(text: str, max_length: int = 80) -> str:
    """``"Über uns: Teil 2"`` -> ``"uber-uns-teil-2"`` (ASCII, lower case, hyphens)."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")
