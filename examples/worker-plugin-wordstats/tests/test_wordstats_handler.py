"""The ``wordstats`` job type through jobworker.testing: real validation, context and worker."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_wordstats
from jobworker.testing import WorkerHarness, run_handler

PLUGINS = [worker_plugin_wordstats]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_file_under_the_input_root(tmp_path):
    write(tmp_path / "in" / "poem.txt", "Roses are red\nviolets are blue\n")
    run = run_handler(
        "wordstats",
        {"file_path": "poem.txt", "top": 1},
        plugins=PLUGINS,
        tmp_path=tmp_path,
        input_roots=[tmp_path / "in"],
    )
    assert run.error is None, run.error
    data = run.results["structured_data"]
    assert (data["words"], data["lines"], data["top_words"]) == (
        6,
        2,
        [{"word": "are", "count": 2}],
    )
    report = Path(run.results["markdown_file"])
    assert report.name == "wordstats.md"
    assert report.read_text(encoding="utf-8") == run.results["markdown_content"]
    assert "# Word statistics: poem.txt" in run.results["markdown_content"]
    assert ("info", "counted 6 words (5 distinct) in 2 lines of poem.txt") in run.logs
    steps = [p.step for p in run.progress]
    assert steps.index("reading") < steps.index("writing report") < steps.index("done")
    assert run.progress[-1].percent == 100
    assert [p.percent for p in run.progress] == sorted(p.percent for p in run.progress)


def test_inline_text_and_options(tmp_path):
    run = run_handler(
        "wordstats",
        {"text": "Wind wind WIND a", "lowercase": False, "min_length": 2},
        plugins=PLUGINS,
        tmp_path=tmp_path,
    )
    assert run.error is None, run.error
    data = run.results["structured_data"]
    assert data["source"] == "inline"
    assert [t["word"] for t in data["top_words"]] == ["WIND", "Wind", "wind"]


def test_progress_while_counting_a_long_file(tmp_path):
    write(tmp_path / "long.txt", "lorem ipsum dolor\n" * 10_000)
    run = run_handler("wordstats", {"file_path": "long.txt"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.results["structured_data"]["words"] == 30_000
    counting = [p for p in run.progress if p.step == "counting"]
    assert len(counting) >= 5
    assert counting[0].message == "2000 lines"


def test_empty_text_completes_with_a_warning(tmp_path):
    run = run_handler("wordstats", {"text": "1234 -- 5678"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.status.value == "completed"
    assert run.results["structured_data"]["top_words"] == []
    assert ("warning", "no words found in inline text") in run.logs


BAD_PARAMETERS = [
    ({}, "exactly one of file_path and text"),
    ({"text": "a", "file_path": "a.txt"}, "exactly one of file_path and text"),
    ({"text": "a", "top": 0}, "'top' must be >= 1"),
    ({"text": "a", "top": 101}, "'top' must be <= 100"),
    ({"text": "a", "min_length": 0}, "'min_length' must be >= 1"),
    ({"text": "a", "top": "many"}, "top"),
    ({"text": "a", "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("params", "fragment"), BAD_PARAMETERS)
def test_bad_parameters_are_refused_at_submit(tmp_path, params, fragment):
    run = run_handler("wordstats", params, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.error.code == "INVALID_PARAMETERS"
    assert fragment in run.error.message
    assert run.results is None and run.progress == []  # nothing ran


def test_path_outside_the_input_roots_is_refused(tmp_path):
    secret = write(tmp_path / "secret.txt", "top secret")
    (tmp_path / "in").mkdir()
    run = run_handler(
        "wordstats",
        {"file_path": "../secret.txt"},
        plugins=PLUGINS,
        tmp_path=tmp_path,
        input_roots=[tmp_path / "in"],
    )
    assert run.error.code == "INPUT_FORBIDDEN"
    run = run_handler(
        "wordstats",
        {"file_path": str(secret)},
        plugins=PLUGINS,
        tmp_path=tmp_path,
        input_roots=[tmp_path / "in"],
    )
    assert run.error.code == "INPUT_FORBIDDEN"


def test_missing_binary_and_oversized_files(tmp_path):
    run = run_handler("wordstats", {"file_path": "nope.txt"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.error.code == "INPUT_NOT_FOUND"

    (tmp_path / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    run = run_handler("wordstats", {"file_path": "image.bin"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.error.code == "UNSUPPORTED_INPUT"
    assert "binary" in run.error.message

    (tmp_path / "latin1.txt").write_bytes("Größe\n".encode("latin-1"))
    run = run_handler("wordstats", {"file_path": "latin1.txt"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert run.error.code == "UNSUPPORTED_INPUT"
    assert "not UTF-8" in run.error.message

    write(tmp_path / "big.txt", "word " * 100)
    run = run_handler(
        "wordstats",
        {"file_path": "big.txt"},
        plugins=PLUGINS,
        tmp_path=tmp_path,
        settings={"max_bytes": 100},
    )
    assert run.error.code == "INPUT_TOO_LARGE"
    assert run.error.details["limit"] == 100


def test_a_batch_through_a_real_worker(tmp_path):
    write(tmp_path / "a.txt", "one two two\n")
    write(tmp_path / "b.txt", "three three three\n")
    with WorkerHarness(tmp_path, plugins=PLUGINS) as h:
        batch = h.client.submit_batch(
            [
                {"job_type": "wordstats", "parameters": {"file_path": "a.txt"}},
                {"job_type": "wordstats", "parameters": {"file_path": "b.txt", "top": 1}},
                {"job_type": "wordstats", "parameters": {"file_path": "missing.txt"}},
            ]
        )
        h.run_burst()
        jobs = {j.parameters.extra["file_path"]: j for j in h.client.list(batch_id=batch.batch_id)}
        done = h.client.batch(batch.batch_id)
    assert (done.completed_jobs, done.failed_jobs) == (2, 1)
    assert jobs["a.txt"].results["structured_data"]["top_words"][0] == {"word": "two", "count": 2}
    assert jobs["b.txt"].results["structured_data"]["words"] == 3
    assert jobs["missing.txt"].error.code == "INPUT_NOT_FOUND"
    assert jobs["missing.txt"].attempts == 1  # an input error is not retried
    assert Path(jobs["a.txt"].results["markdown_file"]).parent.name == jobs["a.txt"].job_id
