"""Scoped facade, page compositions and drill-down tests."""

from fixtures_app import app_store, run_app  # noqa: F401
