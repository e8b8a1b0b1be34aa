"""Dashboard tests: the app under AppTest on a small demo database, a real server in Chromium."""

from fixtures_app import app_source, app_store, run_app  # noqa: F401
