"""Metric tests: hand-made rows with worked answers, and property tests against raw computations."""

from fixtures_store import handmade_store  # noqa: F401
