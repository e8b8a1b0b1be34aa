"""Shared pytest fixtures; each area keeps its own in a fixtures_*.py module imported here."""

from fixtures_demo import demo_portfolio, small_portfolio, small_source  # noqa: F401
from fixtures_store import fresh_source, handmade_source, handmade_store  # noqa: F401
from fixtures_app import app_source, app_store, run_app  # noqa: F401
