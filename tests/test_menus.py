"""Each menu of ``blueprint.menus`` is what the command line offers and what the library runs, and naming it
loads no torch: a name added to a menu reaches the parser and the code, and no copy can drift."""

import argparse
import inspect
import subprocess
import sys

from blueprint import menus
from blueprint.cli import build_parser
from blueprint.commands.bench.arguments import pairs, pairs_text


def option(path: tuple[str, ...], flag: str) -> argparse.Action:
    """The action of ``flag`` in the parser of ``blueprint *path``."""
    parser = build_parser()
    for name in path:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    (action,) = (a for a in parser._actions if flag in a.option_strings)
    return action


def test_the_parsers_offer_the_menus():
    assert option(("bench", "layers"), "--backends").default.split(",") == list(menus.TIMED_BACKENDS)
    assert all(
        f"{name}: {text}" in option(("bench", "layers"), "--backends").help
        for name, text in menus.TIMED_BACKEND_HELP.items()
    )
    assert option(("bench", "layers"), "--ops").default.split(",") == list(menus.TIMED_OPS)
    assert tuple(option(("bench", "training"), "--backend").choices) == menus.LAYER_BACKENDS
    assert pairs(option(("bench", "training"), "--pairs").default) == list(menus.TRAINING_PAIRS)
    assert option(("bench", "latency"), "--runtimes").default.split(",") == list(menus.LATENCY_RUNTIMES)
    assert pairs_text(menus.LATENCY_PAIRS) in option(("bench", "latency"), "--pairs").help


def test_the_library_runs_the_menus():
    from blueprint import backend, verification
    from blueprint.benchmarks import latency, layers

    assert backend.BACKENDS == menus.LAYER_BACKENDS
    assert {name for entry in verification.EQUATIONS for name in entry.backends} == set(menus.VERIFY_BACKENDS)
    run = inspect.signature(layers.run).parameters
    assert (run["backends"].default, run["ops"].default) == (menus.TIMED_BACKENDS, menus.TIMED_OPS)
    run = inspect.signature(latency.run).parameters
    assert (run["pairs"].default, run["chosen"].default) == (menus.LATENCY_PAIRS, menus.LATENCY_RUNTIMES)


def test_every_zoo_name_of_the_pairs_exists():
    from blueprint.models import list_models

    named = {
        name for pair in (*menus.LATENCY_PAIRS, *menus.LATENCY_QUICK_PAIRS, *menus.TRAINING_PAIRS) for name in pair
    }
    assert named <= set(list_models())


def test_the_menus_load_no_torch():
    code = "import sys, blueprint.menus; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
