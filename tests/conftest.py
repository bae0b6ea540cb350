"""Hypothesis profiles: 'dev' (default) for local runs, 'ci' (HYPOTHESIS_PROFILE=ci) bounded for CI time.

Also the session fixtures of the lessons' book (``tests/book.py``), shared by the tutorial and docs tests.
"""
import os

from book import book_site, executed_lessons  # noqa: F401
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
