"""Counting words and rendering the report: plain functions, no jobworker involved."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import attrs

__all__ = ["TextStats", "count_text", "render_markdown"]

# A word: letters (any script), possibly joined by an apostrophe or hyphen ("don't", "e-mail").
# Digits and underscores are not letters: "2024" is no word, "snake_case" is two.
WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


@attrs.define
class TextStats:
    """Running counts over the lines of a text."""

    lowercase: bool = True
    min_length: int = 1
    words: int = 0
    lines: int = 0
    characters: int = 0
    counts: Counter[str] = attrs.Factory(Counter)

    def add_line(self, line: str) -> None:
        """Count one line (with or without its line break)."""
        self.lines += 1
        self.characters += len(line.rstrip("\r\n"))
        found = WORD.findall(line.lower() if self.lowercase else line)
        self.words += len(found)
        self.counts.update(w for w in found if len(w) >= self.min_length)

    def top(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` most frequent words, most frequent first; ties in alphabetical order."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def count_text(lines: Iterable[str], *, lowercase: bool = True, min_length: int = 1) -> TextStats:
    """Count all ``lines`` at once (the handler feeds them one by one to report progress)."""
    stats = TextStats(lowercase=lowercase, min_length=min_length)
    for line in lines:
        stats.add_line(line)
    return stats


def render_markdown(stats: TextStats, *, title: str, top: int) -> str:
    """The report: a summary table and the top words with their share of all words."""
    out = [
        f"# Word statistics: {_escape(title)}",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| words | {stats.words} |",
        f"| distinct words | {len(stats.counts)} |",
        f"| lines | {stats.lines} |",
        f"| characters | {stats.characters} |",
        "",
    ]
    ranked = stats.top(top)
    if not ranked:
        out.append("No words found.")
        return "\n".join(out) + "\n"
    out += [
        f"## Top {len(ranked)} words",
        "",
        "| # | word | count | share |",
        "|---:|---|---:|---:|",
    ]
    for rank, (word, count) in enumerate(ranked, 1):
        out.append(f"| {rank} | {word} | {count} | {100 * count / stats.words:.1f}% |")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
