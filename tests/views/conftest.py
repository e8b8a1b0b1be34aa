"""Scoped facade, page compositions and drill-down tests."""

from fixtures_app import app_source, app_store, run_app  # noqa: F401
from fixtures_demo import shared_small_source, shared_small_store, small_portfolio  # noqa: F401
