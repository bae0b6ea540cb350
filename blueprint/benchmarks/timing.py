"""How the benchmarks time things that they compare: alternated rounds, medians, spread.

The machine drifts (other processes, turbo, page faults), so the sides of a comparison are timed in
the same process, one call of each per round, the order rotated from round to round so that no side
always runs first; a figure is the median over the rounds, its spread the interquartile range over
that median. Each timed call follows an untimed call of the same side: the side before it may leave
threads spinning (onnxruntime's pool, OpenMP's, OpenBLAS's wait a while for more work before they
sleep) and caches holding its own data, and that cost falls on the untimed call, not on the figure.
"""

from __future__ import annotations

import statistics
import time


def alternated_ms(calls: dict, repeats: int, warmup: int, on_round=None) -> dict[str, list[float]]:
    """Milliseconds of ``repeats`` calls of each of ``calls`` (name -> function of no arguments), one timed
    call of each per round, right after an untimed one, the order rotated from round to round, after
    ``warmup`` untimed rounds; ``on_round()``, if given, after every round (a progress bar's step)."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
        if on_round:
            on_round()
    ms = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            calls[name]()  # settles the threads and caches the previous side left behind
            began = time.perf_counter()
            calls[name]()
            ms[name].append(1e3 * (time.perf_counter() - began))
        if on_round:
            on_round()
    return ms


def median_spread(samples: list[float]) -> tuple[float, float]:
    """Median and interquartile range over the median (0 for fewer than two samples)."""
    median = statistics.median(samples)
    if len(samples) < 2:
        return median, 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return median, (q3 - q1) / median
