"""Names a package exports but loads on first use (PEP 562's module ``__getattr__``), so that importing the
package, and the command line's ``--help``, import no PyTorch."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, homes: dict[str, tuple[str, ...]]):
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose ``homes`` map a module to the names it defines.

    Assign them at the package's top level; each name is imported from its module the first time it is read,
    then kept in the package's namespace.
    """
    home_of = {name: module for module, names in homes.items() for name in names}
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        if name not in home_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home_of[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home_of})

    return sorted(home_of), __getattr__, __dir__
