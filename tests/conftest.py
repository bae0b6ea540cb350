"""Hypothesis profiles: 'dev' (default) for local runs, 'ci' (HYPOTHESIS_PROFILE=ci) bounded for CI time; the
``register_test_model`` fixture for tests that register models."""
import os
from dataclasses import dataclass
from typing import Callable

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


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
