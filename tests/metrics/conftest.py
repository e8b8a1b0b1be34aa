"""Metric tests: hand-made rows with worked answers, and property tests against raw computations."""

from pathlib import Path

import pytest
from fixtures_demo import small_source  # noqa: F401
from fixtures_store import fresh_source, handmade_store  # noqa: F401


@pytest.fixture(scope="module")
def small_store_dir(small_source, tmp_path_factory) -> Path:  # noqa: ANN001, F811
    """The SMALL centre synced once per test module and backend, into a store its tests only read."""
    from queries.sync import run_sync

    path = tmp_path_factory.mktemp("small-store")
    assert run_sync(small_source, path, full=True).ok
    return path
