"""坐席绩效 · Agent performance: leaderboard with sparklines, effort vs result, scorecard funnel, RPC by hour."""

from dataclasses import replace

import polars as pl
import streamlit as st

from dashboard import charts, data, links, session
from dashboard.components import (
    chart_block,
    chart_config,
    data_title,
    downloads,
    empty_state,
    kpi,
    metric_help,
    open_cases,
    page_header,
    scorecard_formula,
    table,
)
from dashboard.format import cny, code_text, md_escape, num, pct
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang, f = view.lang, view.filters
page_header(view, "pg_agents")

board = data.compose("leaderboard", f)
PICK = session.SCORECARD_AGENT


def _pick(source: str, agent: str | None) -> None:
    """Open an agent's scorecard from a click, once per new click (selections persist across reruns)."""
    if agent and st.session_state.get(f"{session.PICK_LAST}{source}") != agent:
        st.session_state[f"{session.PICK_LAST}{source}"] = agent
        st.session_state[PICK] = agent


with st.container(border=True):
    st.markdown(f"**{t('c_leaderboard', lang)}**", help=metric_help("collected", lang))
    if board.empty:
        empty_state(view, board)
        st.stop()
    df = board.df
    n = data.leaderboard_top()
    top, search = st.columns([2, 3], vertical_alignment="bottom")
    shown = "all"
    if df.height > data.leaderboard_fits():  # a large centre: the top N, the bottom N for coaching, or everyone
        shown = top.segmented_control(
            t("lb_show", lang), data.LEADERBOARD_SHOWS, default="top", key="lb_show",
            format_func=lambda s: t(f"lb_{s}", lang, n=n, total=df.height)) or "top"
    needle = search.text_input(t("lb_search", lang), key="lb_search", placeholder=t("lb_search_hint", lang))
    rows_df = data.leaderboard_rows(df, shown, needle)
    if rows_df.height == 0:
        st.info(t("lb_no_match", lang, q=code_text(needle)))
    cols = ["rank", "agent_id", "agent_name", "team_id", "collected", "recovery_rate", "attempts",
            "contact_rate", "rpc_rate", "ptp_rate", "ptp_kept_rate", "complaints", "after_hours", "over_frequency"]
    tb = table(rows_df.select(cols), lang, pinned=("rank", "agent_id", "agent_name"),
               widths={"rank": "small", "agent_id": "small", "agent_name": "small", "team_id": "small"},
               help={"after_hours": metric_help("after_hours_rate", lang),
                     "over_frequency": metric_help("over_frequency", lang)})
    frame = tb.frame.insert_column(4, rows_df.get_column("daily"))
    config = tb.config | {"daily": st.column_config.LineChartColumn(t("trend", lang), width="medium", y_min=0)}
    flagged = rows_df.get_column("below_median").to_list()
    flags = {c: [c in row for row in flagged] for c in data.coaching_columns()}
    styled = replace(tb, frame=frame).flagged(flags)
    event = st.dataframe(
        styled, hide_index=True, width="stretch", height=min(640, 38 + 35 * max(rows_df.height, 1)),
        # a new key per view: a selection kept from another view would point at a different agent
        on_select="rerun", selection_mode="single-row", key=f"leaderboard_{shown}_{needle.strip()}",
        column_config=config)
    st.caption(f":material/flag: {t('below_median_note', lang)}")
    rows = event.selection.rows if event else []
    _pick("table", rows_df.get_column("agent_id")[rows[0]] if rows and rows[0] < rows_df.height else None)
    downloads(df.drop("daily", "below_median"), "agent_leaderboard", view, "leaderboard",
              title=t("c_leaderboard", lang))

left, right = st.columns([1, 1])
with left:
    with st.container(border=True):
        st.markdown(f"**{t('c_scatter', lang)}**")
        ev = st.plotly_chart(charts.scatter_effort(df, lang), width="stretch", key="scatter", on_select="rerun",
                             selection_mode="points", config=chart_config(lang))
        st.caption(f":material/ads_click: {t('choose_agent', lang)}")
        pts = ev.selection.points if ev else []
        _pick("scatter", pts[0].get("customdata") if pts else None)
        downloads(df.select("agent_id", "agent_name", "team_id", "attempts", "collected"), "effort_vs_result", view,
                  "scatter", title=t("c_scatter", lang))

agents = df.get_column("agent_id").to_list()
names = dict(zip(df.get_column("agent_id"), df.get_column("agent_name"), strict=True))
if st.session_state.get(PICK) not in agents:
    st.session_state[PICK] = agents[0]
with right:
    with st.container(border=True):
        agent = st.selectbox(t("c_scorecard", lang), agents, key=PICK, format_func=lambda a: f"{a} · {names.get(a)}")
        links.keep_in_url("scorecard", agent, agents[0])  # a copied link opens the same scorecard
        me = df.filter(pl.col("agent_id") == agent).row(0, named=True)
        c = st.columns(2) + st.columns(2)
        kpi(c[0], t("rank", lang), f"{me['rank']} / {df.height}")
        kpi(c[1], t("collected", lang), cny(me["collected"], lang))
        kpi(c[2], t("rpc_rate", lang), pct(me["rpc_rate"]))
        kpi(c[3], t("ptp_kept_rate", lang), pct(me["ptp_kept_rate"]))
        fun = data.compose("funnel", f, agent_id=agent)
        label = f"{agent} {names.get(agent) or ''}".strip()
        data_title(t("c_funnel", lang, agent=label))  # the name is data: HTML-escaped text, never markdown
        if fun.empty:
            empty_state(view, fun)
        else:
            st.plotly_chart(charts.funnel(fun.df, lang, label), width="stretch", key="funnel",
                            config=chart_config(lang))
            downloads(fun.df, f"funnel_{agent}", view, "funnel", title=t("c_funnel", lang, agent=label))
        st.caption(f"{t('complaints', lang)} {num(me['complaints'])} · {t('after_hours_rate', lang)} "
                   f"{num(me['after_hours'])} · {t('over_frequency', lang)} {num(me['over_frequency'])}")
        weighted = data.compliance("scorecard", f, level="agent", weights=data.weights(f.end))
        mine = weighted.df.filter(pl.col("who_id") == agent) if not weighted.empty else None
        if mine is not None and mine.height:
            w = mine.row(0, named=True)
            moved = w["rank_change"]
            how = t("rank_up", lang, n=moved) if moved > 0 else t("rank_down", lang, n=-moved) if moved < 0 \
                else t("rank_same", lang)
            line = t("scorecard_me", lang, rank=w["rank"], n=weighted.df.height, rrank=w["recovery_rank"], change=how)
            st.caption(f":material/balance: {line}", help=scorecard_formula(f.end, lang))
        if st.button(t("agent_cases", lang, agent=md_escape(agent)), icon=":material/folder_open:",
                     key="agent_cases"):
            open_cases({"event": "cases", "agents": (agent,), "label": f"{t('agent_cases', lang, agent=label)}"},
                       view)

heat = data.compose("hourly_rpc", f)
chart_block(t("c_heatmap", lang), heat, lambda d: charts.heatmap_hours(d, lang), view, "rpc_rate_by_hour",
            "heatmap", help=metric_help("rpc_rate", lang), export_opts={"metric": "rpc_rate"},
            note=t("thin_note", lang, n=data.min_hour_attempts())
            if not heat.empty and heat.df.get_column("thin").any() else None)

with st.container(border=True):
    st.markdown(f"**{t('c_scorecard_w', lang)}**", help=scorecard_formula(f.end, lang))
    weighted = data.compliance("scorecard", f, level="agent", weights=data.weights(f.end))
    if weighted.empty:
        empty_state(view, weighted)
    else:
        tb = table(weighted.df, lang, pinned=("rank", "who_id", "who_name"))
        st.dataframe(tb.frame, hide_index=True, width="stretch", key="weighted_scorecard", column_config=tb.config,
                     height=min(520, 38 + 35 * weighted.df.height))
        st.caption(f":material/functions: {scorecard_formula(f.end, lang)}")
        downloads(weighted.df, "compliance_weighted_scorecard", view, "weighted_scorecard",
                  title=t("c_scorecard_w", lang))
