"""File parameters resolved against the input roots (``resolve_under``, the one place every
handler's ``ctx.resolve_input`` goes through): paths the operating system cannot take end as
typed, non-retried ``INVALID_PARAMETERS`` errors of their own job, and the worker carries on."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from jobworker import (
    InputForbidden,
    InputNotFound,
    InvalidParameters,
    JobContext,
    JobHandler,
    hookimpl,
    resolve_under,
)
from jobworker.testing import WorkerHarness


@attrs.define
class ReadParams:
    file_path: str


def read_file(ctx: JobContext) -> dict[str, object]:
    return {"text": ctx.resolve_input(ctx.params.file_path).read_text()}


class ReadPlugin:
    @hookimpl
    def register_job_handlers(self, register):  # type: ignore[no-untyped-def]
        register(JobHandler("read", read_file, params=ReadParams, executor="thread"))


BAD_PATHS = {
    "nul": "notes\x00.txt",
    "long_name": "n" * 5000,
    "long_path": "/".join(["d" * 200] * 30),
}


@pytest.mark.parametrize("name", sorted(BAD_PATHS))
def test_unusable_paths_are_invalid_parameters(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        resolve_under(BAD_PATHS[name], [tmp_path])
    assert len(info.value.message) < 400 and len(str(info.value.details["path"])) < 260


def test_other_outcomes_are_unchanged(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    assert resolve_under("a.txt", [tmp_path]) == tmp_path / "a.txt"
    with pytest.raises(InputNotFound):
        resolve_under("b.txt", [tmp_path])
    with pytest.raises(InputForbidden):
        resolve_under("../x" + "n" * 5000, [tmp_path / "inner"])


def test_bad_paths_fail_their_own_jobs_only(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine")
    with WorkerHarness(tmp_path / "jw", plugins=[ReadPlugin()], input_roots=[tmp_path]) as h:
        ids = {
            name: h.client.submit("read", {"file_path": path}, max_attempts=3).job_id
            for name, path in {**BAD_PATHS, "good": "good.txt"}.items()
        }
        h.run_burst()
        jobs = {name: h.client.get(job_id) for name, job_id in ids.items()}
    assert jobs.pop("good").results["text"] == "fine"
    for name, job in jobs.items():
        assert job.status.value == "failed" and job.attempts == 1, name
        assert job.error.code == "INVALID_PARAMETERS", (name, job.error)
        assert "not a usable file path" in job.error.message
