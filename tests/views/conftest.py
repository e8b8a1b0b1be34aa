"""Scoped facade, page compositions and drill-down tests."""

from fixtures_app import app_source, app_store, run_app  # noqa: F401
from fixtures_demo import small_portfolio, small_source  # noqa: F401
