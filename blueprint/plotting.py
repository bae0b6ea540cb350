"""How blueprint draws a figure: as wide as the book's text column, no text smaller than 10 pt there.

The book (sphinx-book-theme in a 1280 px window) shows every figure at the width of its text column, 672 CSS px,
which is 7 inches at CSS's 96 px to the inch. A figure drawn ``COLUMN_INCHES`` wide is shown at its own size, so
a label of 10 pt reads as 10 pt; one drawn 11 inches wide is shrunk to 61%, its 9 pt labels to 5.5 pt. So every
figure is made by ``figure`` (``COLUMN_INCHES`` wide, matplotlib's constrained layout) and written by ``save``,
which records, in the PNG's text chunks ``FONT_KEY`` and ``DPI_KEY``, the two numbers that decide the size a
reader sees. matplotlib's default sizes (10 pt text, 12 pt titles) need no change; only a smaller ``fontsize``
(or a matplotlibrc with small fonts, or a title so long that it widens the figure) reads below ``MIN_FONT_PT``.

The library's commands (``blueprint train``'s curves, ``blueprint analyze``, the benchmarks' figures) must never
fail over a font size, and they respect the user's matplotlibrc: ``save`` then writes the PNG all the same and
warns (``SmallTextWarning``). The book is strict where its figures enter it: ``check_readable`` raises for a PNG
that would read below ``MIN_FONT_PT`` (the lessons' ``blueprint.course.kit`` calls it on every figure it shows,
the book's build on every figure of the Performance page), and the test suite turns ``SmallTextWarning`` into an
error (``pyproject.toml``).

``DPI`` is two device pixels per CSS px, so that a figure stays sharp on a high-density screen and when a click
opens it at full size.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.text import Text

from blueprint.paths import atomic_write

COLUMN_INCHES = 7.0
MIN_FONT_PT = 10.0
DPI = 192
FONT_KEY, DPI_KEY = "blueprint:smallest-font-pt", "blueprint:dpi"


class SmallTextWarning(UserWarning):
    """A figure written by ``save`` whose smallest text would read below ``MIN_FONT_PT`` in the book's column."""


def figure(height: float, width: float = COLUMN_INCHES) -> Figure:
    """A ``Figure`` of ``width`` x ``height`` inches with constrained layout (nothing drawn past its edges)."""
    return Figure(figsize=(width, height), layout="constrained")


def smallest_font_pt(fig: Figure) -> float:
    """The size in points of the smallest visible, non-empty text of ``fig`` (titles, labels, ticks, legends)."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=MIN_FONT_PT)


def small_text(data: bytes) -> str | None:
    """What makes the PNG ``data`` (written by ``save``) unreadable in the book's column, or None if nothing does:
    its smallest text, scaled by ``COLUMN_INCHES`` over its width when it is wider, below ``MIN_FONT_PT``, or no
    record of its font and DPI (not written by ``save``)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        texts, width_px = dict(getattr(image, "text", {})), image.width
    if FONT_KEY not in texts or DPI_KEY not in texts:
        return f"has no record of its smallest font ({FONT_KEY}, {DPI_KEY}): it was not written by blueprint.plotting"
    smallest, width = float(texts[FONT_KEY]), width_px / float(texts[DPI_KEY])  # pt, inches
    shown = smallest * min(1.0, COLUMN_INCHES / width)
    if shown >= MIN_FONT_PT:
        return None
    return (
        f"would show its smallest text ({smallest:g} pt in a figure {width:.1f} in wide) at {shown:.1f} pt in the "
        f"book's {COLUMN_INCHES:g} in column; expected at least {MIN_FONT_PT:g} pt"
    )


def save(fig: Figure, path) -> None:
    """Write ``fig`` to ``path`` as PNG at ``DPI``, cropped to what is drawn, its smallest font and DPI recorded.

    A figure whose smallest text the book's column would show below ``MIN_FONT_PT`` (``small_text``) is written
    all the same, with a ``SmallTextWarning``: a training run or an analysis never fails over a font size.
    """
    buffer = io.BytesIO()
    metadata = {FONT_KEY: f"{smallest_font_pt(fig):g}", DPI_KEY: str(DPI)}
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0, metadata=metadata)
    data = buffer.getvalue()
    problem = small_text(data)
    if problem is not None:
        warnings.warn(f"{os.fspath(path)} {problem}", SmallTextWarning, stacklevel=2)
    atomic_write(path, lambda f: f.write(data))


def check_readable(path) -> None:
    """Raise ``ValueError`` if the PNG at ``path`` would show text below ``MIN_FONT_PT`` in the book's column, or
    was not written by ``save`` (``small_text``); the book calls it on every figure it shows."""
    problem = small_text(Path(path).read_bytes())
    if problem is not None:
        raise ValueError(f"figure: {os.fspath(path)} {problem}")
