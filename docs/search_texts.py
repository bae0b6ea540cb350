"""Search snippets that work from ``file://``: each page's main text, written beside the site as a script.

Sphinx's search page shows a snippet of each result by fetching the result's HTML, which a browser refuses
for ``file://`` URLs (the book is meant to be opened from disk). ``write(html)`` stores every page's article
text in ``_static/search-texts.js`` (``window.BOOK_SEARCH_TEXTS = {page: text}``), which a ``<script>`` tag
may load from disk; ``_static/book.js`` answers the search page's fetches from it when the page is a file.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

SKIP = {"script", "style"}


class MainText(HTMLParser):
    """The text of the page's ``<article>`` (its content, without the navigation), without scripts, styles and
    header links."""

    def __init__(self):
        super().__init__()
        self.depth, self.skipping, self.parts = 0, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            self.depth += tag not in VOID
        elif tag == "article":
            self.depth = 1
        if self.depth and (tag in SKIP or "headerlink" in (attrs.get("class") or "")):
            self.skipping += 1

    def handle_endtag(self, tag):
        if self.depth:
            if self.skipping and (tag in SKIP or tag == "a"):
                self.skipping -= 1
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skipping:
            self.parts.append(data)


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def main_text(page: Path) -> str:
    parser = MainText()
    parser.feed(page.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.parts).split())


def write(html: Path) -> Path:
    """Write ``html/_static/search-texts.js`` from every page of the built site; return its path."""
    texts = {
        str(page.relative_to(html).with_suffix("")): main_text(page)
        for page in sorted(html.rglob("*.html"))
        if page.name not in ("search.html", "genindex.html") and "_static" not in page.parts
    }
    path = html / "_static" / "search-texts.js"
    path.write_text(f"window.BOOK_SEARCH_TEXTS = {json.dumps(texts)};\n", encoding="utf-8")
    return path
