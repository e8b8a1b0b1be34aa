"""Fixtures for the dashboard tests: one small demo database with its synced store, and an AppTest factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from fixtures_demo import AS_OF, SMALL
from streamlit.testing.v1 import AppTest

from dashboard.format import units

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")  # the entry point, absolute
PAGE_FILES = {"data": "data_overview", "audit": "audit_log"}  # url path → script name where they differ
# Pages whose url path is not their script's name (daily.py is both `home` and `daily`): before a session's first
# run AppTest knows a page only by its script's name, so these are opened from the landing page.
OWN_PATHS = {*PAGE_FILES, *PAGE_FILES.values(), "daily"}


def shown(value: float, digits: int) -> float:
    """A number as a table holds it for the browser: rounded to the digits it shows by the dashboard's one rule."""
    return units(value, digits) / 10**digits


@pytest.fixture(scope="session")
def app_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A small demo case database (as of AS_OF) and its analytics store, built once per session."""
    from queries.demo import build_demo_database
    from queries.sync import run_sync

    d = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{d / 'cases.sqlite'}"
    build_demo_database(url, SMALL, seed=3, as_of=AS_OF)
    run_sync(url, d / "store", full=True)
    return url, d / "store"


def serve_lean_copy(app_source: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    *statements: str) -> str:
    """A copy of the small demo database with `statements` applied (dropping optional contract parts), synced into
    a store of its own and set as the app's source for this test (fresh caches); the copy's URL."""
    import shutil
    import sqlite3

    from queries.sync import run_sync

    db = tmp_path / "lean.sqlite"
    shutil.copy(app_source[0].removeprefix("sqlite:///"), db)
    with sqlite3.connect(db) as conn:
        for sql in statements:
            conn.execute(sql)
    url = f"sqlite:///{db}"
    run_sync(url, tmp_path / "store", full=True)
    st.cache_data.clear()
    st.cache_resource.clear()
    for k, v in {"CASES_DB_URL": url, "CASES_STORE_DIR": str(tmp_path / "store"), "CASES_DATA_DIR": str(tmp_path),
                 "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}.items():
        monkeypatch.setenv(k, v)
    return url


def open_page_app(page: str, **params: str) -> AppTest:
    """The app on the source the environment names (e.g. serve_lean_copy's), with `params` in the URL, switched to
    dashboard/pages/<page>.py and run."""
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    return at


@contextmanager
def served(app_source: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run` on the small demo database with a store directory of its own (its own audit log); the URL."""
    import shutil
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from screenshots import streamlit_server

    url, store = app_source
    own = tmp_path_factory.mktemp("served") / "store"
    shutil.copytree(store, own)
    env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(own.parent),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}  # demo role picker on a configured db
    with streamlit_server(env) as base:
        yield base


def pick_team_lead(page, team: str, heading: str) -> None:  # noqa: ANN001
    """In Chromium, on a page whose heading is `heading`: choose the demo role team lead of `team` alone (the
    sidebar's first role and team pickers), waiting for the page after each change."""
    import re

    from screenshots import wait_rendered

    sb = page.locator('[data-testid="stSidebar"]')
    sb.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="组长", exact=True).click()
    page.wait_for_timeout(800)
    wait_rendered(page, heading)
    teams = sb.locator('[data-testid="stMultiSelect"]').first
    teams.locator("input").first.click()
    page.get_by_role("option", name=re.compile(rf"^{team} · ")).first.click()
    page.wait_for_timeout(800)
    page.keyboard.press("Escape")
    teams.get_by_role("button", name=re.compile("^Remove T01")).click()
    page.wait_for_timeout(800)
    wait_rendered(page, heading)


@pytest.fixture
def app_store(app_source: tuple[str, Path]):  # noqa: ANN201 - queries.store.Store
    """The store the app reads, opened directly for reference numbers."""
    from queries.store import Store

    return Store.open(app_source[1])


@pytest.fixture
def run_app(app_source: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> Iterator[Callable[..., AppTest]]:
    """Start the app on the small database in demo mode: run_app(page=None, role=None, teams=(), query=None, **params).

    Returns the AppTest after its first run (and the switch to `page`); `role`/`teams` preset the demo role picker;
    `page` opens on the session's first run, as a link to it does; `opened=False` runs the landing page first.
    """
    url, store_dir = app_source
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_DIR", str(store_dir))
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASES_STORE_MAX_AGE_S", "1e12")  # never re-sync the shared store during tests
    # A configured database refuses demo mode unless allowed; the tests pick roles through the demo picker.
    monkeypatch.setenv("CASES_ALLOW_DEMO_MODE", "1")
    for name in ("CASES_AUTH_HEADER", "CASES_ACCESS_FILE"):
        monkeypatch.delenv(name, raising=False)

    def start(page: str | None = None, *, role: str | None = None, teams: tuple[str, ...] | list[str] = (),
              query: dict[str, str | list[str]] | None = None, opened: bool = True,
              **params: str | list[str]) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        for k, v in {**(query or {}), **params}.items():
            at.query_params[k] = v
        if role:
            at.session_state["demo_role"] = role
        if teams:
            at.session_state["demo_teams"] = list(teams)
        script = f"dashboard/pages/{PAGE_FILES.get(page, page)}.py" if page else None
        if opened and page and page not in OWN_PATHS:
            # a link that opens the page itself: its first run is the page's, as a browser opening the link gets
            at.switch_page(script).run()
            # a page AppTest could not tell from its script's name silently becomes the landing page
            from dashboard.session import PAGE

            assert at.exception or at.session_state[PAGE] == page, f"opened {at.session_state[PAGE]}, not {page}"
            return at
        at.run()
        if page:
            at.switch_page(script).run()
        return at

    yield start
    st.cache_data.clear()
    st.cache_resource.clear()
