"""How blueprint draws a figure: as wide as the book's text column, no text smaller than 10 pt there.

The book (sphinx-book-theme in a 1280 px window) shows every figure at the width of its text column, 672 CSS px,
which is 7 inches at CSS's 96 px to the inch. A figure drawn ``COLUMN_INCHES`` wide is shown at its own size, so
a label of 10 pt reads as 10 pt; one drawn 11 inches wide is shrunk to 61%, its 9 pt labels to 5.5 pt. So every
figure is made by ``figure`` (``COLUMN_INCHES`` wide, matplotlib's constrained layout) and written by ``save``,
which refuses a figure whose smallest text would be shown below ``MIN_FONT_PT`` and records, in the PNG's text
chunks ``FONT_KEY`` and ``DPI_KEY``, the two numbers that decide it, so that the book's browser test can check
the size a reader sees. matplotlib's default sizes (10 pt text, 12 pt titles) need no change; only a smaller
``fontsize`` would fail.

``DPI`` is two device pixels per CSS px, so that a figure stays sharp on a high-density screen and when a click
opens it at full size.
"""

from __future__ import annotations

import io
import os
import struct

from matplotlib.figure import Figure
from matplotlib.text import Text

from blueprint.paths import atomic_write

COLUMN_INCHES = 7.0
MIN_FONT_PT = 10.0
DPI = 192
FONT_KEY, DPI_KEY = "blueprint:smallest-font-pt", "blueprint:dpi"


def figure(height: float, width: float = COLUMN_INCHES) -> Figure:
    """A ``Figure`` of ``width`` x ``height`` inches with constrained layout (nothing drawn past its edges)."""
    return Figure(figsize=(width, height), layout="constrained")


def smallest_font_pt(fig: Figure) -> float:
    """The size in points of the smallest visible, non-empty text of ``fig`` (titles, labels, ticks, legends)."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=MIN_FONT_PT)


def png_width(data: bytes) -> int:
    """The width in pixels of a PNG, from its IHDR chunk."""
    return struct.unpack(">I", data[16:20])[0]


def save(fig: Figure, path) -> None:
    """Write ``fig`` to ``path`` as PNG at ``DPI``, cropped to what is drawn, its smallest font and DPI recorded.

    Raises ``ValueError`` if, shown at the column's width, the figure's smallest text would be below
    ``MIN_FONT_PT`` (a figure wider than ``COLUMN_INCHES`` is shrunk, and its text with it).
    """
    smallest = smallest_font_pt(fig)
    buffer = io.BytesIO()
    metadata = {FONT_KEY: f"{smallest:g}", DPI_KEY: str(DPI)}
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0, metadata=metadata)
    data = buffer.getvalue()
    width = png_width(data) / DPI  # inches, after cropping
    shown = smallest * min(1.0, COLUMN_INCHES / width)
    if shown < MIN_FONT_PT:
        raise ValueError(
            f"fig: {os.fspath(path)} would show its smallest text ({smallest:g} pt in a figure {width:.1f} in wide) "
            f"at {shown:.1f} pt in the book's {COLUMN_INCHES:g} in column; expected at least {MIN_FONT_PT:g} pt"
        )
    atomic_write(path, lambda f: f.write(data))
