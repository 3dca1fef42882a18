"""Text tools: language detection, extractive summary, front matter, HTML main text."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobworker import UnsupportedInput
from worker_plugin_transform.api import (
    detect_language,
    html_to_text,
    parse_front_matter,
    render_template,
    slugify,
    summarize,
    to_yaml,
)
from worker_plugin_transform.texttools import split_sentences

GERMAN = (
    "Die Stadt veröffentlicht ihre Haushaltsdaten jedes Jahr im Internet. Viele Bürger "
    "lesen die Zahlen und diskutieren darüber in öffentlichen Sitzungen."
)
ENGLISH = (
    "The city publishes its budget data on the internet every year. Many citizens read "
    "the numbers and discuss them in public meetings."
)


@pytest.mark.parametrize(
    ("text", "lang"),
    [(GERMAN, "de"), (ENGLISH, "en"), ("Ceci est une phrase en français, bien sûr.", "fr")],
)
def test_detect_language(text: str, lang: str) -> None:
    info = detect_language(text)
    assert info["language"] == lang
    assert 0.5 < info["confidence"] <= 1.0


def test_detect_language_candidates_and_too_short() -> None:
    assert detect_language(ENGLISH, ["de", "en"])["language"] == "en"
    assert detect_language("42 !!")["language"] is None


def test_summary_picks_representative_sentences_in_order() -> None:
    text = (
        "Open data portals help cities share budget data. The weather was nice. "
        "Cities publish budget data on open data portals every year. I had coffee. "
        "Budget data from cities helps citizens understand spending."
    )
    summary = summarize(text, 2)
    assert "weather" not in summary and "coffee" not in summary
    first, second = summary.split(". ", 1)
    assert text.index(first) < text.index(second.rstrip("."))
    assert summarize("One sentence only.", 3) == "One sentence only."


def test_front_matter_parsed_dates_as_strings() -> None:
    meta, body = parse_front_matter(
        "---\ntitle: Talk\ndate: 2024-05-01\ntags: [a, b]\n---\n# Body\n"
    )
    assert meta == {"title": "Talk", "date": "2024-05-01", "tags": ["a", "b"]}
    assert body == "# Body\n"
    assert parse_front_matter("# No front matter\n") == ({}, "# No front matter\n")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("---\na: &x [1, 2]\nb: *x\n---\nbody", "anchors"),
        ("---\n- just\n- a list\n---\nbody", "mapping"),
        ("---\na: [unclosed\n---\nbody", "valid YAML"),
        ("---\na: !!python/object:os.system 'ls'\n---\nbody", "valid YAML"),
    ],
)
def test_front_matter_refuses_unsafe_or_invalid_yaml(text: str, why: str) -> None:
    with pytest.raises(UnsupportedInput, match=why):
        parse_front_matter(text)


def test_yaml_round_trip_and_slugify() -> None:
    data = {"title": "Über: uns", "speakers": ["Ada"], "n": 1}
    assert parse_front_matter(f"---\n{to_yaml(data)}\n---\n")[0] == data
    assert slugify("Über uns: Teil 2!") == "uber-uns-teil-2"


def test_text_tools_as_template_filters() -> None:
    out = render_template(
        template_content=(
            "{{ text | detect_language }}|{{ (text | language_info).confidence > 0.5 }}|"
            "{{ md | front_matter | tojson }}|{{ md | strip_front_matter | trim }}|"
            "{{ text | sentences | length }}"
        ),
        variables={"text": GERMAN, "md": "---\na: 1\n---\nBody"},
        registered={},
    )
    assert out == 'de|True|{"a": 1}|Body|2'


def test_html_main_text() -> None:
    page = html_to_text(
        "<html><head><title>A &amp; B</title><meta name='description' content='About'>"
        "<script>var x = 'no';</script></head><body><nav>Menu</nav><header>Logo</header>"
        "<main><h1>Talk</h1><p>First <b>bold</b> line.<br>Second line.</p>"
        "<ul><li>One</li><li>Two</li></ul><div style='display: none'>hidden</div></main>"
        "<footer>Imprint</footer></body></html>"
    )
    assert page.title == "A & B" and page.description == "About" and page.main_found
    assert page.text == "# Talk\n\nFirst bold line.\nSecond line.\n\n- One\n- Two"


def test_html_without_main_keeps_body_text_and_container_option() -> None:
    html = (
        "<body><div id='menu'>Menu</div><div class='talk abstract'><p>Abstract text.</p>"
        "</div><p>Other</p></body>"
    )
    assert html_to_text(html).text == "Menu\n\nAbstract text.\n\nOther"
    assert html_to_text(html, container=".abstract").text == "Abstract text."


ALICE = (Path(__file__).resolve().parents[3] / "examples/jobs/texts/alice.txt").read_text()


@pytest.mark.parametrize("words", [20, 40, 60, 120])
def test_summary_has_a_set_length(words: int) -> None:
    """A summary of at most ``words`` words, never the whole text (issue 15: the demo's
    "summary" used to be all 253 words of its input)."""
    summary = summarize(ALICE, 3, max_words=words)
    assert 5 <= len(summary.split()) <= words + 1  # +1: the "…" of a cut sentence
    assert len(summary.split()) < len(ALICE.split())
    for sentence in summary.rstrip(" …").split('?" '):
        assert " ".join(sentence.split()[:6]) in " ".join(ALICE.split())  # extractive
    assert all(len(s.split()) >= 4 for s in split_sentences(summary))  # no "Oh dear!" filler


def test_a_summary_job_reports_its_length_and_the_template_uses_that_summary(
    tmp_path: Path,
) -> None:
    import worker_plugin_transform
    from jobworker.testing import run_handler

    (tmp_path / "alice.txt").write_text(ALICE)
    run = run_handler(
        "transform",
        {
            "file_path": "alice.txt",
            "template": "Summary",
            "operations": ["summarize"],
            "summary_words": 40,
        },
        plugins=[worker_plugin_transform],
        tmp_path=tmp_path,
    )
    assert run.error is None, run.error
    data = run.results["structured_data"]
    assert data["input_words"] == 253 and data["summary_words"] <= 40
    assert data["summary"] in run.results["markdown_content"]  # one summary, not two


def test_session_markdown_does_not_repeat_the_main_heading() -> None:
    page = html_to_text(
        "<html><head><title>Open budgets</title></head><body><main><h1>Open budgets</h1>"
        "<p>Cities publish their budgets.</p><h2>Format</h2><p>A talk.</p></main></body></html>"
    )
    variables = dict.fromkeys(
        [
            "track",
            "day",
            "starttime",
            "endtime",
            "speakers",
            "url",
            "video_url",
            "attachments_url",
            "source_language",
            "video_transcript",
            "attachments_text",
            "attachments",
        ]
    )
    markdown = render_template(
        "Session",
        {**variables, "session": "Open budgets", "event": "E", "web_text": page.text},
    )
    body = markdown.split("---", 2)[2]
    assert body.count("Open budgets") == 1  # the document's own heading only
    assert "## Description\n\nCities publish their budgets." in body
    assert "## Format" in body  # other headings stay
