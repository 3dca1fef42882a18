"""Session parameters, path sanitising and the partner-plugin check, without a worker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jobworker import DependencyMissing
from worker_plugin_session.api import SessionParams, partner, safe_component, session_paths


def test_required_fields_and_legacy_defaults() -> None:
    with pytest.raises(ValueError, match="event is required"):
        SessionParams(session="Talk")
    with pytest.raises(ValueError, match="session is required"):
        SessionParams(event="Conf", session="  ")
    p = SessionParams(event="Conf", session="Talk")
    assert (p.template_name, p.source_language, p.target_language) == ("Session", "en", "de")
    assert p.create_archive is True and p.use_cache is True and p.speakers == []


def test_speakers_urls_and_flags_accept_legacy_shapes() -> None:
    p = SessionParams(
        event="E",
        session="S",
        speakers=[{"name": "Ada"}, "Bob", ""],
        attachments_url="http://h/a.pdf, http://h/b.pdf",
        create_archive="false",
    )
    assert p.speakers == ["Ada", "Bob"]
    assert p.attachment_urls == ["http://h/a.pdf", "http://h/b.pdf"]
    assert p.create_archive is False
    assert SessionParams(event="E", session="S", speakers="Ada, Bob").speakers == ["Ada", "Bob"]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("..", "untitled"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("CON", "untitled_CON"),
        (" .hidden ", "hidden"),
        ("Über uns: Teil 2?", "Über uns_ Teil 2"),
        ("tab\tand\x00null", "tab_and_null"),
    ],
)
def test_safe_component(raw: str, safe: str) -> None:
    assert safe_component(raw) == safe


def test_session_paths_stay_under_the_output_root(tmp_path: Path) -> None:
    paths = session_paths(tmp_path, "../Conf", "Track/..", "talk.md", "ignored")
    for path in (paths.target_dir, paths.markdown_file, paths.asset_dir, paths.archive_file):
        assert path.resolve().is_relative_to(tmp_path.resolve())
    assert paths.markdown_file.name == "talk.md" and paths.asset_link == "assets/talk"
    untracked = session_paths(tmp_path, "Conf", None, None, "Open data: why?")
    assert untracked.markdown_file == tmp_path / "Conf" / "Open data_ why.md"
    assert len(safe_component("ä" * 200).encode()) <= 120


def test_missing_partner_plugin_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "worker_plugin_video.api", None)  # import blocked
    with pytest.raises(DependencyMissing) as info:
        partner("worker_plugin_video.api", "the transcript of video_url")
    assert "pip install 'worker-plugin-video'" in info.value.message
    assert info.value.code == "DEPENDENCY_MISSING"
    with pytest.raises(DependencyMissing, match="worker-plugin-pdf"):
        monkeypatch.setitem(sys.modules, "worker_plugin_pdf.api", None)
        partner("worker_plugin_pdf.api", "the text of PDF attachments")
