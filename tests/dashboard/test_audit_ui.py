"""The audit trail of the app: page views, drill-downs, timelines and exports recorded; the compliance audit page."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from fixtures_demo import AS_OF
from streamlit.runtime.context import ContextProxy

from queries.governance.audit import read

MTD = (AS_OF.replace(day=1), AS_OF)


@pytest.fixture
def store_copy(run_app, app_source, tmp_path, monkeypatch) -> Path:  # noqa: ANN001
    """A copy of the shared store, so this test's audit log starts empty."""
    target = tmp_path / "store"
    shutil.copytree(app_source[1], target, ignore=shutil.ignore_patterns("audit"))
    monkeypatch.setenv("CASES_STORE_DIR", str(target))
    return target


def _log(store_dir: Path, action: str | None = None) -> list[dict]:
    """Entries in the order written (the files' line order; read() sorts by the second only)."""
    rows = [json.loads(line) for f in sorted((store_dir / "audit").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == read(store_dir).height
    return [r for r in rows if action is None or r["action"] == action]


def test_page_views_are_recorded_once_per_page_and_filters(run_app, store_copy) -> None:  # noqa: ANN001
    at = run_app(role="manager")
    at.switch_page("dashboard/pages/agents.py").run()
    at.run()  # a rerun with the same filters is the same view
    views = _log(store_copy, "view")
    assert [v["page"] for v in views] == ["daily", "agents"]
    first = views[0]
    assert first["user"] == "demo:manager" and first["role"] == "manager"
    assert first["filters"] == {"start": MTD[0].isoformat(), "end": MTD[1].isoformat()}
    assert first["rows"] > 0 and views[1]["rows"] > 0
    assert first["detail"]["mode"] == "demo"
    at.sidebar.multiselect(key="f_team").set_value(["T02"]).run()
    views = _log(store_copy, "view")
    assert len(views) == 3 and views[-1]["filters"]["teams"] == ["T02"] and views[-1]["page"] == "agents"


def test_team_lead_views_carry_the_scoped_role(run_app, store_copy) -> None:  # noqa: ANN001
    run_app(role="team_lead", teams=["T01"])
    (v,) = _log(store_copy, "view")
    assert v["user"] == "demo:team_lead" and v["role"] == "team_lead"


def test_drill_down_and_timeline_are_recorded_with_their_rows(run_app, store_copy, app_source) -> None:  # noqa: ANN001
    from queries.filters import Filters
    from queries.source.engines import read_only_engine
    from queries.views.drilldown import list_cases

    at = run_app(role="executive")
    day = AS_OF - dt.timedelta(days=1)
    at.session_state["_drill"] = {"event": "payments", "day": day.isoformat(), "teams": ("T01",), "label": "x"}
    at.switch_page("dashboard/pages/cases.py").run()
    assert not at.exception
    engine = read_only_engine(app_source[0])
    ref = list_cases(engine, Filters(*MTD, teams=("T01",)), event="payments", day=day)
    engine.dispose()
    (d,) = _log(store_copy, "drilldown")
    assert d["page"] == "cases" and d["rows"] == ref.total and d["role"] == "executive"
    assert d["detail"]["event"] == "payments" and d["detail"]["day"] == day.isoformat()
    assert d["filters"]["teams"] == ["T01"] and d["detail"]["reveal_pii"] is False
    at.session_state["case_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    (tl,) = _log(store_copy, "timeline")
    assert tl["detail"]["case_id"] == int(ref.rows["case_id"][0]) and tl["rows"] > 0
    assert tl["detail"]["visible"] is True
    assert len(_log(store_copy, "drilldown")) == 1  # opening a case does not repeat the list's entry


def test_exports_are_recorded_with_user_page_and_rows(run_app, store_copy) -> None:  # noqa: ANN001
    from dashboard.session import EXPORTS

    at = run_app("agents", role="team_lead", teams=["T01"])
    offer = at.session_state[EXPORTS]["leaderboard"]
    rows = len(offer.csv().decode("utf-8-sig").splitlines()) - 1
    assert [e["detail"]["format"] for e in _log(store_copy, "export")] == ["csv"]
    assert not at.exception
    offer.xlsx()  # what the download button runs when clicked: the entry is written as the file is produced
    e = _log(store_copy, "export")[-1]
    assert e["user"] == "demo:team_lead" and e["role"] == "team_lead" and e["page"] == "agents"
    assert e["rows"] == rows and e["detail"]["format"] == "xlsx"
    assert e["detail"]["file"].startswith("agent_leaderboard_") and e["detail"]["file"].endswith(".xlsx")
    assert e["filters"]["teams"] == ["T01"]  # the filters as the scope narrowed them


def test_reveal_is_recorded_and_personal_data_stays_out_of_the_log(run_app, store_copy, app_source) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    at = run_app("cases", role="compliance")
    at.toggle(key="reveal_pii").set_value(True).run()
    at.session_state["case_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    drills = _log(store_copy, "drilldown")
    assert [d["detail"]["reveal_pii"] for d in drills] == [False, True]
    assert _log(store_copy, "timeline")[0]["detail"]["reveal_pii"] is True
    engine = sa.create_engine(app_source[0])
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(sa.text("SELECT customer_name, phone FROM cases"))}
        phones = {r[0] for r in conn.execute(sa.text("SELECT phone FROM cases"))}
    engine.dispose()
    text = "".join(p.read_text(encoding="utf-8") for p in (store_copy / "audit").glob("*.jsonl"))
    assert not [n for n in names | phones if n and len(n) >= 3 and n in text]


def test_unknown_users_are_recorded_as_denied(run_app, store_copy, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    access = tmp_path / "access.toml"
    access.write_text('[users."a@bank.example"]\nrole = "manager"\n', encoding="utf-8")
    monkeypatch.setenv("CASES_ACCESS_FILE", str(access))
    monkeypatch.setenv("CASES_AUTH_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: {"X-Forwarded-Email": "mallory@x.example"}))
    at = run_app()
    assert not at.exception and not at.metric
    (d,) = _log(store_copy, "denied")
    assert d["user"] == "mallory@x.example" and d["detail"]["mode"] == "header"
    assert not _log(store_copy, "view")


def test_audit_page_lists_entries_filters_by_date_and_verifies_the_chain(run_app, store_copy) -> None:  # noqa: ANN001
    at = run_app(role="manager")
    at.switch_page("dashboard/pages/agents.py").run()
    at.session_state["demo_role"] = "compliance"
    at.run()
    at.switch_page("dashboard/pages/audit_log.py").run()
    assert not at.exception
    assert at.title[0].value == "审计日志"
    assert any("哈希链校验通过" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert {"demo:manager", "demo:compliance"} <= set(table["user"])
    assert {"view"} <= set(table["action"])
    at.multiselect(key="audit_actions").set_value(["export"]).run()
    assert len(at.dataframe[0].value) == 0
    at.multiselect(key="audit_actions").set_value([]).run()
    old = dt.date.today() - dt.timedelta(days=400)
    at.date_input(key="audit_dates").set_value((old, old + dt.timedelta(days=1))).run()
    assert len(at.dataframe[0].value) == 0
    # tamper with the log: the page says so
    f = next((store_copy / "audit").glob("*.jsonl"))
    lines = f.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[0])
    entry["rows"] = 0
    f.write_text("\n".join([json.dumps(entry, ensure_ascii=False)] + lines[1:]) + "\n", encoding="utf-8")
    at.run()
    assert any("哈希链校验失败" in e.value for e in at.error)


def test_a_page_that_stops_early_is_still_recorded(run_app, store_copy) -> None:  # noqa: ANN001
    """A page that ends in st.stop() (the agent page over a period without data shows its empty state and stops)
    is a view like any other: st.stop() keeps the run stopping, and the session state refuses access from then on,
    so the entry must not be read from it at the end."""
    at = run_app("agents", opened=False, period="custom", dates=["2020-01-01", "2020-01-31"])  # from the landing
    assert not at.exception
    assert not at.dataframe  # the leaderboard's empty state: the page stopped before its table
    views = _log(store_copy, "view")
    assert [v["page"] for v in views] == ["daily", "agents"]
    assert views[-1]["filters"]["start"] == "2020-01-01" and views[-1]["filters"]["end"] == "2020-01-31"
