"""Random and hostile URL parameters on every page: a valid default view with a notice, never an exception or more data.

Each example starts a fresh session as a team lead of T01 with the generated query string, opens the page as a
link to it does (its first run is the page's; the data page, whose path is not its script's name, from the landing
page) and checks: no exception, the page's title, the bad-link notice, team choices limited to T01 and no row of
another team. HOSTILE_EXAMPLES (default 25) sets the examples per page.
"""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from dashboard.i18n import t
from dashboard.links import CHANNELS, URL_KEYS
from queries.dates import PRESETS

PAGES = {"daily": "每日回收", "agents": "坐席绩效", "complaints": "投诉监控", "compliance": "合规监控",
         "aging": "账龄与迁徙",
         "trends": "月度趋势", "cases": "案件明细", "glossary": "指标口径", "data_overview": "数据概况"}
PAGE_KEYS = {"daily": "pg_daily", "agents": "pg_agents", "complaints": "pg_complaints", "aging": "pg_aging",
             "trends": "pg_trends", "cases": "pg_cases", "glossary": "pg_glossary", "data_overview": "pg_data"}
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "25"))

SQL = ["T01' OR '1'='1", "'; DROP TABLE cases;--", "1 OR 1=1", 'T01" OR 1=1 --', "T01; DELETE FROM payments",
       "%' UNION SELECT phone FROM cases --", "T01/**/OR/**/1=1", "${jndi:ldap://x}", "<script>alert(1)</script>"]
UNKNOWN = ["T99", "A9999", "M42", "next_century", "all", "None", "null", "undefined", "T01 ", " T01", "t01"]
DATES = ["2026-13-45", "2026-02-30", "0000-00-00", "20261101", "yesterday", "2026-11-20T00:00", "9999-12-31",
         "0001-01-01", "-2026-01-01", "2026-1-1", "1e309"]
TYPES = ["1e309", "NaN", "-1", "0", "true", "[]", "{}", "[\"T01\"]", "{'a': 1}", "0x41", "∞"]
UNICODE = ["团队", "🙂", "\u202eT01", "T\u200b01", "Ｔ０１", "ä" * 200, "\\", "%00", "%25", "&team=T02", "#x"]
HOSTILE = SQL + UNKNOWN + DATES + TYPES + UNICODE
KEYS = list(URL_KEYS) + ["sla", "snapshot", "role", "user", "scope", "page", "x" * 60, "团队", "team[]", ""]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
value = st.one_of(st.sampled_from(HOSTILE), text, st.sampled_from(["T01", "T02", "T03", "mtd", "M1", "en", ""]))
values = st.one_of(
    value,
    st.lists(value, min_size=2, max_size=6),  # repeated keys
    st.builds(lambda v, n: [v] * n, value, st.sampled_from([990, 1000])),  # huge lists
    st.lists(st.sampled_from(DATES + ["2026-11-20", "2026-11-01", "2026-11-22"]), min_size=2, max_size=3),
)
params = st.tuples(
    st.sampled_from(URL_KEYS), st.sampled_from(HOSTILE),  # at least one value that is certainly not valid
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5),
)


def _ignored(query: dict) -> bool:
    """True when Streamlit drops the whole query string (over 1000 parameters or 512 Ki characters)."""
    fields = sum(len(v) if isinstance(v, list) else 1 for v in query.values())
    return fields > 1000 or len(urlencode(query, doseq=True)) > 512 * 1024


def _valid_for(key: str, value: str) -> bool:
    """True for the few hostile values that happen to be valid for their key (`yesterday` is a period)."""
    if key == "dates":
        try:
            return 2006 <= dt.date.fromisoformat(value).year <= 2031  # Python reads 20261101 as a date, too
        except ValueError:
            return False
    return value in {"period": PRESETS, "channel": CHANNELS, "lang": ("zh", "en")}.get(key, ())


def _lang(query: dict) -> str:
    """The language the app shows for this query: the last valid `lang` value (invalid ones get a notice)."""
    raw = query.get("lang", [])
    valid = [v for v in (raw if isinstance(raw, list) else [raw]) if v in ("zh", "en")]
    return valid[-1] if valid and not _ignored(query) else "zh"


def _check(at, page: str, store, query: dict) -> None:  # noqa: ANN001
    assert not at.exception, [e.value for e in at.exception]
    lang = _lang(query)  # a hostile link may also carry a perfectly good lang=en
    assert at.title and at.title[0].value == (PAGES[page] if lang == "zh" else t(PAGE_KEYS[page], "en"))
    # Streamlit ignores a query string of more than 1000 parameters altogether: the default view, no notice.
    notice = t("bad_url", lang)
    assert _ignored(query) or any(notice in w.value for w in at.warning), [w.value for w in at.warning]
    assert [o.split(" · ")[0] for o in at.sidebar.multiselect(key="f_team").options] == ["T01"]
    mine = set(store.frame("agents").filter(store.frame("agents")["team_id"] == "T01")["agent_id"].to_list())
    for df in (d.value for d in at.dataframe):
        if "team_id" in df.columns:
            assert set(df["team_id"].dropna()) <= {"T01"}
        if "agent_id" in df.columns:
            assert set(df["agent_id"].dropna()) <= mine


@pytest.mark.parametrize("page", list(PAGES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(p=params)
@example(p=("dates", "9999-12-31", {}))
@example(p=("dates", "0001-01-01", {"period": "custom"}))
@example(p=("team", "T01' OR '1'='1", {"dates": ["0001-01-01", "9999-12-31"], "agent": ["A0005"] * 990}))
@example(p=("agent", "'; DROP TABLE cases;--", {"team": ["T02", "T03", "T01"], "role": "compliance"}))
def test_hostile_url_parameters(run_app, app_store, page: str, p) -> None:  # noqa: ANN001
    key, bad, extra = p
    assume(not _valid_for(key, bad))
    query = {k: v for k, v in extra.items() if k != key}
    query[key] = bad if not isinstance(query.get(key), list) else [*query[key], bad]
    at = run_app(None if page == "daily" else page, role="team_lead", teams=["T01"], query=query)
    _check(at, page, app_store, query)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(p=params)
def test_hostile_url_parameters_on_the_audit_page(run_app, p) -> None:  # noqa: ANN001
    key, bad, extra = p
    assume(not _valid_for(key, bad))
    query = {k: v for k, v in extra.items() if k != key} | {key: bad}
    at = run_app("audit_log", role="compliance", query=query)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "审计日志"
    assert _ignored(query) or any(t("bad_url", _lang(query)) in w.value for w in at.warning)


@pytest.mark.parametrize("bad", ["abc", "0", "366", "-3", "15.0", "1e309", "１５", "7; DROP TABLE complaints"])
def test_a_bad_sla_in_the_link_gets_a_notice_and_the_default(run_app, bad: str) -> None:  # noqa: ANN001
    at = run_app("complaints", period="ytd", sla=bad)
    assert not at.exception
    assert at.number_input(key="sla").value == 15
    notice = next(w.value for w in at.warning if "链接中的筛选条件无效" in w.value)
    assert "处理时限（天）" in notice and f"`{bad}`" in notice


def test_a_good_sla_in_the_link_is_used_without_a_notice(run_app) -> None:  # noqa: ANN001
    at = run_app("complaints", period="ytd", sla="7")
    assert not at.exception
    assert at.number_input(key="sla").value == 7
    assert not at.warning


DRILL_KEYS = ["drill", "d_day", "d_month", "d_snapshot", "d_start", "d_end", "d_team", "d_agent", "d_bucket",
              "d_from", "d_to", "d_category", "d_source", "d_channel"]
drill_params = st.dictionaries(st.sampled_from(DRILL_KEYS), values, min_size=1, max_size=5)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=drill_params)
@example(query={"drill": "payments", "d_team": "T02"})
@example(query={"drill": "payments", "d_bucket": "M9"})  # found by hypothesis: an unknown bucket was a traceback
@example(query={"drill": "cases", "d_agent": ["A0005"] * 990})
@example(query={"drill": "complaints", "d_category": "[x](http://evil.example)", "d_day": "2026-11-20"})
def test_hostile_drill_down_links_on_the_cases_page(run_app, app_store, query: dict) -> None:  # noqa: ANN001
    """A drill-down link is data, never code: no exception, nothing outside the scope, whatever it asks for."""
    at = run_app("cases", role="team_lead", teams=["T01"], query=query)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == PAGES["cases"]
    assert [o.split(" · ")[0] for o in at.sidebar.multiselect(key="f_team").options] == ["T01"]
    mine = set(app_store.frame("agents").filter(app_store.frame("agents")["team_id"] == "T01")["agent_id"].to_list())
    for df in (d.value for d in at.dataframe):
        if "agent_id" in df.columns:
            assert set(df["agent_id"].dropna()) <= mine
    # what the link names is shown as plain text, never as markdown (no link, image or HTML of its own)
    assert not [m.value for m in at.markdown if "下列案件对应" in m.value]


@pytest.mark.parametrize("query, bad", [
    ({"drill": "'; DROP TABLE cases;--"}, "drill"),
    ({"drill": "payments", "d_day": "2026-02-30"}, "d_day"),
    ({"drill": "payments", "d_day": "9999-12-31"}, "d_day"),
    ({"drill": "payments", "d_channel": "both"}, "d_channel"),
    ({"drill": "payments", "d_team": "T" * 41}, "d_team"),
    ({"drill": "payments", "d_month": ["2026-10-01", "2026-11-01"]}, "d_month"),
    ({"drill": "payments", "d_day": "[l](http://e.x)"}, "d_day"),
])
def test_an_invalid_drill_down_link_gets_a_notice(run_app, query: dict, bad: str) -> None:  # noqa: ANN001
    at = run_app("cases", query=query)
    assert not at.exception
    notice = next(w.value for w in at.warning if "链接中的筛选条件无效" in w.value)
    assert f"- {bad}: `" in notice  # the value quoted as inline code: markdown in a link stays inert
    assert at.dataframe  # still a list: the valid part of the request, or the filters' cases


def test_notices_speak_the_language_the_page_shows(run_app) -> None:  # noqa: ANN001
    at = run_app(lang=["en", "xx"], team="T99")  # the last valid lang wins; the bad one is named
    assert at.title[0].value == "Daily recovery"
    notice = next(w.value for w in at.warning if t("bad_url", "en") in w.value)
    assert "- Language: `xx`" in notice and "- Team: `T99`" in notice
