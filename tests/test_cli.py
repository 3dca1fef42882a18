"""The CLI: job documents in the stored shape, batches, logs, import, purge, docs in sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobworker.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, ["--plugin", "testjobs", *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_submit_json_prints_the_stored_shape_and_status_matches(run):
    doc = json.loads(
        run("submit", "async", "-p", "n:=3", "-p", "fail=final", "--priority", "2", "--json").stdout
    )
    assert doc["status"] == "pending" and doc["job_type"] == "async"
    assert doc["parameters"] == {"n": 3, "fail": "final"}  # as given, no legacy session keys
    assert {
        "job_id",
        "created_at",
        "progress" if False else "parameters",
        "access_control",
        "archived",
        "logs",
        "attempts",
        "priority",
    } <= set(doc)
    run("run", "--burst")
    status = json.loads(run("status", doc["job_id"], "--json").stdout)
    assert status["status"] == "failed" and status["error"]["code"] == "TEST_REFUSED"
    assert status["progress"]["step"] == "error"
    assert "TEST_REFUSED" in run("status", doc["job_id"]).stdout
    assert "attempt 1 of" in run("logs", doc["job_id"]).stdout


def test_submit_refusals_exit_2_with_the_code(run):
    result = run("submit", "nope", ok=False)
    assert result.exit_code == 2 and "UNKNOWN_JOB_TYPE" in result.stderr
    result = run("submit", "async", "-p", "n:=-4", ok=False)
    assert result.exit_code == 2 and "INVALID_PARAMETERS" in result.stderr
    assert run("submit", "elsewhere", "--allow-unknown-type").stdout.startswith("job-")


def test_batch_submit_status_and_list(run, tmp_path):
    lines = [{"job_type": "async", "parameters": {"n": i}} for i in range(3)]
    lines.append({"job_type": "thread", "parameters": {"fail": "final"}})
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    batch_id = run("batch", "submit", "b.jsonl", "--name", "demo").stdout.strip()
    run("run", "--burst")
    doc = json.loads(run("batch", "status", batch_id, "--json").stdout)
    assert (doc["total_jobs"], doc["completed_jobs"], doc["failed_jobs"], doc["status"]) == (
        4,
        3,
        1,
        "completed",
    )
    listed = json.loads(run("list", "--batch", batch_id, "--json").stdout)
    assert len(listed) == 4
    assert "demo" in run("batch", "list").stdout


def test_webhook_tokens_are_not_echoed(run):
    doc = json.loads(
        run(
            "submit",
            "async",
            "--params-json",
            json.dumps({"webhook": {"url": "https://x/h", "token": "s3cr3t", "jobId": "e1"}}),
            "--json",
        ).stdout
    )
    assert doc["parameters"]["webhook"]["token"] == "***"
    assert "s3cr3t" not in run("status", doc["job_id"], "--json").stdout
    assert "s3cr3t" not in run("list", "--json").stdout


def test_import_legacy_documents_then_cancel_retry_purge(run, tmp_path):
    legacy = {
        "job_id": "job-legacy-1",
        "job_type": "",
        "status": "pending",
        "created_at": {"$date": "2025-02-01T10:00:00Z"},
        "batch_id": "undefined",
        "parameters": {"event": "E", "session": "S", "extra": {"extra": {"x": 1}}},
    }
    (tmp_path / "jobs.jsonl").write_text(json.dumps(legacy) + "\n")
    assert "imported 1 jobs" in run("import", "jobs.jsonl").stdout
    doc = json.loads(run("status", "job-legacy-1", "--json").stdout)
    assert doc["job_type"] == "session" and doc["parameters"]["extra"] == {"x": 1}
    assert "cancelled" in run("cancel", "job-legacy-1").stdout
    assert run("cancel", "job-legacy-1", ok=False).exit_code == 1
    assert "pending again" in run("retry", "job-legacy-1").stdout
    run("cancel", "job-legacy-1")
    assert "purged 0 jobs" in run("purge", "--older-than", "1d").stdout
    assert "purged 1 jobs" in run("purge", "--older-than", "0s").stdout


def test_plugins_json_lists_types(run):
    listing = json.loads(run("plugins", "--json").stdout)
    [testjobs] = [p for p in listing if p["name"] == "testjobs"]
    assert testjobs["job_types"] == ["async", "thread", "cpu", "noop", "echo"]
    assert testjobs["available"] and "register_job_handlers" in testjobs["hooks"]


def test_config_file_and_env_precedence(run, tmp_path, monkeypatch):
    (tmp_path / "jobworker.toml").write_text('store = "sqlite:///from-config.db"\n')
    run("submit", "noop")
    assert (tmp_path / "from-config.db").exists()
    monkeypatch.setenv("JOBWORKER_STORE", "sqlite:///from-env.db")
    run("submit", "noop")
    assert (tmp_path / "from-env.db").exists()
    run("--store", "sqlite:///from-flag.db", "submit", "noop")
    assert (tmp_path / "from-flag.db").exists()


def test_cli_reference_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"], capture_output=True
    )
    assert result.returncode == 0, "docs/cli.md is stale: run scripts/gen_cli_docs.py"


def test_batch_submit_with_a_webhook_keeps_its_secret_hidden(run, tmp_path):
    (tmp_path / "b.jsonl").write_text(json.dumps({"job_type": "noop"}) + "\n")
    batch_id = run(
        "batch",
        "submit",
        "b.jsonl",
        "--webhook",
        "https://hooks.example/b",
        "--webhook-secret",
        "topsecret",
    ).stdout.strip()
    doc = json.loads(run("batch", "status", batch_id, "--json").stdout)
    assert doc["webhook"]["url"] == "https://hooks.example/b"
    assert doc["webhook"]["secret"] == "***"
