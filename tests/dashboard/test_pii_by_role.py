"""Personal data: every page, case list, timeline and export, for every role, searched for unmasked values."""

from __future__ import annotations

import io
import re
import zipfile

import polars as pl
import pytest
import sqlalchemy as sa
from google.protobuf import text_format
from streamlit.testing.v1.element_tree import Dataframe

from dashboard.i18n import _LABELS, _VALUES
from dashboard.session import EXPORTS

PAGES = ("daily", "agents", "complaints", "compliance", "aging", "trends", "glossary", "data_overview")
ROLES = (("executive", ()), ("manager", ()), ("team_lead", ("T01",)), ("compliance", ()))
CJK = re.compile(r"[\u4e00-\u9fff]+")
DIGITS = re.compile(r"[0-9Xx]{6,}")


@pytest.fixture(scope="module")
def pii(app_source) -> dict[str, set[str]]:  # noqa: ANN001
    """Every personal-data value in the case database, and the CJK text that is not personal (labels, agents)."""
    engine = sa.create_engine(app_source[0])
    with engine.connect() as conn:
        cases = pl.read_database("SELECT customer_name, phone, id_number, account_no FROM cases", conn)
        phones = pl.read_database("SELECT DISTINCT phone_no FROM contacts", conn)
        agents = pl.read_database("SELECT agent_name FROM agents", conn)
        teams = pl.read_database("SELECT team_name, site, agency_name FROM teams", conn)
        dims = pl.read_database("SELECT DISTINCT product, region FROM cases", conn)
    engine.dispose()
    public = " ".join([*(a for pair in _LABELS.values() for a in pair), *(a for pair in _VALUES.values() for a in pair),
                       *agents["agent_name"].to_list(), *(str(v) for v in teams.to_numpy().ravel() if v),
                       *(str(v) for v in dims.to_numpy().ravel() if v)])
    public_cjk = {s for run in CJK.findall(public) for s in _subs(run)}
    names = {n for n in cases["customer_name"].drop_nulls().to_list() if len(n) >= 2} - public_cjk
    numbers = set(cases["phone"].drop_nulls().to_list()) | set(cases["id_number"].drop_nulls().to_list()) | \
        set(cases["account_no"].drop_nulls().to_list()) | set(phones["phone_no"].drop_nulls().to_list())
    assert len(names) > 0.8 * cases.height * 0.5  # nearly every name is checked (few collide with public text)
    return {"names": names, "numbers": {str(n) for n in numbers}}


def _subs(run: str) -> set[str]:
    return {run[i:j] for i in range(len(run)) for j in range(i + 2, min(len(run), i + 5) + 1)}


def _leaks(text: str, pii: dict[str, set[str]]) -> set[str]:
    """Unmasked personal values found in the text (whole digit runs; every 2–5 character piece of CJK runs)."""
    found = {tok for tok in DIGITS.findall(text) if tok in pii["numbers"]}
    found |= {s for run in CJK.findall(text) for s in _subs(run) if s in pii["names"]}
    return found


def _walk(node, out: list[str]) -> None:  # noqa: ANN001
    if isinstance(node, Dataframe):
        out.append(node.value.to_csv())
        return
    proto = getattr(node, "proto", None)
    if proto is not None and not isinstance(proto, (str, bytes)):
        try:
            out.append(text_format.MessageToString(proto, as_utf8=True))
        except Exception:  # noqa: BLE001 - a block without a printable proto
            pass
    for child in getattr(node, "children", {}).values():
        _walk(child, out)


def _exported(at) -> list[str]:  # noqa: ANN001
    """The bytes every download button of this run would produce (the page's own export functions)."""
    out = []
    for offer in at.session_state[EXPORTS].values():
        out.append(offer.csv().decode("utf-8-sig"))
        with zipfile.ZipFile(io.BytesIO(offer.xlsx())) as z:
            out.extend(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    return out


def _scan(at, pii) -> tuple[set[str], int]:  # noqa: ANN001
    texts: list[str] = []
    _walk(at._tree, texts)
    exports = _exported(at)
    return _leaks("\n".join(texts + exports), pii), len(exports)


def _open_timeline(at) -> None:  # noqa: ANN001
    at.session_state["case_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()


@pytest.mark.parametrize(("role", "teams"), ROLES, ids=[r for r, _ in ROLES])
def test_no_unmasked_personal_data_anywhere(run_app, pii, role: str, teams: tuple[str, ...]) -> None:  # noqa: ANN001
    at = run_app(role=role, teams=teams)
    pages = PAGES + (("audit_log",) if role == "compliance" else ())
    exports = 0
    for page in pages:
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert not at.exception, (role, page)
        leaks, n = _scan(at, pii)
        exports += n
        assert not leaks, (role, page, sorted(leaks)[:5])
    for drill in ({"event": "cases"}, {"event": "payments", "label": "x"}, {"event": "contacts", "label": "x"}):
        at.session_state["_drill"] = drill
        at.switch_page("dashboard/pages/cases.py").run()
        assert not at.exception
        assert at.dataframe, (role, drill)
        _open_timeline(at)
        assert not at.exception
        assert any("时间线" in s.value or "Timeline" in s.value for s in at.subheader), (role, drill)
        assert len(at.dataframe) == 2  # the case list and the timeline
        leaks, n = _scan(at, pii)
        exports += n
        assert not leaks, (role, drill, sorted(leaks)[:5])
        assert "timeline" in at.session_state[EXPORTS]  # the timeline's export was searched too
    # the compliance page's breach list (any rule, the year) and a breaching contact's case timeline
    at.sidebar.selectbox(key="f_period").set_value("ytd")
    at.session_state["_breach_sel"] = {"check": "quiet_hours"}
    at.switch_page("dashboard/pages/compliance.py").run()
    at.session_state["breach_rows_1"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "breach_list" in at.session_state[EXPORTS] and "timeline" in at.session_state[EXPORTS], role
    leaks, n = _scan(at, pii)
    exports += n
    assert not leaks, (role, "compliance", sorted(leaks)[:5])
    assert exports >= 20


def test_compliance_sees_personal_data_only_when_asked(run_app, pii) -> None:  # noqa: ANN001
    at = run_app("cases", role="compliance")
    assert not at.toggle(key="reveal_pii").value
    assert not _scan(at, pii)[0]
    at.toggle(key="reveal_pii").set_value(True).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert not any("*" in n for n in table["customer_name"])
    leaks, _ = _scan(at, pii)
    assert leaks  # the list and its exports are unmasked now
    _open_timeline(at)
    assert not at.exception
    assert "*" not in at.metric[0].value  # the timeline header too
    at.toggle(key="reveal_pii").set_value(False).run()
    assert not _scan(at, pii)[0]


@pytest.mark.parametrize("role", ["executive", "manager", "team_lead"])
def test_other_roles_have_no_reveal_switch(run_app, role: str) -> None:  # noqa: ANN001
    at = run_app("cases", role=role, teams=["T01"] if role == "team_lead" else ())
    assert not at.exception
    assert not [tg for tg in at.toggle if tg.key == "reveal_pii"]
    at.session_state["reveal_pii"] = True  # a forged session value changes nothing
    at.run()
    assert all("*" in n for n in at.dataframe[0].value["customer_name"])
