"""The checker behind ``blueprint verify``: choose entries, run them on fresh cases, summarize, write JSON.

Case i of an entry is drawn from ``numpy.random.default_rng([seed, crc32(entry.stream), i])`` (the backends'
agreement entries of one op share a stream, so they see the same cases); ``run(select(EQUATIONS, [key]), seed,
i + 1)`` reruns it exactly. A case that raises counts as a disagreement with an infinite error. ``run`` yields
one ``Summary`` per entry as it finishes, so a caller interrupted half way still holds the entries done.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import zlib
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator


@dataclass
class Summary:
    """What the cases of one entry found: the worst case relative to its tolerance, the first failure."""

    key: str
    name: str
    statement: str
    backends: list
    cases: int = 0
    max_error: float = 0.0
    tolerance: float = 0.0
    failures: int = 0
    first_failure: dict | None = field(default=None)

    @property
    def passed(self) -> bool:
        return self.failures == 0

    def add(self, index: int, case, error: float, tolerance: float, message: str | None) -> None:
        self.cases += 1
        if self.cases == 1 or error / tolerance > self.max_error / self.tolerance:
            self.max_error, self.tolerance = error, tolerance
        if error > tolerance:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = {"case": index, "shapes": case.describe(), "error": error, "message": message}


def select(equations, keys=None, backends=None) -> list:
    """The entries whose key matches any of ``keys`` (keys or shell-style patterns; all if None) and whose
    backends are all in ``backends`` (any if None); ``ValueError`` for a pattern or backend that names nothing."""
    from blueprint.menus import VERIFY_BACKENDS

    unknown = sorted(set(backends or ()) - set(VERIFY_BACKENDS))
    if unknown:
        raise ValueError(f"backends: expected some of {', '.join(VERIFY_BACKENDS)}, got {', '.join(unknown)}")
    all_keys = [e.key for e in equations]
    for pattern in keys or ():
        if not fnmatch.filter(all_keys, pattern):
            raise ValueError(f"keys: no entry matches {pattern!r}; expected one of {', '.join(all_keys)}")
    chosen = [
        e
        for e in equations
        if (keys is None or any(fnmatch.fnmatchcase(e.key, p) for p in keys))
        and (backends is None or set(e.backends) <= set(backends))
    ]
    if not chosen:
        raise ValueError(f"backends: no selected entry runs on only {', '.join(backends)}; most need 'reference' too")
    return chosen


def fresh_seed(seed: int | None = None) -> int:
    """``seed`` checked (an int in [0, 2**32 - 1]), or a fresh one from the operating system for None."""
    from blueprint.training.config import check_seed

    return random.SystemRandom().randrange(2**32) if seed is None else check_seed(seed)


def check(equation, seed: int, cases: int, tick: Callable[[], object] = lambda: None) -> Summary:
    """Run ``cases`` cases of ``equation``, calling ``tick()`` after each."""
    import numpy as np

    summary = Summary(equation.key, equation.name, equation.statement, list(equation.backends))
    stream = zlib.crc32(equation.stream.encode())
    for index in range(cases):
        case = equation.draw(np.random.default_rng([seed, stream, index]))
        try:
            error, message = equation.measure(case), None
        except Exception as err:  # a faulty implementation may raise anywhere; the case then fails
            error, message = math.inf, f"{type(err).__name__}: {err}"
        summary.add(index, case, error, equation.tolerance(case), message)
        tick()
    return summary


def run(equations, seed: int, cases: int, show_progress: bool = True) -> Iterator[Summary]:
    """``check`` each of ``equations`` on ``cases`` cases, yielding its summary when done; with
    ``show_progress`` a ``blueprint.progress`` bar counts the cases, the running entry after it. ``cases`` is
    checked here, before the first entry runs."""
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
        raise ValueError(f"cases: expected an int >= 1, got {cases!r}")
    return _summaries(equations, seed, cases, show_progress)


def _summaries(equations, seed: int, cases: int, show_progress: bool) -> Iterator[Summary]:
    from blueprint.progress import progress

    running = [""]  # the key of the entry being checked, which the bar shows when it draws
    with progress(cases * len(equations), "verify", status=lambda: running[0], enabled=show_progress) as bar:
        for equation in equations:
            running[0] = equation.key
            yield check(equation, seed, cases, bar.update)


def table(summaries) -> str:
    """The results, one row per entry (``blueprint.tables``)."""
    from blueprint.tables import format_table

    header = ["equation", "key", "statement", "backends", "cases", "max error", "tolerance", "verdict"]
    rows = [
        [
            s.name,
            s.key,
            s.statement,
            ", ".join(s.backends),
            str(s.cases),
            f"{s.max_error:.1e}",
            f"{s.tolerance:.0e}",
            "ok" if s.passed else f"FAIL ({s.failures})",
        ]
        for s in summaries
    ]
    return format_table(header, rows, align="<<<<>>><")


def write_json(path: str, seed: int, cases: int, summaries) -> None:
    """The summaries as JSON (an infinite error, from a case that raised or had the wrong shape, as null)."""
    from blueprint.paths import atomic_text

    results = [{**asdict(s), "passed": s.passed} for s in summaries]
    for r in results:
        r["max_error"] = r["max_error"] if math.isfinite(r["max_error"]) else None
        if r["first_failure"] and not math.isfinite(r["first_failure"]["error"]):
            r["first_failure"]["error"] = None
    atomic_text(path, json.dumps({"seed": seed, "cases": cases, "results": results}, indent=2))
