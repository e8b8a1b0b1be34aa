"""Metric tests: hand-made rows with worked answers, and property tests against raw computations."""

from fixtures_demo import small_source  # noqa: F401
from fixtures_store import fresh_source, handmade_store  # noqa: F401
