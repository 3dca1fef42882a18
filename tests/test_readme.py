"""README.md as a stranger runs it (issue 15): its shell blocks, in the order written, in one
shell at the repository root: the quick start's demo (``scripts/demo.sh``: install, a batch of
seven job types, what they produced), then "After that" against a real worker started by the
block itself, then the HTTP service. Its Python blocks run in tests/test_docs_examples.py.

The "Installing" block is marked ``<!-- no-test -->`` (it installs into the environment;
tests/test_third_party_venv.py installs from a path, a wheel and a private index in a fresh
venv). Two changes to the text run, both printed in the failure message if anything goes wrong:
``bash scripts/test.sh`` is left out (the test suite cannot run itself from inside), and the
HTTP port 8000 becomes a free one (other test runs may be using 8000 on this machine).

The demo's own quality figures are asserted here: the word error rate of the transcript of its
recorded speech, and the length of its summary.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\s*$")


def shell_blocks(text: str) -> list[str]:
    """The ``sh``/``bash`` blocks, except those right after a ``<!-- no-test... -->`` line
    (the install block: it would install into this environment; the venv test does it)."""
    blocks: list[str] = []
    lang: str | None = None
    lines: list[str] = []
    skip = previous = False
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and lang is None:
            lang, lines, skip = fence[1], [], previous
        elif line.strip() == "```" and lang is not None:
            if lang in ("sh", "bash") and not skip:
                blocks.append("\n".join(lines))
            lang = None
        elif lang is not None:
            lines.append(line)
        if lang is None and line.strip():
            previous = line.strip().startswith("<!-- no-test")
    return blocks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory) -> dict[str, str]:
    """Run the README's shell blocks once; the output of each block by its number."""
    blocks = shell_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 3, "the quick start, 'After that' and the HTTP service"
    port = str(free_port())
    script = ["set -euo pipefail"]
    for number, block in enumerate(blocks):
        kept = [line for line in block.splitlines() if "bash scripts/test.sh" not in line]
        script += [f"echo '=== block {number}'", *kept]
    script[-1:] = [script[-1], "echo '=== end'"]
    text = "\n".join(script).replace("8000", port)
    (tmp_path_factory.mktemp("readme") / "readme.sh").write_text(text)
    done = subprocess.run(
        ["bash", "-c", text],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and "=== end" in done.stdout, (
        f"README blocks failed ({done.returncode})\n--- script\n{text}\n--- stdout\n"
        f"{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"
    )
    parts = re.split(r"^=== block (\d+)$", done.stdout.split("=== end")[0], flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)} | {"stderr": done.stderr}


def test_the_quick_start_demo_runs_and_its_output_can_be_trusted(readme_run):
    demo = readme_run["0"]
    assert re.search(r"total 7: 7 completed, 0 failed", demo)
    wer = float(re.search(r"transcript WER: (\d+\.\d+)", demo)[1])
    assert wer <= 0.1, demo  # the spoken sentence comes back (robotic espeak-ng: 0.5)
    summary = re.search(r"summary: (\d+) of (\d+) words", demo)
    assert int(summary[1]) <= 60 and int(summary[2]) == 253  # a summary, not the whole text
    # Markdown is shown as Markdown: its heading and table lines, one per line
    assert "   | # Word statistics: alice.txt\n" in demo
    assert "   | | measure | value |\n" in demo
    session = demo[demo.index("[session]") :]
    assert session.count("Open budgets for everyone\n") == 2  # title and heading, not again
    assert "## Transcript" in session or "more lines" in session


def test_after_that_runs_against_a_real_worker(readme_run):
    after = readme_run["1"]
    words, pdf = re.findall(r"^(job-\S+)$", after, flags=re.M)[:2]
    assert re.search(rf"{words}  wordstats  completed  100% completed  attempt 1/\d", after)
    assert "\n  structured_data.words: 6\n" in after
    assert re.search(rf"{pdf}  pdf  completed", after)
    assert "structured_data.data.extracted_text: Summary: spending rose by four percent." in after
    assert "job started" in readme_run["stderr"] and "job ended" in readme_run["stderr"]
    db = sqlite3.connect(ROOT / "jobworker-demo" / "jobworker.db")
    try:
        ((params,),) = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (words,)).fetchall()
    finally:
        db.close()
    assert json.loads(params)["parameters"] == {"text": "to be or not to be"}  # as given


def test_the_http_block_submits_a_job(readme_run):
    answer = json.loads(readme_run["2"].strip().splitlines()[-1])
    assert answer["job_type"] == "wordstats" and answer["status"] == "pending"
    assert answer["parameters"] == {"text": "hello"}
