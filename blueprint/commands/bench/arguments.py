"""Argument types and checks shared by the ``blueprint bench`` modes: each answers in one line naming the flag."""

from __future__ import annotations

import os

BENCH_ENV = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"


def names(allowed, flag: str):
    """An argparse type: a comma-separated, non-empty subset of ``allowed``."""

    def parse(text):
        chosen = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [n for n in chosen if n not in allowed]
        if bad or not chosen:
            raise ValueError(f"{flag}: expected a comma-separated subset of {','.join(allowed)}, got {text!r}")
        return chosen

    return parse


def positive(flag: str, value, minimum: int = 1):
    if value is not None and value < minimum:
        raise ValueError(f"{flag}: expected an int >= {minimum}, got {value}")
    return value


def pairs(text: str) -> list[tuple[str, str]]:
    items = [tuple(p.split(":")) for p in text.split(",") if p.strip()]
    if not items or any(len(p) != 2 or not all(p) for p in items):
        raise ValueError(f"--pairs: expected comma-separated BASELINE:BSCONV items, got {text!r}")
    return items


def pairs_text(items) -> str:
    """``items``, (baseline, BSConv) pairs, as ``--pairs`` takes them: ``BASELINE:BSCONV,...`` (``pairs``' inverse)."""
    return ",".join(f"{baseline}:{bsconv}" for baseline, bsconv in items)


def known_models(chosen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``chosen`` pairs if every name is a zoo model; else the first unknown one with the closest names."""
    from blueprint.models import list_models
    from blueprint.names import unknown_name_error

    known = set(list_models())
    for name in (n for p in chosen for n in p):
        if name not in known:
            raise ValueError(unknown_name_error("--pairs", name, known))
    return chosen


def positive_ints(text: str, flag: str) -> tuple[int, ...]:
    """``flag``'s value: comma-separated ints >= 1 (batch sizes, thread counts)."""
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ValueError(f"{flag}: expected comma-separated ints >= 1, got {text!r}")
    return values


def earlier_runs(args) -> list[str]:
    """``--from-json``'s comma-separated files, each one that exists, and ``--png`` writable; checked before anything
    is read or drawn."""
    from blueprint.paths import writable_file

    paths = [p for p in args.from_json.split(",") if p]
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--from-json: no file {path!r}")
    writable_file(args.png, "--png")
    return paths


def size_pair(text: str) -> tuple[int, int]:
    try:
        w, h = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected WIDTHxHEIGHT such as 500x375, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"--size: expected positive sides, got {text!r}")
    return w, h
