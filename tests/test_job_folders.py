"""A job's folders never leave their root, whatever id a document written by others carries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jobworker
import pytest
from jobworker import JobHandler, hookimpl
from jobworker.errors import JobFailure
from jobworker.handler import job_folder_name
from jobworker.model import folder_name_problem, new_job_id
from jobworker.testing import WorkerHarness

BAD_IDS = ["../outside", "a/b", "..", ".cache", "", "x\\y", "nul\x00id", "j" * 300]


@pytest.mark.parametrize("job_id", BAD_IDS)
def test_ids_that_cannot_name_a_folder_are_refused(job_id: str) -> None:
    assert folder_name_problem(job_id) is not None
    with pytest.raises(JobFailure) as caught:
        job_folder_name(job_id)
    assert caught.value.code == "INVALID_DOCUMENT"


@pytest.mark.parametrize("job_id", [new_job_id(), "legacy_42", "JOB-ÄÖÜ.v2"])
def test_ordinary_ids_name_their_folder(job_id: str) -> None:
    assert folder_name_problem(job_id) is None
    assert job_folder_name(job_id) == job_id


def test_import_refuses_an_id_that_would_leave_the_output_root(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'jobs.db'}"
    jobs = tmp_path / "jobs.jsonl"
    good = {"job_id": "job-ok", "job_type": "wordstats", "status": "pending", "parameters": {}}
    evil = dict(good, job_id="../../escape")
    jobs.write_text(json.dumps(good) + "\n" + json.dumps(evil) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "jobworker", "--store", db, "import", str(jobs)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "../../escape" in done.stderr and "output folder" in done.stderr
    client = jobworker.connect(db)
    assert client.get("job-ok") is None  # nothing imported when one document is refused


class ScratchPlugin:
    """Writes a file into the attempt's scratch folder and reports where it was."""

    seen: list[Path] = []

    @hookimpl
    def register_job_handlers(self, register):  # type: ignore[no-untyped-def]
        def use_scratch(ctx):  # type: ignore[no-untyped-def]
            (ctx.scratch_dir / "part.bin").write_bytes(b"x" * 100)
            ScratchPlugin.seen.append(ctx.scratch_dir)

        async def use_scratch_async(ctx):  # type: ignore[no-untyped-def]
            use_scratch(ctx)

        register(JobHandler("scratch.thread", use_scratch, executor="thread"))
        register(JobHandler("scratch.async", use_scratch_async, executor="async"))


def test_each_attempt_s_scratch_folder_is_removed_when_it_ends(tmp_path: Path) -> None:
    ScratchPlugin.seen.clear()
    with WorkerHarness(tmp_path, plugins=[ScratchPlugin()]) as h:
        ids = [h.client.submit(t, {}).job_id for t in ("scratch.thread", "scratch.async") * 2]
        h.run_burst()
        assert [h.client.get(i).status.value for i in ids] == ["completed"] * 4
    assert sorted(p.name for p in ScratchPlugin.seen) == sorted(f"{i}-1" for i in ids)
    assert not any(p.exists() for p in ScratchPlugin.seen)
