"""The counting and the report, without a worker."""

from __future__ import annotations

from worker_plugin_wordstats.stats import count_text, render_markdown


def test_counts_words_lines_and_characters():
    stats = count_text(["The cat and the hat.\n", "\n", "A cat!"])
    assert (stats.words, stats.lines, stats.characters) == (7, 3, 26)
    assert stats.top(2) == [("cat", 2), ("the", 2)]  # ties in alphabetical order


def test_words_are_letters_joined_by_apostrophes_or_hyphens():
    stats = count_text(["Don\u2019t e-mail me in 2024, it's __private__ Größe"])
    assert sorted(stats.counts) == ["don\u2019t", "e-mail", "größe", "in", "it's", "me", "private"]


def test_lowercase_off_keeps_case_and_min_length_filters_top_words_only():
    stats = count_text(["Wind wind WIND a"], lowercase=False, min_length=2)
    assert stats.words == 4
    assert stats.top(10) == [("WIND", 1), ("Wind", 1), ("wind", 1)]


def test_report_has_summary_and_ranked_table():
    stats = count_text(["b a b c b a"])
    report = render_markdown(stats, title="x|y", top=2)
    assert report.startswith("# Word statistics: x\\|y\n")
    assert "| words | 6 |" in report
    assert "| 1 | b | 3 | 50.0% |" in report
    assert "| 2 | a | 2 | 33.3% |" in report
    assert "| c |" not in report


def test_report_of_no_words_says_so():
    assert "No words found." in render_markdown(count_text(["1 2 3"]), title="n", top=5)
