"""委外管理 · Agencies: agencies against each other and in-house teams on the same placement vintages, ranked."""

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import charts, data, links
from dashboard.compliance_blocks import agencies_block
from dashboard.components import (
    chart_block,
    downloads,
    metric_help,
    open_cases,
    page_header,
    table,
)
from dashboard.format import month
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang, f = view.lang, view.filters
page_header(view, "pg_agencies")
st.caption(t("agency_intro", lang))
st.caption(t("agency_compliance_note", lang))

# The scorecard: one row per agency, ranked; every figure from the registry's agency_score.
score = data.compose("agency_scorecard", f)
with st.container(border=True):
    st.markdown(f"**{t('c_agency_score', lang)}**", help=metric_help("agency_score", lang))
    if score.empty:
        st.info(score.reason(lang) or t("agency_none", lang), icon=":material/info:")
    else:
        fees = score.df.get_column("commission").null_count() < score.df.height  # agency_fees rates for them
        net = ("net_per_100",) if fees else ()  # beside per_100; the amounts after the score's parts
        money_cols = ("collected", "commission", "net_recovery") if fees else ()
        shown = score.df.select("rank", "holder", pl.col("value").alias("agency_score"), "placed", "placed_balance",
                                "liquidation_m3", "per_100", *net, "recall_rate", "transfer_rate",
                                "complaints_per_10k", "regulator_12378", "breaches_per_1k", "status_ok",
                                *money_cols)
        tb = table(shown, lang, kinds={"agency_score": "rate"}, pinned=("holder",))
        picked_row = st.dataframe(tb.frame, hide_index=True, width="stretch", column_config=tb.config,
                                  on_select="rerun", selection_mode="single-row", key="agency_score_rows")
        rows = picked_row.selection.rows if picked_row else []
        if rows and rows[0] < shown.height:  # the period's placements with that agency: the row's placed cases
            holder = shown.get_column("holder")[rows[0]]
            # placement months with a month after them, as the scorecard counts (the data's month is not one yet)
            end = min(f.end, view.as_of.replace(day=1) - dt.timedelta(days=1))
            open_cases({"event": "agency_placements", "holder": holder, "start": f.start.isoformat(),
                        "end": end.isoformat(),
                        "label": f"{t('ev_agency_placements', lang)} {holder} · {t('placed', lang)}"}, view)
        st.caption(f":material/ads_click: {t('agency_drill_hint', lang)}")
        downloads(shown, "agency_scorecard", view, "agency_scorecard", title=t("c_agency_score", lang),
                  kinds={"agency_score": "rate"})
        st.caption(t("agency_fees_note" if fees else "agency_fees_absent", lang))

# The vintage curves: one placement month, every agency and in-house team placed that month.
vint = data.compose("agency_vintages", f)
if vint.empty:
    chart_block(t("c_agency_vintage", lang), vint, lambda d: charts.agency_vintage(d, lang), view,
                "agency_vintages", "agency_vintage", empty=t("agency_none", lang), empty_icon=":material/info:",
                help=metric_help("agency_liquidation", lang))
else:
    months = sorted(vint.df.get_column("placed_month").unique().to_list(), reverse=True)
    mature = data.compose("agency_mature_month", f)  # the latest month with 3 mature months, to start with
    first = mature.df.get_column("placed_month")[0] if not mature.empty and mature.df.height else months[0]
    picked = {"month": first}
    if st.session_state.get("agency_month") not in months:  # none yet, or a link's month outside the period
        st.session_state["agency_month"] = first  # set before the widget: no clash with a default

    def _month() -> None:
        picked["month"] = st.selectbox(t("agency_month", lang), months, key="agency_month",
                                       format_func=lambda m: month(m, lang)) or first
        links.keep_in_url("vintage", picked["month"], first)  # a copied link opens the same placement month

    def _one_month() -> data.Result:
        return data.Result(vint.df.filter(pl.col("placed_month") == picked["month"]))

    with st.container():
        _month()
    chosen = _one_month()
    raw = dict(zip(chosen.df.select(charts.escaped(pl.col("holder"))).to_series().to_list(),
                   chosen.df.get_column("holder").to_list(), strict=True))

    def _placed(p: dict) -> dict | None:
        """A point of a curve: the cases placed with that holder in the month, with their payments while held up
        to that many months after placement (the point's numerator; its denominator is their placed balance)."""
        holder, n = raw.get(str(p.get("customdata") or "")), p.get("x")
        if holder is None or n is None:
            return None
        return {"event": "agency_placements", "holder": holder, "month": picked["month"].isoformat(),
                "months_since": str(int(n)),
                "label": f"{holder} · {month(picked['month'], lang)} · {t('months_after', lang, n=int(n))}"}

    chart_block(f"{t('c_agency_vintage', lang)} · {month(picked['month'], lang)}", chosen,
                lambda d: charts.agency_vintage(d, lang), view, "agency_vintages", "agency_vintage",
                help=metric_help("agency_liquidation", lang), export=vint.df, drill=_placed,
                export_opts={"metric": "agency_liquidation"})

# Compliance: breaches per 1,000 attempts in the weighted scorecard, whitelisting and yearly evaluation.
st.subheader(t("h_agency_compliance", lang))
agencies_block(view, f)
