"""Print what every job of a batch produced (the demo's last step), and how good the output is:
the transcript's word error rate against the text that was spoken (``inputs/speech.txt``) and
the summary's length. Markdown is printed as Markdown. Usage: show.py BATCH_ID"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import jobworker
from worker_plugin_audio.testing import word_error_rate

#: lines of a job's text shown (the rest is in its files)
SHOWN_LINES = 40


def excerpt(text: str, lines: int = SHOWN_LINES) -> str:
    """The first ``lines`` lines of ``text`` (long lines wrapped), indented, as written."""
    out: list[str] = []
    for line in text.strip().splitlines():
        out += textwrap.wrap(line, 96, break_on_hyphens=False) or [""]
    more = f"\n... ({len(out) - lines} more lines)" if len(out) > lines else ""
    return textwrap.indent("\n".join(out[:lines]) + more, "   | ", lambda _: True)


def quality(job: Any, results: dict[str, Any], spoken: str | None) -> list[str]:
    """The figures that say whether to trust the output."""
    data = results.get("structured_data") or {}
    lines = []
    transcript = (results.get("transcript") or {}).get("text")
    if job.job_type == "audio" and transcript and spoken:
        lines.append(
            f"transcript WER: {word_error_rate(spoken, transcript):.2f} (against {spoken!r})"
        )
    if job.job_type == "transform" and data.get("summary"):
        lines.append(f"summary: {data['summary_words']} of {data['input_words']} words")
    return lines


def main(batch_id: str) -> None:
    client = jobworker.connect()
    spoken_file = Path("inputs/speech.txt")
    spoken = spoken_file.read_text().strip() if spoken_file.is_file() else None
    for job in sorted(client.list(batch_id=batch_id, limit=1000), key=lambda j: j.created_at):
        print(f"\n== {job.job_name} [{job.job_type}] {job.status.value}")
        if job.error:
            print(f"   error {job.error.code}: {job.error.message}")
            continue
        results = job.results or {}
        data = results.get("structured_data") or {}
        text = (
            results.get("markdown_content")
            or results.get("video_transcript")
            or data.get("text")
            or (data.get("data") or {}).get("extracted_text")
            or ""
        )
        if text:
            print(excerpt(str(text)))
        for line in quality(job, results, spoken):
            print(f"   {line}")
        for key in ("markdown_file", "archive_filename", "target_dir"):
            if results.get(key):
                print(f"   {key}: {results[key]}")
        if results.get("assets"):
            print(f"   assets: {len(results['assets'])} files")


if __name__ == "__main__":
    main(sys.argv[1])
