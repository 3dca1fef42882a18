"""Session jobs that must be refused: fetches outside the allow-list, paths outside the input
roots, oversized pages, template attacks, bad parameters. Plus the progress steps."""

from __future__ import annotations

from pathlib import Path

import worker_plugin_session
import worker_plugin_transform
from jobworker.testing import WorkerHarness, run_handler
from worker_plugin_session.testing import LOCAL, PAGE_TEXT, session_page, slide_deck

PLUGINS = [worker_plugin_session, worker_plugin_transform]
BASE = {"event": "Conf", "session": "Talk"}


def run_all(tmp_path: Path, settings: dict, jobs: dict[str, dict]) -> dict:
    """Submit every job to one worker; return ``{name: finished job}``."""
    with WorkerHarness(tmp_path, plugins=PLUGINS, settings={"session": settings}) as h:
        ids = {name: h.client.submit("session", {**BASE, **p}).job_id for name, p in jobs.items()}
        h.run_burst()
        return {name: h.client.get(job_id) for name, job_id in ids.items()}


def test_progress_steps_for_page_and_attachments(tmp_path: Path, web: tuple[Path, str]) -> None:
    root, base = web
    (root / "p.html").write_text(session_page("Talk"))
    slide_deck(root / "s.pdf")
    got = run_handler(
        "session",
        {**BASE, "url": f"{base}/p.html", "attachments_url": f"{base}/s.pdf"},
        plugins=PLUGINS,
        tmp_path=tmp_path,
        settings=LOCAL,
    )
    assert got.error is None, got.error
    steps = [p.step for p in got.progress]
    for step in (
        "initializing",
        "fetching_page",
        "extracting_attachments",
        "rendering",
        "writing",
        "archiving",
    ):
        assert step in steps
    percents = [p.percent for p in got.progress]
    assert percents == sorted(percents)
    assert PAGE_TEXT in got.results["web_text"]


def test_fetches_outside_the_allow_list_are_refused(tmp_path: Path, web: tuple[Path, str]) -> None:
    root, base = web
    (root / "big.html").write_text(session_page("Big", "x" * 5000))
    done = run_all(
        tmp_path,
        {**LOCAL, "max_page_bytes": 2000},
        {
            "host": {"url": "http://example.org/talk"},
            "scheme": {"url": "ftp://127.0.0.1/talk.html"},
            "data": {"video_url": "data:video/mp4;base64,AAAA"},
            "file": {"attachments_url": "/etc/hosts"},
            "file_url": {"url": "file:///etc/hosts"},
            "traversal": {"url": "../outside/x.html"},
            "too_large": {"url": f"{base}/big.html"},
            "missing": {"url": f"{base}/nope.html"},
        },
    )
    codes = {
        name: (job.status.value, job.error.code if job.error else None)
        for name, job in done.items()
    }
    assert codes == {
        "host": ("failed", "INPUT_FORBIDDEN"),
        "scheme": ("failed", "INPUT_FORBIDDEN"),
        "data": ("failed", "INPUT_FORBIDDEN"),
        "file": ("failed", "INPUT_FORBIDDEN"),
        "file_url": ("failed", "INPUT_FORBIDDEN"),
        "traversal": ("failed", "INPUT_FORBIDDEN"),
        "too_large": ("failed", "INPUT_TOO_LARGE"),
        "missing": ("failed", "INPUT_NOT_FOUND"),
    }


def test_loopback_needs_allow_private(tmp_path: Path, web: tuple[Path, str]) -> None:
    root, base = web
    (root / "p.html").write_text(session_page("Talk"))
    done = run_all(
        tmp_path, {"allowed_hosts": ["127.0.0.1"]}, {"loopback": {"url": f"{base}/p.html"}}
    )
    err = done["loopback"].error
    assert err.code == "INPUT_FORBIDDEN" and "loopback" in err.message


def test_urls_need_an_allow_list(tmp_path: Path, web: tuple[Path, str]) -> None:
    root, base = web
    (root / "p.html").write_text(session_page("Talk"))
    done = run_all(tmp_path, {}, {"no_list": {"url": f"{base}/p.html"}})
    err = done["no_list"].error
    assert err.code == "INPUT_FORBIDDEN" and "allowed_hosts" in err.message


def test_template_attacks_and_unknown_templates(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "Bomb.md.j2").write_text("{{ 'a' * 10**8 }}")
    (templates / "Escape.md.j2").write_text("{{ session.__class__.__mro__ }}")
    (templates / "Loop.md.j2").write_text("{% for i in range(10**9) %}{% endfor %}")
    (templates / "Own.md.j2").write_text("# {{ session }} at {{ event }}")
    done = run_all(
        tmp_path,
        {"template_dirs": [str(templates)]},
        {
            "bomb": {"template": "Bomb"},
            "escape": {"template": "Escape"},
            "loop": {"template": "Loop"},
            "unknown": {"template": "Nope"},
            "own": {"template": "Own"},
        },
    )
    assert done["bomb"].error.code == "TEMPLATE_LIMIT_EXCEEDED"
    assert done["escape"].error.code == "TEMPLATE_FORBIDDEN"
    assert done["loop"].error.code == "TEMPLATE_LIMIT_EXCEEDED"
    assert done["unknown"].error.code == "TEMPLATE_NOT_FOUND"
    assert done["own"].results["markdown_content"] == "# Talk at Conf"


def test_missing_required_parameters_refused_at_submit(tmp_path: Path) -> None:
    got = run_handler("session", {"session": "Talk"}, plugins=PLUGINS, tmp_path=tmp_path)
    assert got.status.value == "failed" and got.error.code == "INVALID_PARAMETERS"
    got = run_handler("session", {**BASE, "speakerz": ["x"]}, plugins=PLUGINS, tmp_path=tmp_path)
    assert got.error.code == "INVALID_PARAMETERS" and "speakerz" in got.error.message
