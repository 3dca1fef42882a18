"""The main text of an HTML page, as light Markdown, with the standard library's parser only.

Scripts, styles, navigation, headers, footers, asides, forms and hidden elements are dropped.
If the page marks its main content (``<main>``, ``<article>``, ``role="main"``, or the
``container`` id/class given), only that is kept. Headings become ``#`` lines, list items
``- `` lines, and block elements separate paragraphs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import attrs

__all__ = ["PageText", "html_to_text"]

_SKIP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "iframe",
        "button",
        "select",
        "textarea",
        "head",
        "canvas",
        "object",
        "dialog",
        "menu",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "ul",
        "ol",
        "table",
        "tr",
        "blockquote",
        "pre",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "hr",
        "br",
        "td",
        "th",
    }
)
_VOID = frozenset(
    {
        "br",
        "hr",
        "img",
        "meta",
        "link",
        "input",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "wbr",
        "param",
    }
)


@attrs.define
class PageText:
    title: str | None
    text: str
    description: str | None = None
    main_found: bool = False  #: the page marked its main content and only that was kept


class _Parser(HTMLParser):
    def __init__(self, container: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.container = container
        self.stack: list[tuple[str, bool, bool]] = []  # tag, skipping, in main
        self.chunks: list[tuple[str, bool]] = []  # text, in main
        self.title: list[str] = []
        self.description: str | None = None
        self.main_seen = False

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    @property
    def in_main(self) -> bool:
        return bool(self.stack) and self.stack[-1][2]

    def _is_main(self, tag: str, attrs_: dict[str, str]) -> bool:
        if self.container:
            name = self.container.lstrip("#.")
            return name == attrs_.get("id") or name in (attrs_.get("class") or "").split()
        return tag in ("main", "article") or attrs_.get("role") == "main"

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs_ = {k: v or "" for k, v in attrs_list}
        if tag == "meta" and attrs_.get("name", "").lower() == "description":
            self.description = attrs_.get("content") or None
        if tag == "title":
            self.stack.append((tag, True, False))
            return
        if tag in _VOID:
            if tag in ("br", "hr") and not self.skipping:
                self.chunks.append(("\n", self.in_main))
            return
        hidden = (
            "hidden" in attrs_
            or attrs_.get("aria-hidden") == "true"
            or re.search(r"display\s*:\s*none", attrs_.get("style", ""))
        )
        skipping = self.skipping or tag in _SKIP or bool(hidden)
        main = self.in_main or (not skipping and self._is_main(tag, attrs_))
        self.main_seen |= main
        self.stack.append((tag, skipping, main))
        if skipping:
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.chunks.append(("\n\n" + "#" * int(tag[1]) + " ", main))
        elif tag == "li":
            self.chunks.append(("\n- ", main))
        elif tag in _BLOCK:
            self.chunks.append(("\n\n", main))

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _, _ in self.stack):
            return
        while self.stack:
            open_tag, skipping, main = self.stack.pop()
            if not skipping and (open_tag in _BLOCK or re.fullmatch(r"h[1-6]", open_tag)):
                self.chunks.append(("\n\n", main))
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "title":
            self.title.append(data)
            return
        if not self.skipping:
            self.chunks.append((data, self.in_main))


def _tidy(raw: str) -> str:
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return re.sub(r"^(#+|-)[ \t]*$\n?", "", text, flags=re.M).strip()


def html_to_text(
    html: str, *, container: str | None = None, max_chars: int | None = None
) -> PageText:
    """The page's title and main text (see the module docstring).

    :param container: keep only the element with this id or class (``"#talk"``, ``".abstract"``).
    :param max_chars: cut the text at this many characters.
    """
    parser = _Parser(container)
    parser.feed(html)
    parser.close()
    main_only = parser.main_seen
    text = _tidy("".join(t for t, main in parser.chunks if main or not main_only))
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    title = " ".join("".join(parser.title).split()) or None
    return PageText(title, text, parser.description, main_only)
