"""Hypothesis for the whole suite: fresh cases every run, one seed that reproduces them, and a count.

Profiles: 'dev' (default) and 'ci' (``HYPOTHESIS_PROFILE=ci``, which also prints the blob that
reproduces a failing example); neither derandomizes. Every run draws its cases from one seed: the one
given with ``--hypothesis-seed=S`` or ``BLUEPRINT_HYPOTHESIS_SEED=S``, else a fresh random one. The
header prints it and the run ends with ``property cases: N (seed S)``, N counting every example that
the property tests executed (shrinking included). Under pytest-xdist (``./run.sh test`` runs one worker per
core) the controller chooses the seed and hands it to every worker, and adds up the workers' counts.

Also the ``register_test_model`` fixture for tests that register models, and the session fixtures of the
lessons' book (``tests/book.py``), shared by the tutorial and docs tests.
"""

import os
import random
from dataclasses import dataclass
from typing import Callable

import pytest
from hypothesis import HealthCheck, settings

from book import book_scheduler, book_site, executed_lessons  # noqa: F401

SEED_VARIABLE = "BLUEPRINT_HYPOTHESIS_SEED"

settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", max_examples=25, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_examples = {"count": 0}
# The keys under which pytest-xdist's controller hands the seed to each worker and a worker hands its count back.
SEED_INPUT = "blueprint_hypothesis_seed"
CASES_OUTPUT = "blueprint_property_cases"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Fix the run's seed before hypothesis's plugin reads ``--hypothesis-seed``; an xdist worker takes the one its
    controller chose, so that every worker draws from the seed the header printed."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        seed = workerinput[SEED_INPUT]
    else:
        seed = config.getoption("hypothesis_seed") or os.environ.get(SEED_VARIABLE) or str(random.randrange(2**32))
    config.option.hypothesis_seed = seed
    config.stash[_seed_key] = seed


_seed_key = pytest.StashKey[str]()


def pytest_report_header(config):
    seed = config.stash[_seed_key]
    return f"hypothesis seed: {seed} (rerun these cases with --hypothesis-seed={seed} or {SEED_VARIABLE}={seed})"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist's controller, for each worker it starts: hand it the run's seed."""
    node.workerinput[SEED_INPUT] = node.config.stash[_seed_key]


def pytest_sessionfinish(session):
    """On an xdist worker: hand the examples it counted back to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[CASES_OUTPUT] = _examples["count"]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller, as each worker finishes: add its examples to the run's count."""
    _examples["count"] += getattr(node, "workeroutput", {}).get(CASES_OUTPUT, 0)


def _counted(inner):
    def run_example(*args, **kwargs):
        _examples["count"] += 1
        return inner(*args, **kwargs)

    run_example.counted = True
    return run_example


def pytest_collection_modifyitems(items):
    """Wrap each property test's inner test (hypothesis's documented hook) so that every example is counted."""
    for item in items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is not None and not getattr(handle.inner_test, "counted", False):
            handle.inner_test = _counted(handle.inner_test)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n N`` with xdist's default ``--dist load``: the same, with the book's tests on one worker (``tests/book.py``)."""
    if config.getoption("dist") == "load":
        return book_scheduler(config, log)
    return None


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    """The run's count (every worker's, under xdist) and its seed, once at the end (after the slowest tests)."""
    terminalreporter.write_line(f"property cases: {_examples['count']} (seed {config.stash[_seed_key]})")


@dataclass(frozen=True)
class BuiltBy:
    """A zoo config for a test model: ``name`` and the function ``build(num_classes) -> nn.Module``."""

    name: str
    build: Callable


@pytest.fixture
def register_test_model(monkeypatch):
    """``register_test_model(name, build)`` registers ``build(num_classes)`` in the zoo while the test runs: the
    registry's entries are restored afterwards, so zoo-wide tests never see a test's names."""
    from blueprint.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return lambda name, build: registry.register(BuiltBy(name, build))
