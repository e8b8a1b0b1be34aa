"""Fixtures for the demo generator tests: one in-memory demo portfolio per session."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from queries.demo import Scale, build_demo_database, generate
from queries.demo.simulate import Portfolio

AS_OF = dt.date(2026, 11, 22)
SMALL = Scale("small", cases=1_500, teams=4, agency_teams=1, agents=12)


def unavailable(what: str, tests: str) -> NoReturn:
    """A server or program the tests need is missing (`what`): skip them, or fail when CI requires every test to
    run (CASES_TEST_REQUIRE_SERVERS)."""
    if os.environ.get("CASES_TEST_REQUIRE_SERVERS"):
        pytest.fail(f"{what}, but CASES_TEST_REQUIRE_SERVERS is set: the {tests} tests must run")
    pytest.skip(f"{what}; {tests} tests skipped")


def server_url(kind: str) -> str:
    """The test server URL for 'postgresql' or 'mysql'; skip when unset, fail when CI requires it."""
    env = "CASES_TEST_PG_URL" if kind == "postgresql" else "CASES_TEST_MYSQL_URL"
    base = os.environ.get(env)
    if not base:
        unavailable(f"{env} is not set", kind)
    return base


@pytest.fixture(scope="session")
def demo_portfolio() -> Portfolio:
    """The demo-scale centre (seed 7) as of a fixed day, generated once."""
    return generate("demo", seed=7, as_of=AS_OF)


@pytest.fixture(scope="session")
def demo_centre_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The demo centre as the dashboard ships it (demo scale, seed 7) as of AS_OF, streamed to SQLite once per test
    process; its path and the generator's progress lines. Tests only read it."""
    path = tmp_path_factory.mktemp("demo-centre") / "demo.sqlite"
    lines: list[str] = []
    build_demo_database(f"sqlite:///{path}", "demo", seed=7, as_of=AS_OF, progress=lines.append)
    return path, lines


@pytest.fixture(scope="session")
def demo_centre_store(demo_centre_db: tuple[Path, list[str]]):  # noqa: ANN201 - queries.store.Store
    """demo_centre_db synced once per test process; its store, which the tests only read."""
    from queries.store import Store
    from queries.sync import run_sync

    store = demo_centre_db[0].parent / "store"
    assert run_sync(f"sqlite:///{demo_centre_db[0]}", store, full=True).ok
    return Store.open(store)


@pytest.fixture(scope="session")
def small_portfolio() -> Portfolio:
    """The SMALL centre (seed 11), in memory: the independent answer for database-backed tests."""
    return generate(SMALL, seed=11, as_of=AS_OF)


def _built_small(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SMALL centre (seed 11) written to a new database of `kind`; its URL (the database is dropped after)."""
    from fixtures_store import _mysql_fresh, _pg_fresh

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('small') / 'cases.sqlite'}"
        build_demo_database(url, SMALL, seed=11, as_of=AS_OF)
        yield url
        return
    base = server_url(kind)
    for url in (_pg_fresh(base) if kind == "postgresql" else _mysql_fresh(base)):
        build_demo_database(url, SMALL, seed=11, as_of=AS_OF)
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def small_source(request, tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    """The SMALL centre written to each backend once per test module, for a module that changes it."""
    yield from _built_small(request.param, tmp_path_factory)


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mysql"])
def shared_small_source(request, tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    """The SMALL centre on each backend, built once per test process and shared by every module that only reads
    it (read-only engines, syncs into stores of their own); a test that writes to it takes small_source."""
    yield from _built_small(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def shared_small_store(shared_small_source: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """shared_small_source synced once per backend and test process into a store its tests only read; its dir."""
    from queries.sync import run_sync

    path = tmp_path_factory.mktemp("small-store")
    assert run_sync(shared_small_source, path, full=True).ok
    return path
