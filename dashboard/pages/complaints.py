"""投诉监控 · Complaints: counts and rates by category, source (12378 apart), team, agent; trend; open vs SLA."""


import polars as pl
import streamlit as st

from dashboard import charts, data, links
from dashboard.components import (
    chart_block,
    downloads,
    empty_state,
    kpi,
    metric_help,
    page_header,
    table,
)
from dashboard.format import num
from dashboard.i18n import t, value
from dashboard.links import SLA_DAYS
from dashboard.session import current_view

view = current_view()
lang, f = view.lang, view.filters
page_header(view, "pg_complaints")
help_rate = metric_help("complaint_rate", lang)

total = data.metric("complaint_rate", f)
row = total.df.row(0, named=True) if not total.empty else {}
c = st.columns(4)
kpi(c[0], t("k_complaints", lang), num(row.get("numerator")), help=help_rate)
kpi(c[1], t("k_rate", lang), num(row.get("value"), 1), help=help_rate)
kpi(c[2], t("k_rate_att", lang), num(row.get("per_10k_attempts"), 1), help=help_rate)
kpi(c[3], t("k_12378", lang), num(row.get("regulator_12378")), help=help_rate)
# Cases were worked but nobody complained: that is the answer, not a gap in the data.
none = t("no_complaints", lang) if row.get("numerator") == 0 and (row.get("denominator") or 0) > 0 else None
spec = {"metric": "complaint_rate"}


def _counts(by: str) -> data.Result:
    res = data.metric("complaint_rate", f, (by,))
    if res.empty:
        return res
    return data.Result(res.df.filter(pl.col("numerator") > 0).sort("numerator", descending=True))


left, right = st.columns(2)
with left:
    cat = _counts("category")
    chart_block(t("c_by_category", lang), cat,
                lambda d: charts.hbar([value(v, lang) for v in d["category"]], d["numerator"].to_list(), lang,
                                      t("count", lang), keys=d["category"].to_list()),
                view, "complaints_by_category", "by_category", help=help_rate, empty=none, export_opts=spec,
                drill=lambda p: {"event": "complaints", "category": p.get("customdata"),
                                 "label": f"{t('complaints', lang)} · {value(p.get('customdata'), lang)}"})
with right:
    src = _counts("source")
    chart_block(t("c_by_source", lang), src,
                lambda d: charts.hbar([value(v, lang) for v in d["source"]], d["numerator"].to_list(), lang,
                                      t("count", lang), keys=d["source"].to_list(),
                                      highlight=[s == "regulator_12378" for s in d["source"]]),
                view, "complaints_by_source", "by_source", help=help_rate, empty=none, export_opts=spec,
                drill=lambda p: {"event": "complaints", "source": p.get("customdata"),
                                 "label": f"{t('complaints', lang)} · {value(p.get('customdata'), lang)}"})

team_names = {tid: name for tid, name, _ in data.options().teams}
left, right = st.columns(2)
with left:
    team = data.metric("complaint_rate", f, ("team_id",))
    team = data.Result(team.df.filter(pl.col("denominator") > 0).sort("value", descending=True), team.note) \
        if not team.empty else team
    chart_block(t("c_by_team_cmp", lang), team,
                lambda d: charts.hbar([f"{tid} {team_names.get(tid, '')}".strip() for tid in d["team_id"]],
                                      d["value"].to_list(), lang, t("per_10k", lang), keys=d["team_id"].to_list(),
                                      fmt="rate"),
                view, "complaint_rate_by_team", "by_team_cmp", help=help_rate, export_opts=spec,
                drill=lambda p: {"event": "complaints", "teams": (p.get("customdata"),),
                                 "label": f"{t('complaints', lang)} · {p.get('customdata')}"})
with right:
    ag = _counts("agent_id")
    if not ag.empty:
        nm = {a: n for a, n, _ in data.options().agents}
        ag = data.Result(ag.df.head(15).with_columns(
            pl.format("{} {}", "agent_id", pl.col("agent_id").replace_strict(nm, default="", return_dtype=pl.String))
            .alias("who")))
    chart_block(t("c_by_agent_cmp", lang), ag,
                lambda d: charts.hbar(d["who"].to_list(), d["numerator"].to_list(), lang, t("count", lang),
                                      keys=d["agent_id"].to_list()),
                view, "complaints_by_agent", "by_agent_cmp", help=help_rate, empty=none, export_opts=spec,
                drill=lambda p: {"event": "complaints", "agents": (p.get("customdata"),),
                                 "label": f"{t('complaints', lang)} · {p.get('customdata')}"})


def _week(p: dict) -> dict:
    """A week's bar counts the complaints of that week inside the period: the list covers the same days."""
    start, end = links.drill_week(f, str(p.get("x"))[:10])
    return {"event": "complaints", "start": start, "end": end,
            "label": f"{t('complaints', lang)} · {t('week', lang)} {start} → {end}"}


weekly = data.metric("complaint_rate", f, ("week",))
if not weekly.empty and weekly.df.get_column("numerator").sum() == 0:
    weekly = data.Result(weekly.df.clear())
chart_block(t("c_weekly", lang), weekly, lambda d: charts.weekly(d, lang), view, "complaints_by_week", "weekly",
            help=help_rate, empty=none, export_opts=spec, drill=_week)

with st.container(border=True):
    st.markdown(f"**{t('c_open', lang)}**")
    default_sla = data.settings().complaint_sla_days
    if "sla" not in st.session_state:
        st.session_state["sla"] = default_sla
    sla = st.number_input(t("sla_days", lang), min_value=SLA_DAYS[0], max_value=SLA_DAYS[1], step=1, key="sla",
                          width=200)
    links.keep_in_url("sla", int(sla), default_sla)
    opened = data.compose("open_complaints", f, sla_days=int(sla))
    if opened.note:  # no complaints in the database at all: say so, not "none open"
        empty_state(view, opened)
    elif opened.empty:
        st.info(t("no_open", lang), icon=":material/task_alt:")
    else:
        d = opened.df
        c = st.columns(2)
        kpi(c[0], t("k_open", lang), num(d.height))
        kpi(c[1], t("k_over_sla", lang), num(d.get_column("over_sla").sum()), delta_color="inverse")
        tb = table(d, lang, pinned=("complaint_id",))
        st.dataframe(tb.frame, hide_index=True, width="stretch", column_config=tb.config | {
            "age_days": st.column_config.ProgressColumn(t("age_days", lang), format="%d", min_value=0,
                                                        max_value=max(int(sla) * 2, int(d["age_days"].max() or 1)))})
        downloads(d, "open_complaints", view, "open_complaints", title=t("c_open", lang),
                  period=(d["received_at"].min().date(), f.end))
