"""Measuring OCR quality in tests (used by this plugin's tests and worker-plugin-pdf's)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["character_error_rate", "edit_distance"]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def character_error_rate(reference: Sequence[str], text: str) -> float:
    """Character error rate of OCR ``text`` against the rendered ``reference`` lines (blank
    lines of the OCR output ignored, each line stripped)."""
    ref = "\n".join(reference)
    got = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return edit_distance(ref, got) / len(ref)
