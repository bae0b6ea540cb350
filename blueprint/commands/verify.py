"""``blueprint verify``: the paper's equations and the backends' agreement, checked here on fresh cases.

Runs every entry of ``blueprint.verification.EQUATIONS`` (the NumPy ones of ``reference.equations`` and
the cross-backend ones) on ``--cases`` random cases each, prints one row per entry (the worst case
against its tolerance) and exits with 1 if any case disagrees or raises. Case i of an entry is drawn
from ``numpy.random.default_rng([seed, crc32(entry.stream), i])`` (the backends' agreement entries of
one op share a stream, so they see the same cases), and ``--seed S --equation KEY --cases i+1`` reruns
it exactly; the seed and the first failing case's shapes are printed for that.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import sys
import zlib
from dataclasses import asdict, dataclass, field

DEFAULT_CASES = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check the paper's equations and the backends' agreement on fresh random cases",
        description="Draws --cases random cases (shapes, strides, paddings, dilations, groups, dtypes, with and "
        "without bias) for each equation of the paper and each backend (the NumPy reference, its naive loops, "
        "accel, the PyTorch layers on the torch and the accel backend), measures the error against its tolerance "
        "and prints a table; exits with 1 on any disagreement, printing the seed and the failing case.",
    )
    p.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"cases per equation (default {DEFAULT_CASES})")
    p.add_argument("--seed", type=int, default=None, help="seed of the cases (default: a fresh one, printed)")
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        metavar="BACKEND",
        help="run only the entries whose backends are all among these: reference, naive, accel, torch, "
        "torch-accel (default: all)",
    )
    p.add_argument(
        "--equation",
        nargs="+",
        default=None,
        metavar="KEY",
        help="entry keys or shell-style patterns, e.g. eq3 'bsconv_u-*' (default: every entry)",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=run)


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


def select(equations, patterns, backends):
    """The entries matching any of ``patterns`` (all if None) whose backends are all in ``backends``."""
    from blueprint.menus import VERIFY_BACKENDS as BACKENDS

    unknown = sorted(set(backends or ()) - set(BACKENDS))
    if unknown:
        raise ValueError(f"backends: expected some of {', '.join(BACKENDS)}, got {', '.join(unknown)}")
    keys = [e.key for e in equations]
    for pattern in patterns or ():
        if not fnmatch.filter(keys, pattern):
            raise ValueError(f"equation: no entry matches {pattern!r}; expected one of {', '.join(keys)}")
    chosen = [
        e
        for e in equations
        if (patterns is None or any(fnmatch.fnmatchcase(e.key, p) for p in patterns))
        and (backends is None or set(e.backends) <= set(backends))
    ]
    if not chosen:
        raise ValueError(f"backends: no selected entry runs on only {', '.join(backends)}; most need 'reference' too")
    return chosen


def check(equation, seed: int, cases: int, tick) -> Summary:
    """Run ``cases`` cases of ``equation``; a case that raises counts as a disagreement (infinite error)."""
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


class Progress:
    """Cases done so far on stderr: one line rewritten in a terminal, one line per entry otherwise."""

    def __init__(self, total: int):
        self.total, self.done, self.tty = total, 0, sys.stderr.isatty()

    def tick(self, key: str) -> None:
        self.done += 1
        if self.tty:
            print(f"\rverify: {self.done}/{self.total} cases ({key})".ljust(60), end="", file=sys.stderr, flush=True)

    def entry_done(self, summary: Summary) -> None:
        if not self.tty:
            verdict = "ok" if summary.passed else "FAIL"
            print(f"verify: {self.done}/{self.total} cases, {summary.key} {verdict}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def write_json(path: str, seed: int, cases: int, summaries) -> None:
    """The summaries as JSON (an infinite error, from a case that raised or had the wrong shape, as null)."""
    results = [{**asdict(s), "passed": s.passed} for s in summaries]
    for r in results:
        r["max_error"] = r["max_error"] if math.isfinite(r["max_error"]) else None
        if r["first_failure"] and not math.isfinite(r["first_failure"]["error"]):
            r["first_failure"]["error"] = None
    report = {"seed": seed, "cases": cases, "results": results}
    from blueprint.paths import atomic_text

    atomic_text(path, json.dumps(report, indent=2))


def run(args) -> int:
    from blueprint.paths import writable_file
    from blueprint.verification import EQUATIONS

    if args.cases < 1:
        raise ValueError(f"cases: expected an int >= 1, got {args.cases}")
    writable_file(args.json, "--json")
    equations = select(EQUATIONS, args.equation, args.backends)
    from blueprint.training.config import check_seed

    seed = random.SystemRandom().randrange(2**32) if args.seed is None else check_seed(args.seed)
    print(f"blueprint verify: seed {seed}, {args.cases} cases for each of {len(equations)} entries", flush=True)
    progress, summaries = Progress(args.cases * len(equations)), []
    try:
        for equation in equations:
            summaries.append(check(equation, seed, args.cases, lambda: progress.tick(equation.key)))
            progress.entry_done(summaries[-1])
    finally:  # an interrupted run still reports (and writes) the entries it finished
        progress.close()
        print(table(summaries))
        if args.json is not None:
            write_json(args.json, seed, args.cases, summaries)
    failed = [s for s in summaries if not s.passed]
    if not failed:
        print(f"all {len(summaries)} entries hold on {args.cases} cases each (seed {seed})")
        return 0
    first = failed[0].first_failure
    print(
        f"{len(failed)} of {len(summaries)} entries disagree. First failing case: {failed[0].key} case {first['case']} "
        f"(seed {seed}): {first['shapes']}" + (f"; {first['message']}" if first["message"] else "")
    )
    print(f"rerun it: blueprint verify --seed {seed} --equation {failed[0].key} --cases {first['case'] + 1}")
    return 1
