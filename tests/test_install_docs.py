"""The docs never tell a user to install from PyPI what is not there (issue 15 item 7): every
`pip install` / `jobworker install` of one of this project's packages names a path, a wheel or
an index of the user's own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = re.compile(r"(?<![\w./-])'?(jobworker|worker-plugin-[\w-]+)(\[[\w,]+\])?'?(?=\s|$)")


def _doc_files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *ROOT.glob("docs/*.md")]
    found += [*ROOT.glob("plugins/*/README.md"), *ROOT.glob("examples/**/README.md")]
    return [p for p in found if ".venv" not in p.parts]


def _shell_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of the shell/console code blocks of a Markdown file (the instructions)."""
    lines: list[tuple[int, str]] = []
    block: str | None = None  # the language of the block we are in
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = re.match(r"\s*```(\w*)", line)
        if fence:
            block = fence[1] if block is None else None
            continue
        if block in ("sh", "bash", "console", "shell", ""):
            lines.append((number, line))
    return lines


def test_no_doc_installs_an_unpublished_name_from_pypi():
    offending = []
    for path in _doc_files():
        for number, line in _shell_lines(path):
            for command in re.findall(r"(?:pip|jobworker) install\b[^#`&;]*", line):
                if "--index-url" in command:
                    continue
                named = [m[0] for m in OURS.finditer(command.split("install", 1)[1])]
                if named:
                    offending.append(f"{path.relative_to(ROOT)}:{number}: {command.strip()}")
    assert offending == []


def test_the_readme_says_plainly_what_is_published():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Installing") : readme.index("## Concepts")]
    assert "**Nothing is published on PyPI**" in section
    for way in ("pip install './core", "jobworker install ./plugins/", "pip wheel", "--index-url"):
        assert way in section
