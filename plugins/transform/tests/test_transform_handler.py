"""The ``transform`` job type through a real worker (process executor, SQLite store)."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest
import worker_plugin_transform
from jobworker.testing import WorkerHarness, run_handler
from worker_plugin_transform import TransformParams

PLUGINS = [worker_plugin_transform]
LOCAL = {"allow_urls": True, "allowed_hosts": ["127.0.0.1"], "allow_private": ["127.0.0.1/32"]}


def run(tmp_path: Path, params: dict, job_type: str = "transform", **settings: object):
    return run_handler(job_type, params, plugins=PLUGINS, tmp_path=tmp_path, settings=settings)


def test_inline_template_with_operations(tmp_path: Path) -> None:
    text = "---\ntitle: Budget\n---\nThe city publishes budget data. Citizens read it."
    got = run(
        tmp_path,
        {
            "text": text,
            "operations": ["front_matter", "detect_language", "summarize"],
            "template_content": "{{ front_matter.title }} ({{ language }}): "
            "{{ summary }} / {{ context.who }}",
            "context": {"who": "me"},
            "summary_sentences": 1,
        },
    )
    assert got.error is None, got.error
    out = got.results["markdown_content"]
    assert out.startswith("Budget (en): ") and out.endswith(" / me")
    data = got.results["structured_data"]
    assert data["front_matter"] == {"title": "Budget"} and data["language"]["language"] == "en"
    assert Path(got.results["markdown_file"]).read_text() == out
    steps = [p.step for p in got.progress]
    assert "rendering" in steps and "analysing" in steps


def test_legacy_transformer_template_with_text_and_template_content_in_extra(
    tmp_path: Path,
) -> None:
    """The old system lost extra.text/extra.template_content; they are honoured here."""
    got = run(
        tmp_path,
        {
            "template": None,
            "url": None,
            "extra": {"text": "hello world", "template_content": "<{{ text | upper }}>"},
        },
        job_type="transformer_template",
    )
    assert got.error is None, got.error
    assert got.results["markdown_content"] == "<HELLO WORLD>"


def test_named_template_from_file_input(tmp_path: Path) -> None:
    (tmp_path / "note.md").write_text(
        "---\nauthor: Ada\n---\nDies ist ein deutscher Text über die Stadt und ihre Bürger."
    )
    got = run(
        tmp_path, {"file_path": "note.md", "template": "Document", "context": {"project": "x"}}
    )
    assert got.error is None, got.error
    out = got.results["markdown_content"]
    assert "author: Ada" in out and "project: x" in out and "language: de" in out


def test_template_attack_fails_the_job_with_a_typed_error(tmp_path: Path) -> None:
    got = run(tmp_path, {"template_content": "{{ 'a' * 10**8 }}"})
    assert got.status.value == "failed"
    assert got.error.code == "TEMPLATE_LIMIT_EXCEEDED"
    got = run(tmp_path / "b", {"template_content": "{{ ''.__class__.__mro__ }}"})
    assert got.error.code == "TEMPLATE_FORBIDDEN"
    got = run(
        tmp_path / "c",
        {
            "template_content": "{% for i in range(99999) %}"
            "{% for j in range(99999) %}{% endfor %}"
            "{% endfor %}"
        },
        max_seconds=1,
    )
    assert got.error.code == "TEMPLATE_LIMIT_EXCEEDED"


def test_bad_parameters_refused_at_submit(tmp_path: Path) -> None:
    for params, message in (
        ({"text": "x"}, "nothing to do"),
        ({"text": "x", "url": "http://a", "template": "Summary"}, "at most one input"),
        ({"text": "x", "operations": ["translate"]}, "translate"),
        ({"template": "Summary", "template_content": "x"}, "not both"),
    ):
        got = run(tmp_path, params)
        assert got.status.value == "failed" and got.error.code == "INVALID_PARAMETERS", params
        assert message in got.error.message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"text": "x"}, "nothing to do"),
        ({"text": "x", "url": "http://a", "template": "Summary"}, "at most one input"),
        ({"text": "x", "operations": ["translate"]}, "translate"),
        ({"operations": ["summarize"]}, "need an input"),
        ({"template": "Summary", "context": "[1]"}, "context must be an object"),
    ],
)
def test_parameter_messages(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TransformParams(**params)


def test_file_outside_input_roots_refused(tmp_path: Path) -> None:
    got = run(tmp_path, {"file_path": "/etc/passwd", "template": "Summary"})
    assert got.error.code == "INPUT_FORBIDDEN"
    (tmp_path / "big.txt").write_text("word " * 100)
    got = run(tmp_path, {"file_path": "big.txt", "template": "Summary"}, max_input_chars=10)
    assert got.error.code == "INPUT_TOO_LARGE"


def test_url_input_allow_list(tmp_path: Path, web_root: tuple[Path, str]) -> None:
    root, base = web_root
    (root / "page.html").write_text(
        "<html><head><title>Page</title></head><body><main>"
        "<p>Served text here.</p></main></body></html>"
    )
    got = run(
        tmp_path,
        {"url": f"{base}/page.html", "template_content": "{{ title }}: {{ text }}"},
        **LOCAL,
    )
    assert got.error is None, got.error
    assert got.results["markdown_content"] == "Page: Served text here."
    # Not enabled, host not allowed, scheme not allowed: refused before any request.
    got = run(tmp_path / "b", {"url": f"{base}/page.html", "template": "Summary"})
    assert got.error.code == "INPUT_FORBIDDEN" and "allow_urls" in got.error.message
    got = run(
        tmp_path / "c",
        {"url": f"{base}/page.html", "template": "Summary"},
        **{**LOCAL, "allowed_hosts": ["example.org"]},
    )
    assert got.error.code == "INPUT_FORBIDDEN" and "allowed hosts" in got.error.message
    got = run(tmp_path / "d", {"url": "ftp://127.0.0.1/x", "template": "Summary"}, **LOCAL)
    assert got.error.code == "INPUT_FORBIDDEN"


def test_source_job_results_and_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker: a job renders another job's results with a template and a transformer that
    third-party plugins registered through the hooks."""
    plugin = tmp_path / "tp_transform_hooks.py"
    plugin.write_text(
        textwrap.dedent("""
        from jobworker import hookimpl

        @hookimpl
        def register_templates(register):
            register("Shout", "{{ text }}!! ({{ source.markdown_content | length }})")

        @hookimpl
        def register_text_transformers(register):
            register("upper", lambda text, instruction, context: text.upper() + instruction)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks = importlib.import_module("tp_transform_hooks")
    store = f"sqlite:///{tmp_path / 'jobworker-test.db'}"
    with WorkerHarness(
        tmp_path, plugins=[*PLUGINS, hooks], settings={"transform": {"store": store}}
    ) as h:
        first = h.client.submit(
            "transform", {"text": "quiet words", "template_content": "{{ text }}"}
        )
        h.run_burst()
        second = h.client.submit(
            "transform",
            {
                "source_job_id": first.job_id,
                "template": "Shout",
                "transformer": "upper",
                "instruction": "?",
            },
        )
        missing = h.client.submit("transform", {"source_job_id": "job-nope", "template": "Shout"})
        unknown = h.client.submit("transform", {"text": "x", "transformer": "nope"})
        h.run_burst()
        done = h.client.get(second.job_id)
        assert done.error is None, done.error
        assert done.results["markdown_content"] == "QUIET WORDS?!! (11)"
        assert h.client.get(missing.job_id).error.code == "INPUT_NOT_FOUND"
        err = h.client.get(unknown.job_id).error
        assert err.code == "INVALID_PARAMETERS" and "upper" in err.message
