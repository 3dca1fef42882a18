"""Messages a new user reads (issue 15 item 5): a directory given as a file, page ranges, the
handler docs' imports, the built-in ``webhook`` type. Parameters shown as given (item 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jobworker
import pytest
import worker_plugin_wordstats
from click.testing import CliRunner
from jobworker import InputNotAFile, InputNotFound
from jobworker.cli import cli
from jobworker.handler import resolve_under
from jobworker.testing import WorkerHarness
from jobworker.validation import select_pages

ROOT = Path(__file__).resolve().parent.parent


def test_a_directory_as_a_file_has_its_own_code_and_message(tmp_path):
    (tmp_path / "inputs").mkdir()
    with pytest.raises(InputNotAFile) as refused:
        resolve_under("inputs", [tmp_path])
    assert refused.value.code == "INPUT_NOT_A_FILE"
    assert refused.value.message == "inputs is a directory, expected a file"
    assert isinstance(refused.value, InputNotFound)  # code catching "no such file" still works
    with pytest.raises(InputNotFound) as missing:
        resolve_under("nope.txt", [tmp_path])
    assert missing.value.code == "INPUT_NOT_FOUND"
    # through a worker: the job fails with that code, not retried
    with WorkerHarness(tmp_path, plugins=[worker_plugin_wordstats]) as h:
        job = h.client.submit("wordstats", {"file_path": "inputs"})
        h.run_burst()
        done = h.client.get(job.job_id)
    assert (done.error.code, done.attempts) == ("INPUT_NOT_A_FILE", 1)
    assert done.error.message == "inputs is a directory, expected a file"
    # the catalogue documents it
    assert "INPUT_NOT_A_FILE" in (ROOT / "core/src/jobworker/errors.py").read_text()
    assert "INPUT_NOT_A_FILE" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        (5, None, "page_start 5 is beyond the document's 3 pages"),
        (1, 7, "page_end 7 is beyond the document's 3 pages"),
        (3, 2, "page_end 2 is before page_start 3"),
        (0, None, "page_start 0: pages are numbered from 1"),
    ],
)
def test_page_ranges_name_what_was_given(start, end, said):
    with pytest.raises(jobworker.InvalidParameters) as refused:
        select_pages(3, start, end)
    assert refused.value.message == said
    assert select_pages(3, 2, None) == [2, 3]


def test_the_handler_docs_show_the_import_line():
    doc = (ROOT / "docs" / "writing-plugins.md").read_text()
    assert "from jobworker import InputTooLarge, JobContext, UnsupportedInput" in doc
    block = re.search(r"```python\nfrom jobworker import \((.*?)\)\n```", doc, re.S)
    assert block is not None
    imported = {name.strip() for name in block[1].split(",") if name.strip()}
    # every exception the "Failing well" table names is in that import, and importable
    table = doc[doc.index("| raise | code | when |") :].split("\n\n")[0]
    named = set(re.findall(r"`([A-Z]\w+)`", table)) - {"INPUT_"}
    named = {n for n in named if not n.isupper()}
    assert named <= imported
    assert all(hasattr(jobworker, name) for name in imported)


def test_the_builtin_webhook_type_is_named_where_types_are_listed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    refused = runner.invoke(cli, ["--plugin", "testjobs", "submit", "nope"])
    assert refused.exit_code == 2
    assert "(plugins); built in: webhook" in refused.stderr
    assert "async, cpu, echo, noop, thread (plugins)" in refused.stderr
    listed = runner.invoke(cli, ["--plugin", "testjobs", "plugins"])
    assert "built into jobworker: webhook (--all lists it as a plugin)" in listed.stdout
    every = runner.invoke(cli, ["--plugin", "testjobs", "plugins", "--all", "--json"])
    [core] = [p for p in json.loads(every.stdout) if p["name"] == "jobworker"]
    assert core["job_types"] == ["webhook"]
