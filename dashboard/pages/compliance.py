"""合规监控 · Compliance: breaches by rule and day, who breaches most per 1,000 attempts, the breaching contacts
themselves (drill-down to the case timeline), complaints after breaches, RPC yield by attempt ordinal against the
caps, agencies' whitelisting and evaluation, complaints against their legal deadline, the weighted scorecard."""

import dataclasses
import datetime as dt

import polars as pl
import streamlit as st

from dashboard import audit, charts, data, links, session
from dashboard.compliance_blocks import agencies_block, missing_note, rules_label
from dashboard.components import (
    chart_block,
    downloads,
    empty_state,
    kpi,
    metric_help,
    page_header,
    table,
    timeline_block,
)
from dashboard.format import change, code_text, num, pct
from dashboard.i18n import t
from dashboard.session import BREACH_PAGE, BREACH_SEL, current_page, current_view

view = current_view()
lang, f = view.lang, view.filters
url_sel, url_notes = links.breach_from_url(data.CONTACT_CHECKS)
page_header(view, "pg_compliance", url_notes)

pack, problem = data.rule_pack()
if problem:  # one line naming file, rule and key; the previous valid pack judges meanwhile
    st.error(t("pack_problem", lang, msg=code_text(problem)), icon=":material/rule:")
judged = data.store_pack()
if judged and judged != pack.version:
    st.warning(t("pack_stale", lang, store=code_text(judged), now=code_text(pack.version)), icon=":material/history:")
if f.products or f.regions:
    st.info(t("no_product_region", lang), icon=":material/filter_alt_off:")
    f = dataclasses.replace(f, products=(), regions=())
missing = data.missing_checks()
skipped = data.skipped_rows()
if sum(skipped.values()) > 0:
    st.caption(":material/warning: " + t("skipped_rows", lang, n=f"{sum(skipped.values()):,}",
                                         cols=", ".join(f"{k} {v:,}" for k, v in skipped.items())))


def _rules(check: str) -> str:
    """The rules that judged a check in the period (escaped for tooltips)."""
    return rules_label(check, f.start, f.end, lang)


def _missing(check: str) -> str | None:
    """Why a check cannot be made on this source, or None."""
    return missing_note(check, lang)


for gap in missing:  # each check the source cannot support says so, once, in words
    st.info(_missing(gap), icon=":material/info:")


# ---------------------------------------------------------------- the drill-down selection


def _select(source: str, sel: dict[str, str] | None) -> None:
    """Choose the contacts to list, once per new click (chart and table selections persist across reruns)."""
    last = f"{session.PICK_LAST}breach_{source}"
    if not sel:  # nothing selected there now: the same mark clicked again is a new choice
        st.session_state.pop(last, None)
    elif st.session_state.get(last) != sel:
        st.session_state[last] = sel
        st.session_state[BREACH_SEL] = sel
        st.session_state.pop(BREACH_PAGE, None)


if url_sel is not None and st.session_state.get(BREACH_SEL) != url_sel:
    st.session_state[BREACH_SEL] = url_sel  # a shared link (or the browser's Back) opens the list it names
    st.session_state.pop(BREACH_PAGE, None)

# ---------------------------------------------------------------- KPI cards: breaches by rule vs the previous period

p0, p1 = data.previous_period(f)
kp = data.compliance("breach_kpis", f)
with st.container(key="kpis"):
    cols = st.columns(4) + st.columns(4)  # seven rules: two rows, so each label reads whole at 1280 px
    rows = {r["check"]: r for r in kp.df.iter_rows(named=True)} if not kp.empty else {}
    for col, check in zip(cols, data.CONTACT_CHECKS, strict=False):
        r = rows.get(check, {})
        gap = _missing(check)
        if gap or kp.empty:
            kpi(col, t(f"chk_{check}", lang), "—", help=gap or kp.reason(lang))
            continue
        base = t("base_connected" if check == "unrecorded" else "base_attempts", lang)
        kpi(col, t(f"chk_{check}", lang), num(r.get("numerator")),
            delta=change(r.get("change")) if r.get("change") is not None else None, delta_color="inverse",
            help=t("k_breach_help", lang, rate=num(r.get("value"), 2), base=base, start=p0, end=p1,
                   prev=num(r.get("prev_numerator")), rules=_rules(check)))
    cols[-1].caption(f":material/gavel: {t('pack_line', lang, version=pack.version)}  \n{t('pack_where', lang)}")

# ---------------------------------------------------------------- breaches by day and rule

help_b = metric_help("breaches", lang) + "  \n" + "  \n".join(
    f"{t(f'chk_{c}', lang)}: {_rules(c)}" for c in data.CONTACT_CHECKS)
by_day = data.metric("breaches", f, ("check", "day"))
if not by_day.empty:
    by_day = data.Result(by_day.df.filter(pl.col("numerator") > 0))
chart_block(t("c_breach_day", lang), by_day, lambda d: charts.breaches_by_day(d, lang, list(data.CONTACT_CHECKS)), view,
            "breaches_by_day", "breach_day", help=help_b, empty=t("no_breaches", lang),
            export_opts={"metric": "breaches"}, hint=t("bar_pick", lang),
            on_pick=lambda p: _select("day", p and {"check": str(p.get("customdata")), "day": str(p.get("x"))[:10]}))

# ---------------------------------------------------------------- ranking of teams, agencies and agents

with st.container(border=True):
    st.markdown(f"**{t('c_breach_rank', lang)}**", help=help_b)
    # one level at a time: a grid per level would be drawn (and paid for by the browser) even while hidden
    level = st.segmented_control(t("rank_by", lang), ("team", "agency", "agent"), default="team", key="rank_level",
                                 format_func=lambda lv: t(f"rank_{lv}", lang), label_visibility="collapsed") or "team"
    rk = data.compliance("breach_ranking", f, level=level)
    if rk.empty:
        empty_state(view, rk)
    else:
        tb = table(rk.df, lang, metric="breaches", pinned=("who_id",))
        ev = st.dataframe(tb.frame, hide_index=True, width="stretch", on_select="rerun",
                          selection_mode="single-row", key=f"rank_{level}", column_config=tb.config,
                          height=min(420, 38 + 35 * rk.df.height))
        st.caption(f":material/ads_click: {t('rank_pick', lang)}")
        picked = ev.selection.rows if ev else []
        who = str(rk.df.get_column("who_id")[picked[0]]) if picked and picked[0] < rk.df.height else None
        _select(f"rank_{level}", who and ({"agent": who} if level == "agent" else {"team": who}))
        downloads(rk.df, f"breach_rate_by_{level}", view, f"rank_{level}", title=t("c_breach_rank", lang),
                  metric="breaches")

# ---------------------------------------------------------------- the breaching contacts themselves


def _describe(sel: dict[str, str]) -> str:
    parts = [t(f"chk_{sel['check']}", lang) if sel.get("check") else t("any_check", lang)]
    parts += [sel[k] for k in ("day", "team", "agent") if sel.get(k)]
    return " · ".join(parts)


def _shape(rows: pl.DataFrame) -> pl.DataFrame:
    """A page of breaching contacts as shown and exported: the checks and the rules in words."""
    names = {c: t(f"chk_{c}", lang) for c in data.CONTACT_CHECKS}
    rules = data.rule_names(lang)
    return rows.with_columns(
        pl.col("checks").list.eval(pl.element().replace(names)).list.join("、" if lang == "zh" else ", ")
        .alias("checks_text"),
        # a contact judged by several rules at once carries their ids joined by "+"
        pl.col("rule_ids").list.join("+").str.split("+").list.unique(maintain_order=True)
        .list.eval(pl.element().replace(rules)).list.join("; ").alias("rules_text"),
    ).select("contact_id", "contacted_at", "checks_text", "case_id", "customer_name", "phone_no", "agent_id",
             "team_id", "channel", "party", "outcome", "duration_s", "rules_text")


with st.container(border=True):
    st.markdown(f"**{t('c_breach_list', lang)}**")
    sel = st.session_state.get(BREACH_SEL)
    links.keep_selection_in_url(sel)
    if not sel:
        st.caption(f":material/ads_click: {t('breach_pick', lang)}")
    else:
        top, clear = st.columns([5, 1], vertical_alignment="center")
        top.text(t("breach_behind", lang, what=_describe(sel)))  # plain text: values from a link are data
        if clear.button(t("breach_clear", lang), key="breach_clear", type="tertiary", icon=":material/close:"):
            st.session_state.pop(BREACH_SEL, None)
            links.keep_selection_in_url(None)
            st.rerun()
        day = dt.date.fromisoformat(sel["day"]) if sel.get("day") else None
        fd = dataclasses.replace(f, start=day or f.start, end=day or f.end,
                                 teams=(sel["team"],) if sel.get("team") else f.teams,
                                 agents=(sel["agent"],) if sel.get("agent") else f.agents)
        checks = (sel["check"],) if sel.get("check") else ()
        reveal = False
        if session.role() == "compliance":  # only compliance may ask for personal data; queries re-check the role
            reveal = st.toggle(t("reveal_pii", lang), key="reveal_pii_breach", value=False)
        page_no = st.session_state.get(BREACH_PAGE, 1)
        res, err = data.breach_contacts(fd, checks, page_no, reveal=reveal)
        audit.audit_once("drilldown", current_page(), fd, None if res is None else res.total,
                         {"event": "breaches", "check": sel.get("check") or "any", "page": page_no,
                          "reveal_pii": reveal})
        if err:
            st.error(t("drill_unavailable", lang, msg=code_text(err)), icon=":material/error:")
        elif res.total == 0:
            st.info(t("empty", lang), icon=":material/filter_alt_off:")
        else:
            st.caption(t("breach_total", lang, n=f"{res.total:,}"))
            shown = _shape(res.rows)
            tb = table(shown, lang, pinned=("contact_id",))
            ev = st.dataframe(tb.frame, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="single-row", key=f"breach_rows_{page_no}", column_config=tb.config)
            if res.pages > 1:
                st.pagination(res.pages, key=BREACH_PAGE, default=page_no)
            downloads(shown, "breaching_contacts", view, "breach_list", title=t("c_breach_list", lang),
                      filters=fd, reveal=reveal, about=((t("x_drill", lang), _describe(sel)),),
                      batches=lambda every=data.export_breaches(fd, checks, reveal): (_shape(b) for b in every()))
            picked = ev.selection.rows if ev else []
            if picked and picked[0] < shown.height:
                timeline_block(int(shown.get_column("case_id")[picked[0]]), fd, view, reveal)
            else:
                st.caption(t("open_case", lang))

# ---------------------------------------------------------------- complaints after breaches, and against the deadline

cd = data.compliance("complaints_deadline", f)


def _complaint_cards(key: str, count_label: str) -> bool:
    """The two cards of a complaint figure (count of all, and the rate), or its explained empty state; True when
    there are complaints to list."""
    res = data.metric(key, f)
    if res.note or cd.note:
        empty_state(view, res if res.note else cd)
        return False
    if res.empty or cd.empty:
        st.info(t("no_complaints_period", lang), icon=":material/check_circle:")
        return False
    r = res.df.row(0, named=True)
    c = st.columns(2)
    kpi(c[0], t(count_label, lang), f"{num(r['numerator'])} / {num(r['denominator'])}", help=metric_help(key, lang))
    kpi(c[1], t(key, lang), pct(r["value"]))
    return True


left, right = st.columns(2)
with left, st.container(border=True):
    st.markdown(f"**{t('c_after_breach', lang)}**", help=metric_help("complaints_after_breach", lang))
    if _complaint_cards("complaints_after_breach", "k_after_breach"):
        linked = cd.df.filter(pl.col("after_breach"))
        if linked.height == 0:
            st.info(t("no_after_breach", lang), icon=":material/check_circle:")
        else:
            tb = table(linked.drop("after_breach"), lang, pinned=("complaint_id",))
            ev = st.dataframe(tb.frame, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="single-row", key="after_breach_rows", column_config=tb.config,
                              height=min(360, 38 + 35 * linked.height))
            downloads(linked, "complaints_after_breach", view, "after_breach", title=t("c_after_breach", lang))
            picked = ev.selection.rows if ev else []
            if picked and picked[0] < linked.height:
                timeline_block(int(linked.get_column("case_id")[picked[0]]), f, view, False)
            else:
                st.caption(t("complaint_case", lang))
with right, st.container(border=True):
    st.markdown(f"**{t('c_deadline', lang)}**", help=metric_help("complaints_late", lang) + " · "
                + t("rules", lang) + ": " + _rules("complaint_deadline"))
    if _complaint_cards("complaints_late", "k_late"):
        tb = table(cd.df, lang, pinned=("complaint_id",))
        st.dataframe(tb.frame, hide_index=True, width="stretch", key="deadline_rows", column_config=tb.config,
                     height=min(360, 38 + 35 * cd.df.height))
        downloads(cd.df, "complaints_deadline", view, "deadline", title=t("c_deadline", lang))

# ---------------------------------------------------------------- RPC yield by attempt ordinal against the caps

caps = data.caps(f.end)
ordinal = data.metric("rpc_by_attempt", f, ("ordinal",))
chart_block(t("c_ordinal", lang), ordinal, lambda d: charts.rpc_by_ordinal(d, lang, caps), view,
            "rpc_by_attempt_ordinal", "ordinal", help=metric_help("rpc_by_attempt", lang),
            export_opts={"metric": "rpc_by_attempt"}, note=t("ordinal_note", lang))

# ---------------------------------------------------------------- agencies: whitelisting and yearly evaluation

agencies_block(view, f)
