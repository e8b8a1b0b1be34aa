"""The case database summary (the 数据概况 · Data page) on a real demo database, and the app's state when the
database is down or a table is missing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import streamlit as st
from fixtures_app import APP
from fixtures_demo import AS_OF, SMALL
from streamlit.testing.v1 import AppTest

from queries.demo import build_demo_database


@pytest.fixture
def app_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """A fresh process-wide cache and a data dir of the test's own for each app run."""
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DB_URL", raising=False)
    monkeypatch.setenv("CASES_ALLOW_DEMO_MODE", "1")  # a configured database refuses demo mode otherwise
    for name in ("CASES_AUTH_HEADER", "CASES_ACCESS_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    st.cache_data.clear()
    st.cache_resource.clear()


def test_summary_of_the_configured_database(app_env, monkeypatch) -> None:  # noqa: ANN001
    url = f"sqlite:///{app_env / 'cases.sqlite'}"
    result = build_demo_database(url, SMALL, seed=3, as_of=AS_OF)
    monkeypatch.setenv("CASES_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("dashboard/pages/data_overview.py").run()
    assert not at.exception
    assert [m.value for m in at.metric] == [f"{result['rows'][t]:,}" for t in ("cases", "contacts", "payments")]
    table = at.dataframe[0].value
    assert dict(zip(table["table"], table["rows"], strict=True))["complaints"] == result["rows"]["complaints"]
    assert not any("演示数据" in c.value for c in at.caption)  # a configured database is not labelled as demo data


def test_demo_mode_is_labelled(app_env) -> None:  # noqa: ANN001
    build_demo_database(f"sqlite:///{app_env / 'demo.sqlite'}", SMALL, seed=3, as_of=dt.date(2026, 1, 31))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("演示数据" in c.value for c in at.caption)  # on every page
    at.session_state["f_lang"] = "en"
    at.run()
    assert any("Demo data" in c.value for c in at.caption)


def test_database_down_is_a_clear_banner_not_a_traceback(app_env, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CASES_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "CASES_DB_URL" in at.error[0].value
    assert not at.metric


def test_missing_required_table_is_named(app_env, monkeypatch) -> None:  # noqa: ANN001
    url = f"sqlite:///{app_env / 'cases.sqlite'}"
    build_demo_database(url, SMALL, seed=3, as_of=AS_OF)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE complaints"))
        conn.execute(sa.text("DROP TABLE targets"))  # optional: not reported as missing
    engine.dispose()
    monkeypatch.setenv("CASES_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    # no store can be built without it: the error says why, and the summary names what is missing
    assert len(at.error) == 1 and "complaints" in at.error[0].value
    assert len(at.warning) == 1 and "complaints" in at.warning[0].value and "targets" not in at.warning[0].value
