"""The ``wordstats`` handler and its parameters schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v
from jobworker import InputTooLarge, JobContext, UnsupportedInput

from .stats import TextStats, render_markdown

__all__ = ["DEFAULT_MAX_BYTES", "WordStatsParams", "handle_wordstats"]

#: Largest text accepted unless ``[plugins.wordstats] max_bytes`` in jobworker.toml says otherwise.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_CHECK_EVERY = 2000  # lines between progress reports and cancellation checks


@attrs.define
class WordStatsParams:
    """Parameters of a ``wordstats`` job; jobworker validates them when the job is submitted.

    Give exactly one of ``file_path`` (a UTF-8 text file under the worker's input roots) and
    ``text`` (the text itself).
    """

    file_path: str | None = None
    text: str | None = None
    top: int = attrs.field(default=10, validator=[v.instance_of(int), v.ge(1), v.le(100)])
    lowercase: bool = True
    min_length: int = attrs.field(default=1, validator=[v.instance_of(int), v.ge(1), v.le(50)])

    def __attrs_post_init__(self) -> None:
        if (self.file_path is None) == (self.text is None):
            raise ValueError("give exactly one of file_path and text")


def handle_wordstats(ctx: JobContext) -> dict[str, Any]:
    """Count words, lines and the most frequent words; write ``wordstats.md``; return results."""
    params: WordStatsParams = ctx.params
    max_bytes = int(ctx.settings.get("max_bytes", DEFAULT_MAX_BYTES))
    stats = TextStats(lowercase=params.lowercase, min_length=params.min_length)
    ctx.progress(5, "reading")
    if params.file_path is not None:
        path = ctx.resolve_input(params.file_path)  # refuses paths outside the input roots
        title, source = path.name, str(path)
        _count_file(ctx, path, stats, max_bytes)
    else:
        text = params.text or ""
        if len(text.encode("utf-8")) > max_bytes:
            raise InputTooLarge(
                f"the text is over the limit of {max_bytes} bytes", details={"limit": max_bytes}
            )
        title, source = "inline text", "inline"
        for number, line in enumerate(text.splitlines(keepends=True), 1):
            stats.add_line(line)
            if number % _CHECK_EVERY == 0:
                ctx.raise_if_cancelled()
    ctx.progress(90, "writing report")
    if stats.words:
        ctx.info(
            f"counted {stats.words} words ({len(stats.counts)} distinct) "
            f"in {stats.lines} lines of {title}"
        )
    else:
        ctx.warning(f"no words found in {title}")
    report = render_markdown(stats, title=title, top=params.top)
    report_path = ctx.output_dir / "wordstats.md"
    report_path.write_text(report, encoding="utf-8")
    ctx.progress(100, "done")
    return {
        "markdown_file": str(report_path),
        "markdown_content": report,
        "structured_data": {
            "source": source,
            "words": stats.words,
            "distinct_words": len(stats.counts),
            "lines": stats.lines,
            "characters": stats.characters,
            "top_words": [{"word": w, "count": c} for w, c in stats.top(params.top)],
        },
    }


def _count_file(ctx: JobContext, path: Path, stats: TextStats, max_bytes: int) -> None:
    """Feed the file to ``stats`` line by line, reporting progress by bytes read."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InputTooLarge(
            f"{path.name} is {size} bytes, over the limit of {max_bytes}",
            details={"path": str(path), "size": size, "limit": max_bytes},
        )
    done = 0
    with path.open("rb") as fh:  # bytes: the position is known, so progress is exact
        if b"\0" in fh.read(8192):
            raise UnsupportedInput(
                f"{path.name} looks like a binary file, not text", details={"path": str(path)}
            )
        fh.seek(0)
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise UnsupportedInput(
                    f"{path.name} is not UTF-8 text (line {number}: {exc.reason})",
                    details={"path": str(path), "line": number},
                ) from None
            stats.add_line(line)
            done += len(raw)
            if number % _CHECK_EVERY == 0:
                ctx.raise_if_cancelled()
                ctx.progress(5 + int(85 * done / max(size, 1)), "counting", f"{stats.lines} lines")
    ctx.progress(88, "counting", f"{stats.lines} lines")
