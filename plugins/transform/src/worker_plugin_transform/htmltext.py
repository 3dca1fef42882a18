"""The main text of an HTML page, as light Markdown: lxml (libxml2) parses, one linear walk
over the tree keeps the text.

Scripts, styles, navigation, headers, footers, asides, forms and hidden elements are dropped.
If the page marks its main content (``<main>``, ``<article>``, ``role="main"``, or the
``container`` id/class given), only that is kept. Headings become ``#`` lines, list items
``- `` lines, and block elements separate paragraphs.

Cost is linear in the page's size: libxml2's parser looks for the open element a stray end tag
names at most :data:`MAX_DEPTH` levels up, and the walk visits each element twice, without
recursion. A page nested deeper than :data:`MAX_DEPTH` elements is cut there, and
:attr:`PageText.warnings` says so.
"""

from __future__ import annotations

import re

import attrs
from lxml import etree
from lxml import html as lxml_html

__all__ = ["MAX_DEPTH", "PageText", "html_to_text"]

#: libxml2's element depth limit without ``huge_tree``; text nested deeper is dropped.
MAX_DEPTH = 256

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
    warnings: list[str] = attrs.Factory(list)  #: e.g. the page was cut at ``MAX_DEPTH``


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_DISPLAY_NONE = re.compile(r"display\s*:\s*none")


class _Walk:
    """One pass over the tree, collecting ``chunks`` of ``(text, in main)``."""

    def __init__(self, container: str | None) -> None:
        self.container = container.lstrip("#.") if container else None
        self.chunks: list[tuple[str, bool]] = []
        self.main_seen = False

    def _is_main(self, el: etree._Element) -> bool:
        if self.container:
            classes = (el.get("class") or "").split()
            return self.container == el.get("id") or self.container in classes
        return el.tag in ("main", "article") or el.get("role") == "main"

    def run(self, root: etree._Element) -> None:
        stack: list[tuple[bool, bool]] = [(False, False)]  # (skipping, in main) per open element
        emit = self.chunks.append
        for event, el in etree.iterwalk(root, events=("start", "end")):
            tag = el.tag if isinstance(el.tag, str) else ""  # comments and PIs have no name
            if event == "start":
                skipping, main = stack[-1]
                if tag in _VOID:
                    if tag in ("br", "hr") and not skipping:
                        emit(("\n", main))
                elif tag and not skipping:
                    skipping = tag in _SKIP or _hidden(el)
                    main = main or (not skipping and self._is_main(el))
                    self.main_seen |= main
                stack.append((skipping, main))
                if skipping or not tag or tag in _VOID:
                    continue
                if tag in _HEADINGS:
                    emit(("\n\n" + "#" * int(tag[1]) + " ", main))
                elif tag == "li":
                    emit(("\n- ", main))
                elif tag in _BLOCK:
                    emit(("\n\n", main))
                if el.text:
                    emit((el.text, main))
            else:
                skipping, main = stack.pop()
                if not skipping and tag not in _VOID and (tag in _HEADINGS or tag in _BLOCK):
                    emit(("\n\n", main))
                parent_skipping, parent_main = stack[-1]
                if el.tail and not parent_skipping:
                    emit((el.tail, parent_main))


def _hidden(el: etree._Element) -> bool:
    return (
        "hidden" in el.attrib
        or el.get("aria-hidden") == "true"
        or bool(_DISPLAY_NONE.search(el.get("style") or ""))
    )


def _tidy(raw: str) -> str:
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return re.sub(r"^(#+|-)[ \t]*$\n?", "", text, flags=re.M).strip()


def _parse(html: str) -> tuple[etree._Element | None, list[str]]:
    parser = lxml_html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    data = html.replace("\x00", "").encode("utf-8", "replace")
    try:
        root = etree.fromstring(data, parser) if data.strip() else None
    except etree.XMLSyntaxError:  # nothing parseable at all
        root = None
    deep = any("Excessive depth" in e.message for e in parser.error_log)
    warnings = [
        f"the page nests elements deeper than {MAX_DEPTH} levels: the text after that point "
        "was dropped"
    ]
    return root, warnings if deep else []


def _title(root: etree._Element) -> str | None:
    for el in root.iter("title"):
        if not any(a.tag == "svg" for a in el.iterancestors()):
            return " ".join("".join(el.itertext()).split()) or None
    return None


def _description(root: etree._Element) -> str | None:
    for el in root.iter("meta"):
        if (el.get("name") or "").lower() == "description":
            return el.get("content") or None
    return None


def html_to_text(
    html: str, *, container: str | None = None, max_chars: int | None = None
) -> PageText:
    """The page's title and main text (see the module docstring).

    :param container: keep only the element with this id or class (``"#talk"``, ``".abstract"``).
    :param max_chars: cut the text at this many characters.
    """
    root, warnings = _parse(str(html))
    if root is None:
        return PageText(None, "", None, False, warnings)
    walk = _Walk(container)
    walk.run(root)
    main_only = walk.main_seen
    text = _tidy("".join(t for t, main in walk.chunks if main or not main_only))
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    return PageText(_title(root), text, _description(root), main_only, warnings)
