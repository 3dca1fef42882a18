"""Hostile inputs to the transform tools end as typed, non-retried errors of their own job, and
page-to-text stays linear: deeply nested templates and front matter, pathological HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
import worker_plugin_transform
from jobworker import UnsupportedInput
from jobworker.testing import WorkerHarness, run_handler
from worker_plugin_transform.api import html_to_text, parse_front_matter
from worker_plugin_transform.htmltext import MAX_DEPTH
from worker_plugin_transform.sandbox import MAX_NESTED_BLOCKS
from worker_plugin_transform.texttools import MAX_FRONT_MATTER_DEPTH


def nested_fors(depth: int) -> str:
    opens = "".join(f"{{% for x{i} in [1] %}}" for i in range(depth))
    return opens + "x" + "{% endfor %}" * depth


def test_nested_templates_and_front_matter_fail_typed_through_the_worker(tmp_path: Path) -> None:
    deep_yaml = "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\nBody"
    jobs = {
        "for_25": {"text": "t", "template_content": nested_fors(25)},
        "for_20": {"text": "t", "template_content": nested_fors(MAX_NESTED_BLOCKS)},
        "yaml": {"text": deep_yaml, "operations": ["front_matter"]},
        "yaml_ok": {"text": "---\na: [[1, {b: 2}]]\n---\nBody", "operations": ["front_matter"]},
    }
    with WorkerHarness(tmp_path, plugins=[worker_plugin_transform]) as h:
        ids = {n: h.client.submit("transform", p, max_attempts=3).job_id for n, p in jobs.items()}
        h.run_burst()
        done = {n: h.client.get(i) for n, i in ids.items()}
    assert done["for_20"].results["markdown_content"] == "x"
    assert done["yaml_ok"].results["structured_data"]["front_matter"] == {"a": [[1, {"b": 2}]]}
    for name, code in (("for_25", "TEMPLATE_LIMIT_EXCEEDED"), ("yaml", "UNSUPPORTED_INPUT")):
        job = done[name]
        assert job.status.value == "failed" and job.attempts == 1, name
        assert job.error.code == code, job.error
        assert "Traceback" not in job.error.message
    details = done["for_25"].error.details
    assert (details["limit"], details["maximum"]) == ("nesting", MAX_NESTED_BLOCKS)
    assert "nested deeper than" in done["yaml"].error.message


def test_front_matter_depth_limit() -> None:
    inner = "{b: " * (MAX_FRONT_MATTER_DEPTH - 2) + "1" + "}" * (MAX_FRONT_MATTER_DEPTH - 2)
    meta, body = parse_front_matter(f"---\na: {inner}\n---\nBody")
    assert "a" in meta and body == "Body"
    block = "".join("  " * i + f"k{i}:\n" for i in range(MAX_FRONT_MATTER_DEPTH + 1))
    with pytest.raises(UnsupportedInput, match="nested deeper"):
        parse_front_matter(f"---\n{block}---\n")


def adversarial_page(depth: int, stray: int) -> str:
    return f"<html><body>{'<div>' * depth}{'</span>' * stray}<p>end</p></body></html>"


@pytest.mark.timeout(60)  # a guard only; the figure is in bench/bench_transform.py
def test_pathological_html_is_linear_and_says_what_it_dropped() -> None:
    page = html_to_text(adversarial_page(100_000, 100_000))  # the case, 1.2 MB
    assert page.text == "" and len(page.warnings) == 1
    assert f"deeper than {MAX_DEPTH} levels" in page.warnings[0]
    shallow = html_to_text(adversarial_page(MAX_DEPTH - 10, 200_000))
    assert shallow.text == "end" and shallow.warnings == []


def test_html_edge_cases() -> None:
    assert html_to_text("").text == "" and html_to_text("   ").title is None
    page = html_to_text(
        "<?xml version='1.0' encoding='latin-1'?><html><head><title>T\x00itle</title></head>"
        "<body><!-- c --><main><p>Caf\u00e9 <svg><title>icon</title></svg>text</p></main>"
        "</body></html>"
    )
    assert (page.title, page.text, page.main_found) == ("Title", "Café text", True)


@pytest.mark.timeout(120)  # a guard only
def test_pathological_html_file_through_the_worker(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Deep</title></head><body><main><p>kept</p>"
        + adversarial_page(100_000, 100_000)
        + "</main></body></html>"
    )
    got = run_handler(
        "transform",
        {"file_path": "page.html", "template_content": "{{ title }}: {{ text }}"},
        plugins=[worker_plugin_transform],
        tmp_path=tmp_path,
    )
    assert got.error is None, got.error
    assert got.results["markdown_content"] == "Deep: kept"
    assert any(level == "warning" and "deeper than" in msg for level, msg in got.logs)
