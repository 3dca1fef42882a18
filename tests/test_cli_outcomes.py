"""What a person sees at the command line (issue 15): waits that show the outcome and exit with
the documented codes, ``status`` with short result values, truthful attempt numbers after a
retry, ``purge`` with its dry run and question, and a worker that logs every job."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobworker.cli import cli
from jobworker.cli.outcome import EXIT_CODES, EXIT_FAILED, EXIT_REFUSED, EXIT_WAIT_RAN_OUT
from procs import jobworker_process, pythonpath, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, ["--plugin", "testjobs", *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


@pytest.fixture
def worker(tmp_path):
    """A real ``jobworker run`` process on the test's store (stopped with SIGKILL after)."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        procs.append(jobworker_process("sqlite:///jobworker.db", "run", cwd=tmp_path))
        return procs[-1]

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_exit_codes_are_documented_once_and_listed_in_the_cli_reference():
    assert (EXIT_FAILED, EXIT_REFUSED, EXIT_WAIT_RAN_OUT) == (1, 2, 3)
    reference = (ROOT / "docs" / "cli.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in reference
    assert "exit code" in (ROOT / "README.md").read_text().lower()


def test_a_wait_that_runs_out_prints_one_line_naming_the_missing_worker(run):
    result = run("submit", "noop", "--wait", "0.3", code=EXIT_WAIT_RAN_OUT)
    [line] = result.stderr.splitlines()
    assert "is still pending after 0.3 s" in line
    assert "no live worker serves job type 'noop'" in line and "jobworker run" in line
    assert "Traceback" not in result.output
    # --json still prints the document (pending) before the line
    result = run("submit", "noop", "--wait", "0.2", "--json", code=EXIT_WAIT_RAN_OUT)
    assert json.loads(result.stdout)["status"] == "pending"


def test_wait_shows_the_outcome_and_exits_1_on_failure(run, worker):
    worker()
    done = run("submit", "async", "-p", "n:=7", "--wait", "60")
    job_id, status_line, *rest = done.stdout.splitlines()
    assert job_id.startswith("job-") and "completed" in status_line
    assert "  structured_data.n: 7" in rest
    failed = run("submit", "async", "-p", "fail=final", "--wait", "60", code=EXIT_FAILED)
    assert failed.stdout.strip().startswith("job-")
    assert "error: TEST_REFUSED: refused on purpose" in failed.stderr
    as_json = run("submit", "async", "-p", "fail=final", "--wait", "60", "--json", code=1)
    assert json.loads(as_json.stdout)["error"]["code"] == "TEST_REFUSED"


def test_watch_and_batch_waits_report_failures(run, worker, tmp_path):
    worker()
    bad = run("submit", "async", "-p", "fail=final").stdout.strip()
    watched = run("watch", bad, code=EXIT_FAILED)
    assert "TEST_REFUSED: refused on purpose" in watched.stderr
    good = run("submit", "async").stdout.strip()
    run("watch", good)
    specs = [
        {"job_type": "async", "parameters": {}},
        {"job_type": "async", "parameters": {"fail": "final"}},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(s) + "\n" for s in specs))
    result = run("batch", "submit", "jobs.jsonl", "--wait", "60", code=EXIT_FAILED)
    batch_id, summary = result.stdout.splitlines()
    assert summary == f"batch {batch_id}: 1 completed, 1 failed of 2"
    assert re.search(r"job-\S+  async  TEST_REFUSED: refused on purpose", result.stderr)
    watched = run("watch", "--batch", batch_id, code=EXIT_FAILED)
    assert "TEST_REFUSED" in watched.stderr
    (tmp_path / "ok.jsonl").write_text(json.dumps(specs[0]) + "\n")
    assert "1 completed, 0 failed of 1" in run("batch", "submit", "ok.jsonl", "--wait", "60").stdout


def test_status_shows_short_result_values_and_file_paths(run, tmp_path):
    from jobworker.model import normalise_results, utcnow
    from jobworker.store import Claim, Outcome, open_store

    job_id = run("submit", "noop").stdout.strip()
    out = tmp_path / "jobworker-output" / job_id
    out.mkdir(parents=True)
    (out / "page_001.txt").write_text("x")
    store = open_store("sqlite:///jobworker.db")
    [claimed] = store.claim(Claim("w", 30, 1), utcnow())
    results = {
        "markdown_content": "# Title\n\n" + "word " * 400,
        "page_texts": [str(out / "page_001.txt")],
        "target_dir": str(out),
        "structured_data": {"word_count": 400, "language": "en"},
    }
    store.finish(
        [Outcome(claimed.job_id, "w", "completed", results=normalise_results(results))], utcnow()
    )
    store.close()
    lines = run("status", job_id).stdout.splitlines()
    assert lines[1] == "results:"
    shown = dict(line.strip().split(": ", 1) for line in lines[2:])
    assert shown["markdown_content"].startswith("# Title word word")
    assert shown["markdown_content"].endswith(f"({len(results['markdown_content'])} chars)")
    assert len(shown["markdown_content"]) < 100
    assert shown["page_texts"] == str(out / "page_001.txt")
    assert shown["target_dir"] == str(out)
    assert shown["structured_data.word_count"] == "400"  # objects opened up: values seen
    assert shown["structured_data.language"] == "en"
    assert "assets" not in shown  # empty legacy keys are left out


def test_retry_counts_attempts_truthfully(run):
    job_id = run("submit", "async", "-p", "fail=final").stdout.strip()
    run("run", "--burst")
    said = run("retry", job_id).stdout
    assert said.strip() == f"{job_id}: pending again (next: attempt 2 of 4)"
    run("run", "--burst")
    run("retry", job_id, "--attempts", "1")
    run("run", "--burst")
    started = [line for line in run("logs", job_id).stdout.splitlines() if "started on" in line]
    assert [re.search(r"attempt (\d+ of \d+)", s)[1] for s in started] == [
        "1 of 3",
        "2 of 4",
        "3 of 3",
    ]
    assert "attempt 3/3" in run("status", job_id).stdout


def test_cancel_keeps_the_last_percent(run, worker):
    worker()
    job_id = run("submit", "thread", "-p", "sleep:=60").stdout.strip()

    def percent() -> int:
        doc = json.loads(run("status", job_id, "--json").stdout)
        return (doc.get("progress") or {}).get("percent", 0)

    seen = wait_until(lambda: percent() >= 20 and percent())
    assert "cancel requested" in run("cancel", job_id).stdout
    wait_until(lambda: json.loads(run("status", job_id, "--json").stdout)["status"] == "failed")
    doc = json.loads(run("status", job_id, "--json").stdout)
    assert doc["error"]["code"] == "CANCELLED"
    assert doc["progress"]["step"] == "error" and doc["progress"]["percent"] >= seen


def _finished_batch(run, tmp_path, n: int) -> str:
    specs = "".join(json.dumps({"job_type": "noop", "parameters": {}}) + "\n" for _ in range(n))
    (tmp_path / "b.jsonl").write_text(specs)
    batch_id = run("batch", "submit", "b.jsonl").stdout.strip()
    run("run", "--burst")
    return batch_id


def test_purge_dry_run_then_jobs_batches_output_and_scratch_go(run, tmp_path):
    import tempfile

    batch_id = _finished_batch(run, tmp_path, 3)
    jobs = json.loads(run("list", "--batch", batch_id, "--json").stdout)
    folders = []
    for job in jobs:
        out = tmp_path / "jobworker-output" / job["job_id"]
        out.mkdir(parents=True)
        (out / "result.md").write_text("x")
        scratch = Path(tempfile.gettempdir()) / "jobworker-w-dead" / f"{job['job_id']}-1"
        scratch.mkdir(parents=True)
        folders += [out, scratch]
    keep = tmp_path / "jobworker-output" / "not-a-purged-job"
    keep.mkdir()
    said = run("purge", "--older-than", "0s", "--dry-run").stdout
    assert said.strip() == (
        f"would delete: 3 jobs, 1 batches, 6 folders under {tmp_path / 'jobworker-output'} "
        "and scratch"
    )
    assert all(f.exists() for f in folders) and len(json.loads(run("list", "--json").stdout)) == 3
    assert "purged 3 jobs, 1 batches" in run("purge", "--older-than", "0s", "--yes").stdout
    assert not any(f.exists() for f in folders) and keep.exists()
    assert run("batch", "status", batch_id, code=1).output.strip().endswith(f"no batch {batch_id}")
    (Path(tempfile.gettempdir()) / "jobworker-w-dead").rmdir()


def test_purge_asks_on_a_terminal(run, tmp_path):
    _finished_batch(run, tmp_path, 2)
    env = {**os.environ, "PYTHONPATH": pythonpath(ROOT / "tests" / "support")}

    def purge_answering(answer: bytes) -> tuple[int, str]:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobworker",
                "--plugin",
                "testjobs",
                "purge",
                "--older-than",
                "0s",
            ],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
        os.close(follower)
        os.write(leader, answer)
        out, _ = proc.communicate(timeout=120)
        os.close(leader)
        return proc.returncode, out.decode()

    code, out = purge_answering(b"n\n")
    assert code == 1 and "to delete: 2 jobs, 1 batches" in out and "delete them?" in out
    assert len(json.loads(run("list", "--json").stdout)) == 2  # nothing deleted
    code, out = purge_answering(b"y\n")
    assert code == 0 and "purged 2 jobs, 1 batches" in out
    assert json.loads(run("list", "--json").stdout) == []


def test_a_foreground_worker_logs_each_job_start_and_end(tmp_path):
    from jobworker import connect

    with connect("sqlite:///" + str(tmp_path / "jobworker.db")) as client:
        ok = client.submit("async", {"n": 1}, allow_unknown_type=True).job_id
        bad = client.submit("async", {"fail": "final"}, allow_unknown_type=True).job_id
    proc = jobworker_process(
        "sqlite:///jobworker.db",
        "run",
        "--burst",
        "--log-console",
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    for job_id, outcome in ((ok, "completed"), (bad, "failed")):
        [start] = [x for x in lines if "job started" in x and job_id in x]
        [end] = [x for x in lines if "job ended" in x and job_id in x]
        assert "[info" in start and "job_type=async" in start and "attempt=1/" in start
        assert "[info" in end and "job_type=async" in end and f"outcome={outcome}" in end
        assert re.search(r"duration=\d+\.\d\ds", end)
    assert "code=TEST_REFUSED" in next(x for x in lines if "job ended" in x and bad in x)
