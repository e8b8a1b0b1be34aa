"""Fixtures for the demo generator tests: one in-memory demo portfolio per session."""

from __future__ import annotations

import datetime as dt

import pytest

from queries.demo import Scale, generate
from queries.demo.simulate import Portfolio

AS_OF = dt.date(2026, 11, 22)
SMALL = Scale("small", cases=1_500, teams=4, agency_teams=1, agents=12)


@pytest.fixture(scope="session")
def demo_portfolio() -> Portfolio:
    """The demo-scale centre (seed 7) as of a fixed day, generated once."""
    return generate("demo", seed=7, as_of=AS_OF)
