"""A store that cannot be used (issue 11, item 3): read-only, not a database, in a folder that
cannot be made, or unreachable. Every command says so in one line, never a traceback;
``jobworker run --burst`` gives up and exits 1; a long-running worker backs off and says why."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import child_env, wait_until


def jobworker(url: str, *args: str, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobworker", "--store", url, "--plugin", "testjobs", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(),
        timeout=180,
        **kw,
    )


def one_clear_line(out: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1 and fragment in errors[0], out.stderr


@pytest.fixture
def readonly_db(tmp_path) -> Iterator[Path]:
    """A store file with one pending job that this process (even root) cannot write."""
    db = tmp_path / "jobs.db"
    made = jobworker(f"sqlite:///{db}", "submit", "noop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if os.geteuid() == 0:  # root ignores permissions, not the immutable attribute
        assert shutil.which("chattr"), "chattr (e2fsprogs) is needed to test as root"
        subprocess.run(["chattr", "+i", str(db)], check=True)
        yield db
        subprocess.run(["chattr", "-i", str(db)], check=True)
    else:
        db.chmod(0o444)
        tmp_path.chmod(0o555)
        yield db
        tmp_path.chmod(0o755)
        db.chmod(0o644)


def test_read_only_store_burst_worker_exits_1_with_one_line(readonly_db, tmp_path):
    url = f"sqlite:///{readonly_db}"
    out = jobworker(url, "run", "--burst", "--log-console", cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.rstrip().splitlines()[-1].startswith("error: StoreError:")
    assert "readonly" in out.stderr.splitlines()[-1]
    listed = jobworker(url, "list", cwd=tmp_path)  # reading still works
    assert listed.returncode == 0 and "pending" in listed.stdout
    submitted = jobworker(url, "submit", "noop", cwd=tmp_path)
    assert submitted.returncode == 1
    one_clear_line(submitted, "readonly")


def test_read_only_store_long_running_worker_backs_off_and_says_why(readonly_db, tmp_path):
    log = tmp_path.parent / f"{tmp_path.name}-worker.log"
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "jobworker", "--store", f"sqlite:///{readonly_db}"),
                *("--plugin", "testjobs", "run", "--log-json"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=child_env(),
        )
        try:
            wait_until(lambda: log.read_text().count("backing off") >= 2, timeout=60)
            assert worker.poll() is None  # still alive, waiting for the store
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=60)
    text = log.read_text()
    assert code == 0
    assert "Traceback" not in text
    backoffs = [line for line in text.splitlines() if "backing off" in line]
    assert all("readonly" in line and "retry_in" in line for line in backoffs)
    delays = [float(line.split('"retry_in": ')[1].split(",")[0]) for line in backoffs]
    assert delays == sorted(delays) and delays[0] < delays[-1]  # it backs off


@pytest.mark.parametrize("case", ["not-a-database", "folder-is-a-file"])
def test_unusable_sqlite_path_is_one_line_everywhere(case, tmp_path):
    if case == "not-a-database":
        path = tmp_path / "jobs.db"
        path.write_bytes(b"this is not a database, " * 100)
        fragment = "file is not a database"
    else:
        (tmp_path / "afile").write_text("x")
        path = tmp_path / "afile" / "jobs.db"
        fragment = "cannot be used"
    url = f"sqlite:///{path}"
    for args in (["list"], ["submit", "noop"], ["status", "job-x"], ["run", "--burst"]):
        out = jobworker(url, *args, cwd=tmp_path)
        assert out.returncode == 1, (args, out.stderr)
        one_clear_line(out, fragment)


def test_unreachable_mongodb_is_one_line(tmp_path):
    url = "mongodb://127.0.0.1:9/jw?serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    for args in (["list"], ["run", "--burst"]):
        out = jobworker(url, *args, cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        one_clear_line(out, "127.0.0.1:9")
