"""Hostile values in the case database: doctor names every bad row, the sync completes, the audit chain holds,
the dashboard shows no exception and no markup, exports hold no live formula."""

from __future__ import annotations

import sqlalchemy as sa
from fixtures_hostile import PROBE

from queries.cli import main as cli_main
from queries.store import Store


def test_the_sync_completes_and_reconciles_on_hostile_text(hostile_source) -> None:  # noqa: ANN001
    url, store = hostile_source
    st = Store.open(store)
    assert st.reconciliation.get("ok") is True
    names = [*st.frame("agents").get_column("agent_name").to_list(), *st.frame("teams").get_column("team_name")]
    assert all(n.startswith(PROBE) for n in names)  # the hostile names made it into the store
    ids = st.frame("agents").get_column("agent_id").to_list()
    assert any(i.startswith("=") for i in ids) and any(i.startswith("\u202e") for i in ids)


def test_doctor_names_every_kind_of_bad_row(hostile_source, capsys) -> None:  # noqa: ANN001
    url, _ = hostile_source
    assert cli_main(["doctor", "--url", url]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(ln.startswith("ERROR") and "agents.agent_name" in ln and "longer than the contract" in ln
               for ln in lines)
    assert any(ln.startswith("ERROR") and "cases.customer_name" in ln and "control characters" in ln for ln in lines)
    assert any("cases.customer_name" in ln and "longer than the contract" in ln for ln in lines)
    assert any("contacts.outcome" in ln and "values outside the contract" in ln for ln in lines)
    assert any("cases.current_dpd" in ln and "not a number" in ln for ln in lines)
    assert "\x00" not in out and "\u202e" not in out and "\x1b" not in out  # shown escaped, never raw
    bad = [ln for ln in lines if ln.startswith("ERROR")]
    assert all("case_id" in ln or "agent_id" in ln or "team_id" in ln or "contact_id" in ln or "payment_id" in ln
               or "promise_id" in ln or "complaint_id" in ln or "snapshot_on" in ln or "plan_id" in ln for ln in bad), bad


def test_hostile_rows_are_really_there(hostile_source) -> None:  # noqa: ANN001
    url, _ = hostile_source
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT customer_name FROM cases"))]
    engine.dispose()
    assert any(n.startswith("=") for n in names) and any(len(n) >= 5000 for n in names)
    assert any("<script>" in n for n in names) and any("\u2028" in n for n in names)
