"""The lessons' figures as HTML figures: each image a link to itself, its caption a ``<figcaption>`` and its alt.

A lesson shows a figure and then its caption as Markdown (``blueprint.course.kit.show``: ``**Figure.** ...``);
MyST-NB renders the two as an ``<img>`` and a ``<p>`` in one cell output. ``write(html)`` rewrites every page of
the built site so that the pair becomes ``<figure><a href=image><img alt=caption></a><figcaption>``: a click
enlarges the image, a screen reader reads the caption, and the caption is text, not pixels.
"""

from __future__ import annotations

import html as markup
import re
from pathlib import Path

# MyST-NB's rendering of an image output, optionally followed by the caption paragraph the lesson printed.
OUTPUT_IMAGE = re.compile(
    r'<img alt="[^"]*" src="(?P<src>[^"]+)" />\s*(?:<p><strong>Figure\.</strong>\s*(?P<caption>.*?)</p>)?', re.S
)
TAG = re.compile(r"<[^>]+>")
DOLLAR_MATH = re.compile(r"\$([^$]+)\$")  # a caption's inline math, which MyST-NB leaves as it was printed


def as_figure(match: re.Match) -> str:
    src, caption = match["src"], match["caption"]
    alt = markup.escape(" ".join(markup.unescape(TAG.sub("", caption or "")).replace("$", "").split()), quote=True)
    if caption:  # typeset by MathJax, as the lessons' own math is
        caption = DOLLAR_MATH.sub(r'<span class="math notranslate nohighlight">\\(\1\\)</span>', caption)
    image = f'<a class="figure-link" href="{src}" title="open the full-size image"><img alt="{alt}" src="{src}" /></a>'
    figcaption = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="lesson-figure">{image}{figcaption}</figure>'


def write(html: Path) -> int:
    """Rewrite the lesson pages under ``html/lessons``; return how many figures were rewritten."""
    count = 0
    for page in sorted((html / "lessons").glob("*.html")):
        text, n = OUTPUT_IMAGE.subn(as_figure, page.read_text(encoding="utf-8"))
        page.write_text(text, encoding="utf-8")
        count += n
    return count
