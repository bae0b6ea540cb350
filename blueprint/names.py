"""The one message for a name that is not known (a model, a dataset, a mode): the closest known names first."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` known names closest to ``name`` by ``difflib``'s similarity ratio, best first."""
    return difflib.get_close_matches(str(name), sorted(known), n=n, cutoff=0.6)


def unknown_name_error(what: str, name: str, known: Iterable[str], listing: str = "`blueprint models`") -> str:
    """``"what: unknown name 'x'; closest: a, b"``, or a pointer to ``listing`` when nothing is close."""
    near = closest(name, known)
    hint = f"; closest: {', '.join(near)}" if near else f"; see {listing} for the list"
    return f"{what}: unknown name {name!r}{hint}"
