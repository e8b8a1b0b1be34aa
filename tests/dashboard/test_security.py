"""The dashboard under a security review and bad days: demo mode never over real data, a failed sync keeps the last
good store with a banner that says what failed, a replica survives syncs by other processes, a bug shows an
error id and never a traceback, a view that cannot be audited is refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_app import APP
from streamlit.testing.v1 import AppTest

from dashboard.format import day
from queries.store import Store, current_version

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def copies(app_source, tmp_path, monkeypatch) -> tuple[str, Path]:  # noqa: ANN001
    """Copies of the small demo database and its store, this test's to change."""
    url, store = app_source
    db = tmp_path / "cases.sqlite"
    shutil.copy(sa.make_url(url).database, db)
    target = tmp_path / "store"
    shutil.copytree(store, target, ignore=shutil.ignore_patterns("audit", "leases"))
    monkeypatch.setenv("CASES_STORE_DIR", str(target))
    return f"sqlite:///{db}", target


def _texts(at: AppTest) -> str:
    return " ".join(e.value for kind in ("error", "warning", "info", "caption") for e in getattr(at, kind))


def test_demo_mode_is_refused_over_a_store_synced_from_a_real_database(run_app, copies, monkeypatch) -> None:  # noqa: ANN001
    run_app  # noqa: B018 - its fixture clears the caches
    monkeypatch.delenv("CASES_DB_URL")
    monkeypatch.delenv("CASES_ALLOW_DEMO_MODE")
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    assert "分析库是从真实案件库同步的" in _texts(at) and "fictitious" not in _texts(at)


def test_a_sync_stopped_by_a_bad_row_keeps_the_store_and_says_what_to_do(run_app, copies, monkeypatch) -> None:  # noqa: ANN001
    url, store = copies
    good = current_version(store)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE payments SET paid_at = '2026-11-20 25:61:00' "
                             "WHERE payment_id = (SELECT MAX(payment_id) FROM payments)"))
    engine.dispose()
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_MAX_AGE_S", "0")  # stale: the dashboard syncs before serving
    at = run_app(lang="en")
    assert not at.exception and at.metric  # the last good store is served
    shown = _texts(at)
    assert "break the data contract" in shown and "payments.paid_at" in shown and "doctor" in shown
    assert "unreachable" not in shown
    assert current_version(store) == good


def test_a_replica_survives_two_syncs_by_another_process(run_app, copies, monkeypatch) -> None:  # noqa: ANN001
    url, store = copies
    monkeypatch.setenv("CASES_DB_URL", url)
    at = run_app(team="T01")
    first = current_version(store)
    assert not at.exception and (store / "leases").is_dir()
    env = {**os.environ, "CASES_DB_URL": url, "CASES_STORE_DIR": str(store)}
    new_day = Store.open(store).as_of + dt.timedelta(days=1)
    for k in range(2):  # a sync job elsewhere swaps the store twice; the second brings a new day
        if k == 1:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO payments (payment_id, case_id, agent_id, paid_at, amount, method) "
                                     "SELECT MAX(payment_id) + 1, MIN(case_id), MIN(agent_id), :at, 12.34, 'app' "
                                     "FROM payments"), {"at": f"{new_day} 10:00:00.000000"})
            engine.dispose()
        subprocess.run([sys.executable, "-m", "queries.cli", "sync", "--full"], env=env, check=True,
                       capture_output=True, timeout=300)
    assert current_version(store) != first and first.is_dir()  # kept: this process still holds a lease on it
    at.switch_page("dashboard/pages/agents.py").run()  # a filtered view: reads day files from disk
    assert not at.exception
    # the new version is served on the next run, without a restart (the replica never syncs itself)
    assert any(day(new_day, "zh") in c.value or day(new_day, "en") in c.value for c in at.caption)
    assert any(current_version(store).name == p.name.split("@")[0] for p in (store / "leases").iterdir())
    # once no one holds it, the next sync removes the old version
    for lease in (store / "leases").glob(f"{first.name}@*"):
        os.utime(lease, (time.time() - 3600, time.time() - 3600))
    subprocess.run([sys.executable, "-m", "queries.cli", "sync", "--full"], env=env, check=True,
                   capture_output=True, timeout=300)
    assert not first.exists()


def test_a_bug_shows_an_error_id_and_logs_the_trace(run_app, monkeypatch, caplog) -> None:  # noqa: ANN001
    from dashboard import data

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom at /srv/secret/path.py")

    monkeypatch.setattr(data, "kpis", broken)
    at = run_app()
    assert at.exception  # still an exception for tests and the server log
    shown = " ".join(e.value for e in at.error)
    assert "错误编号" in shown and "/srv/secret" not in shown
    eid = shown.split("错误编号 ")[1][:8]
    assert any(eid in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_view_that_cannot_be_audited_is_refused(run_app, copies, monkeypatch) -> None:  # noqa: ANN001
    from queries.governance import audit

    class Full:
        f_bavail, f_frsize = 1, 4096

    monkeypatch.setattr(audit.os, "statvfs", lambda _p: Full())
    at = run_app()
    assert not at.exception
    assert not at.metric and not at.get("plotly_chart")  # nothing served without its audit entry
    assert any("审计日志暂时无法写入" in e.value and "audit log cannot be written" in e.value for e in at.error)


def test_report_runs_are_audited(app_source, copies, monkeypatch) -> None:  # noqa: ANN001
    from queries.cli import main
    from queries.governance.audit import read

    url, store = copies
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_MAX_AGE_S", "1e12")
    assert main(["report", "collected", "--start", "2026-11-01", "--end", "2026-11-22", "--by", "team_id",
                 "--team", "T01"]) == 0
    entry = read(store).row(0, named=True)
    assert entry["action"] == "report" and entry["page"] == "report:collected" and entry["rows"] == 1
    assert entry["user"].startswith("cli:") and json.loads(entry["filters"])["teams"] == ["T01"]
