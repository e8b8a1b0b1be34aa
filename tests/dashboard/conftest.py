"""Dashboard tests: the app under AppTest on a small demo database, a real server in Chromium."""

import sys
from pathlib import Path

import pytest
from fixtures_app import app_store, run_app, served  # noqa: F401


@pytest.fixture(scope="module")
def server(app_source, tmp_path_factory):  # noqa: ANN001, ANN201, F811
    """A dashboard server on the small demo database with a store directory of its own, one per test module."""
    with served(app_source, tmp_path_factory) as base:
        yield base


@pytest.fixture(scope="module")
def chrome():  # noqa: ANN201
    """One Chromium for the module (a second Playwright in the same process is refused)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from screenshots import chromium

    with chromium() as b:
        yield b
