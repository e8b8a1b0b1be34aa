"""The 合规监控 · Compliance page in AppTest: every role in both languages, the cards equal the registry's figures, a
click lists exactly the breaching contacts behind the figure (the count equals the figure), masked for every role but
compliance, scoped for a team lead; a bad house rule file shows a banner and the previous pack stays in force."""

from __future__ import annotations

import re

import polars as pl
import pytest
from fixtures_demo import AS_OF

from dashboard.format import num
from dashboard.session import BREACH_SEL, EXPORTS
from queries.filters import Filters
from queries.metrics.registry import compute

ROLES = (("manager", ()), ("executive", ()), ("compliance", ()), ("team_lead", ("T01",)))
YTD = Filters(AS_OF.replace(month=1, day=1), AS_OF)
CHECK_ZH = {"quiet_hours": "非时段催收", "unanswered_cap": "未接通超频", "third_party": "违规联系第三方"}


def _open(run_app, role: str = "manager", teams=(), **sel: str):  # noqa: ANN001, ANN202
    """The page with a drill-down selection in its URL, as a shared link opens it."""
    at = run_app("compliance", role=role, teams=teams, period="ytd")
    for k, v in sel.items():
        at.query_params[k] = v
    return at.run()


def _total(at) -> int | None:  # noqa: ANN001
    """The breach list's count, as the page says it ("共 N 条违规记录" / "N breaching contacts")."""
    for c in at.caption:
        m = re.search(r"共 ([\d,]+) 条违规记录|^([\d,]+) breaching contacts", c.value)
        if m:
            return int((m.group(1) or m.group(2)).replace(",", ""))
    return None


def _masked(v: str) -> bool:
    return "*" in v or v == "—"


def _list(at) -> pl.DataFrame:  # noqa: ANN001
    """The breach list as shown (the data frame with a contact id column)."""
    for d in at.dataframe:
        df = d.value
        if "contact_id" in df.columns:
            return pl.from_pandas(df)
    raise AssertionError("no breach list on the page")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("role", "teams"), ROLES, ids=[r for r, _ in ROLES])
def test_the_page_renders_for_every_role_in_both_languages(run_app, role: str, teams, lang: str) -> None:  # noqa: ANN001
    at = run_app("compliance", role=role, teams=teams, lang=lang, period="ytd")
    assert not at.exception, at.exception
    assert at.title[0].value == ("合规监控" if lang == "zh" else "Compliance")
    assert not at.error, [e.value for e in at.error]
    if lang == "en":  # no Chinese from the interface in the English page (names from the data may be Chinese)
        labels = [m.label for m in at.metric] + [s.value for s in at.markdown if s.value.startswith("**")]
        assert not [x for x in labels if re.search(r"[\u4e00-\u9fff]", x)], labels
    else:
        assert any(m.label == "非时段催收" for m in at.metric)


def test_cards_are_the_registry_breaches_by_rule(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("compliance", role="manager", period="ytd")
    ref = compute("breaches", app_store, YTD, ("check",))
    shown = {m.label: m.value for m in at.metric}
    for check, label in CHECK_ZH.items():
        n = ref.filter(pl.col("check") == check).get_column("numerator")[0]
        assert shown[label] == num(n), check
    assert any(int(n) > 0 for n in ref.get_column("numerator"))  # the demo breaks rules: the test can fail


@pytest.mark.parametrize("check", ["quiet_hours", "third_party"])
def test_a_clicked_bar_lists_as_many_contacts_as_it_counts(run_app, app_store, check: str) -> None:  # noqa: ANN001
    by_day = compute("breaches", app_store, YTD, ("check", "day")).filter(
        (pl.col("check") == check) & (pl.col("numerator") > 0)).sort("numerator", descending=True)
    day, n = by_day.get_column("day")[0], int(by_day.get_column("numerator")[0])
    at = _open(run_app, b_check=check, b_day=day.isoformat())
    assert not at.exception
    assert _total(at) == n
    rows = _list(at)
    assert rows.height == min(n, 50)
    assert all(CHECK_ZH[check] in v for v in rows.get_column("checks_text"))
    assert all(_masked(v) for v in rows.get_column("phone_no"))


def test_a_ranking_row_lists_every_breaching_contact_of_the_team_once(run_app, app_store) -> None:  # noqa: ANN001
    ref = compute("breaches", app_store, YTD, ("team_id",)).sort("numerator", descending=True)
    team, n = ref.get_column("team_id")[0], int(ref.get_column("numerator")[0])
    at = run_app("compliance", role="manager", period="ytd")
    at.session_state["rank_team"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.session_state[BREACH_SEL] == {"team": team}
    assert _total(at) == n  # any rule: each breaching contact once, as the figure counts it
    assert at.query_params["b_team"] in (team, [team])  # the link reopens the same list
    # paging: the second page holds the next rows, and the list's export every row
    at.session_state["breach_page"] = 2
    at.run()
    assert not at.exception and _list(at).height == min(50, n - 50)
    offer = at.session_state[EXPORTS]["breach_list"]
    assert offer.csv().decode("utf-8-sig").count("\n") == n + 1


def test_a_contact_opens_its_case_timeline(run_app) -> None:  # noqa: ANN001
    at = _open(run_app, b_check="quiet_hours")
    case_id = int(_list(at).get_column("case_id")[0])
    at.session_state["breach_rows_1"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert any(str(case_id) in s.value for s in at.subheader)
    assert "timeline" in at.session_state[EXPORTS]


def test_a_team_lead_sees_only_their_teams_even_when_the_link_asks_for_another(run_app, app_store) -> None:  # noqa: ANN001
    at = _open(run_app, "team_lead", ["T01"], b_team="T04")
    assert not at.exception
    assert _total(at) in (None, 0)  # T04 is outside the scope: nothing, never everything
    at = _open(run_app, "team_lead", ["T01"], b_check="quiet_hours")
    mine = compute("breaches", app_store, Filters(YTD.start, YTD.end, teams=("T01",)), ("check",)).filter(
        pl.col("check") == "quiet_hours").get_column("numerator")[0]
    assert _total(at) in (None, 0) if mine == 0 else _total(at) == int(mine)
    team = compute("breaches", app_store, YTD, ("team_id",))
    shown = pl.from_pandas(at.dataframe[0].value)
    assert shown.height == 1 and team.height > 1  # the ranking of teams: their own only


def test_compliance_may_reveal_the_number_dialled_and_others_may_not(run_app) -> None:  # noqa: ANN001
    at = _open(run_app, "compliance", b_check="quiet_hours")
    assert all(_masked(v) for v in _list(at).get_column("phone_no"))
    at.toggle(key="reveal_pii_breach").set_value(True).run()
    assert not at.exception
    assert not any("*" in v for v in _list(at).get_column("phone_no"))
    at = _open(run_app, b_check="quiet_hours")
    assert not [tg for tg in at.toggle if tg.key == "reveal_pii_breach"]
    at.session_state["reveal_pii_breach"] = True  # a forged session value changes nothing
    at.run()
    assert all(_masked(v) for v in _list(at).get_column("phone_no"))


def test_a_bad_house_rule_file_keeps_the_previous_pack_with_a_banner(run_app, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "house.toml").write_text('[source]\ntitle = "本行规则"\n\n[[rules]]\nid = "h1"\ncheck = "unanswered_cap"\n'
                                    'article = "1"\neffective_from = 2026-01-01\nmax_per_phone_day = -3\n',
                                    encoding="utf-8")
    monkeypatch.setenv("CASES_RULES_DIR", str(bad))
    at = run_app("compliance", role="compliance", period="ytd")
    assert not at.exception
    assert any("house.toml" in e.value and "h1" in e.value for e in at.error)
    assert at.metric  # the figures still show, judged by the previous valid pack


def test_junk_in_the_selection_link_is_named_and_ignored(run_app) -> None:  # noqa: ANN001
    at = _open(run_app, b_check="<img src=x onerror=alert(1)>", b_day="2026-13-45", b_team="T01")
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "b_check" in warning and "b_day" in warning
    assert at.session_state[BREACH_SEL] == {"team": "T01"}  # the valid part is kept


def test_the_drill_down_and_its_download_are_audited(run_app, app_source, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    from queries.governance.audit import read

    store = tmp_path / "own_store"
    shutil.copytree(app_source[1], store, ignore=shutil.ignore_patterns("audit"))
    monkeypatch.setenv("CASES_STORE_DIR", str(store))
    at = _open(run_app, "compliance", b_check="quiet_hours")
    at.session_state[EXPORTS]["breach_list"].csv()
    log = read(store, AS_OF.replace(year=2000), AS_OF.replace(year=2100))
    drills = log.filter((pl.col("action") == "drilldown") & (pl.col("page") == "compliance"))
    assert drills.height >= 1 and _total(at) == drills.get_column("rows")[0]
    assert log.filter((pl.col("action") == "export") & (pl.col("page") == "compliance")).height == 1


def test_checks_without_their_optional_data_say_so(app_source, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A source without repayment_plans and contacts.recording_id: those two checks explain why they are empty, the
    others still count, in both languages."""
    import streamlit as st
    from fixtures_app import open_page_app, serve_lean_copy

    serve_lean_copy(app_source, tmp_path, monkeypatch, "DROP TABLE repayment_plans", "ALTER TABLE contacts DROP COLUMN recording_id")
    for lang, words in (("zh", ("repayment_plans", "协商还款期内催收", "contacts.recording_id", "接通未录音")),
                        ("en", ("repayment_plans", "During a repayment plan", "contacts.recording_id",
                                "Unrecorded call"))):
        at = open_page_app("compliance", lang=lang, period="ytd")
        assert not at.exception
        infos = " ".join(i.value for i in at.info)
        assert all(w in infos for w in words), infos
        cards = {m.label: m.value for m in at.metric}
        assert cards[words[1]] == "—" and cards[words[3]] == "—"
        assert cards["非时段催收" if lang == "zh" else "Quiet hours"] != "—"
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_agent_page_ranks_by_compliance_beside_recovery(run_app, app_store) -> None:  # noqa: ANN001
    at = run_app("agents", role="manager")
    assert not at.exception
    board = at.session_state[EXPORTS]["weighted_scorecard"]
    text = board.csv().decode("utf-8-sig")
    assert "仅按回收排名" in text and "名次变化" in text  # the recovery-only rank and the change, in Chinese
    assert any("合规加权排名" in c.value and "仅按回收" in c.value for c in at.caption)
    assert text.count("\n") - 1 == compute("breaches", app_store, Filters(AS_OF.replace(day=1), AS_OF),
                                           ("agent_id",)).filter(pl.col("denominator") > 0).height
