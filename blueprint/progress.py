"""Long work shows it is alive: a tqdm bar on stderr, redrawn in place on a terminal and written as one plain
line every ``LINE_INTERVAL_S`` seconds anywhere else (a log file, a notebook, a cluster scheduler's output),
the first after that interval too, so work shorter than it writes nothing there.

``progress(total, desc, status=...)`` returns the ``tqdm`` object: call ``update(1)`` per step and ``close()``
at the end (or use it as a context manager). ``status`` is a function giving the text after the bar (a
running loss, say); it is called only when a line is drawn, so a value it reads from a device costs one
synchronization per drawing, not one per step.
"""

from __future__ import annotations

import sys
from typing import Callable, TextIO

from tqdm import tqdm

LINE_INTERVAL_S = 10.0  # off a terminal: seconds between progress lines


class _Lines:
    """A stream for tqdm off a terminal: each redraw becomes one line, without carriage returns."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _Bar(tqdm):
    """tqdm with a ``status`` function evaluated at each drawing (tqdm's postfix is a fixed string)."""

    def __init__(self, *args, status: Callable[[], str] | None = None, **kwargs):
        self._status = status
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self):
        values = super().format_dict
        if self._status is not None:
            values["postfix"] = self._status()
        return values


def progress(
    total: int,
    desc: str,
    status: Callable[[], str] | None = None,
    enabled: bool = True,
    stream: TextIO | None = None,
    interval: float | None = None,
) -> tqdm:
    """A progress bar over ``total`` steps named ``desc`` on ``stream`` (default: stderr); see the module docstring.

    ``enabled=False`` gives a bar that draws nothing (the processes of a distributed run other than rank 0).
    ``interval`` overrides the seconds between lines off a terminal.
    """
    stream = sys.stderr if stream is None else stream
    terminal = hasattr(stream, "isatty") and stream.isatty()
    if terminal:
        return _Bar(
            total=total, desc=desc, status=status, disable=not enabled, file=stream, leave=False, dynamic_ncols=True
        )
    every = LINE_INTERVAL_S if interval is None else interval
    return _Bar(
        total=total,
        desc=desc,
        status=status,
        disable=not enabled,
        file=_Lines(stream),
        leave=False,
        delay=every,
        mininterval=every,
        maxinterval=max(every, 1e-9),
        miniters=1,
        ncols=100,
        ascii=True,
    )
