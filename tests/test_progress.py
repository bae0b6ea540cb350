"""``blueprint.progress``, the one progress reporter of the package (training, the benchmarks, the analysis and
``blueprint verify`` draw their bars with it): off a terminal, a plain line every interval, and the status
computed only when a line is drawn."""

import io
import time

from blueprint.progress import progress


def test_progress_lines_come_only_every_interval_and_the_status_only_when_drawn():
    stream, calls = io.StringIO(), []
    bar = progress(100, "work", status=lambda: calls.append(1) or "ok", stream=stream, interval=3600)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert stream.getvalue() == "" and calls == []  # shorter than the interval: silent, status never computed
    stream = io.StringIO()
    bar = progress(3, "work", status=lambda: "ok", stream=stream, interval=0.0)
    for _ in range(3):
        time.sleep(0.002)
        bar.update(1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3 and lines[-1].startswith("work: 100%") and lines[-1].endswith("ok]")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_disabled_draws_nothing():
    stream = Terminal()
    with progress(3, "work", status=lambda: "ok", stream=stream) as bar:
        for _ in range(3):
            bar.update(1)
    assert "\r" in stream.getvalue() and "work" in stream.getvalue() and "\n" not in stream.getvalue()
    stream = Terminal()
    with progress(3, "work", enabled=False, stream=stream) as bar:
        bar.update(3)
    assert stream.getvalue() == ""
