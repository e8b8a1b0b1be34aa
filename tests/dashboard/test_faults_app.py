"""Faults as the dashboard shows them: a clear banner and the last good store, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from fixtures_app import APP
from fixtures_store import damage
from streamlit.testing.v1 import AppTest

from queries.store import current_version
from queries.sync import run_sync


@pytest.fixture
def own(app_source, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """A private copy of the small database and its store, configured for the app."""
    url, store = app_source
    db = tmp_path / "cases.sqlite"
    shutil.copy(sa.engine.make_url(url).database, db)
    shutil.copytree(store, tmp_path / "store")
    st.cache_data.clear()
    st.cache_resource.clear()
    env = {"CASES_DB_URL": f"sqlite:///{db}", "CASES_STORE_DIR": str(tmp_path / "store"),
           "CASES_DATA_DIR": str(tmp_path), "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for name in ("CASES_AUTH_HEADER", "CASES_ACCESS_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield db, tmp_path / "store"
    st.cache_data.clear()
    st.cache_resource.clear()


def _texts(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.warning, *at.error, *at.info])


def _run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    if page:
        at.switch_page(f"dashboard/pages/{page}.py").run()
    return at


def test_corrupt_store_serves_the_previous_version_with_a_banner(own) -> None:  # noqa: ANN001
    db, store = own
    good = current_version(store)
    run_sync(f"sqlite:///{db}", store)  # a second version on top of the first
    newest = current_version(store)
    victim = sorted(newest.rglob("*.parquet"))[0]
    damage(victim, b"not parquet")  # only the newest version
    at = _run()
    assert not at.exception
    assert "previous good version" in _texts(at) or "上一个完好的版本" in _texts(at)
    assert current_version(store) == good
    assert at.metric  # the KPI cards are there, from the good version


def test_database_down_at_start_serves_the_store(own, monkeypatch) -> None:  # noqa: ANN001
    db, store = own
    db.rename(db.with_name("gone.sqlite"))
    monkeypatch.setenv("CASES_STORE_MAX_AGE_S", "0")  # the store is stale: a sync is attempted and fails
    at = _run()
    assert not at.exception
    assert "unreachable" in _texts(at) or "无法连接" in _texts(at)
    assert at.metric


def test_database_gone_mid_session_drill_down_says_so(own) -> None:  # noqa: ANN001
    db, _ = own
    at = _run()
    assert not at.exception and at.metric
    db.rename(db.with_name("gone.sqlite"))
    at.switch_page("dashboard/pages/cases.py").run()
    assert not at.exception
    assert at.error or at.warning  # the cases list needs the database: a message, not a traceback


def test_required_table_missing_and_no_store_names_it(own) -> None:  # noqa: ANN001
    db, store = own
    shutil.rmtree(store)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE promises"))
    engine.dispose()
    at = _run()
    assert not at.exception
    assert "promises" in _texts(at) and "doctor" in _texts(at)


def _make_outdated(store: Path) -> None:
    import json

    manifest = current_version(store) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format"] = 1
    manifest.write_text(json.dumps(data))


def test_store_from_an_older_dashboard_is_rebuilt_before_serving(own) -> None:  # noqa: ANN001
    from queries.store import FORMAT_VERSION, Store

    _, store = own
    _make_outdated(store)
    at = _run()
    assert not at.exception and at.metric
    assert Store.open(store).manifest.format == FORMAT_VERSION


def test_store_from_an_older_dashboard_is_not_served_when_the_source_is_down(own) -> None:  # noqa: ANN001
    db, store = own
    _make_outdated(store)
    db.rename(db.with_name("gone.sqlite"))
    at = _run()
    assert not at.exception and not at.metric
    assert "format" in _texts(at)


def test_the_reason_no_store_can_be_served_is_shown_as_text(own, monkeypatch) -> None:  # noqa: ANN001
    """The database's own error is quoted, not rendered: a path or name holding markdown stays inert text."""
    db, store = own
    shutil.rmtree(store)
    odd = db.parent / "**b** [x](http://evil.example) <i>y</i>"
    monkeypatch.setenv("CASES_DB_URL", f"sqlite:///{odd}/cases.sqlite")
    at = _run()
    assert not at.exception and not at.metric and at.error
    shown = at.error[0].value
    reason = shown.split("：", 1)[1].split("  \n", 1)[0]  # the error between the label and the line break
    assert reason.startswith("`") and reason.endswith("`") and reason.count("`") == 2, shown

