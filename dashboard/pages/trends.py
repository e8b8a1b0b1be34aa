"""月度趋势 · Monthly trends: collected and recovery rate with MoM/YoY, liquidation curves, in-house vs agency."""

import polars as pl
import streamlit as st

from dashboard import charts, data
from dashboard.components import chart_block, kpi, metric_help, page_header
from dashboard.format import change, cny, month, pct, pp
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang = view.lang
f = data.trend_window(view.filters)
page_header(view, "pg_trends")
st.caption(t("trend_note", lang) + f" ({f.start.isoformat()} → {f.end.isoformat()})")

mon = data.compose("monthly", f)
if not mon.empty:
    last = mon.df.row(-1, named=True)
    c = st.columns(4)
    kpi(c[0], f"{t('collected', lang)} · {month(last['month'], lang)}", cny(last["collected"], lang),
        f"{change(last['mom'])} {t('mom', lang)}", help=metric_help("collected", lang))
    kpi(c[1], f"{t('yoy', lang)} · {t('collected', lang)}", change(last["yoy"]), help=metric_help("collected", lang))
    kpi(c[2], f"{t('recovery_rate', lang)} · {month(last['month'], lang)}", pct(last["recovery_rate"], 2),
        f"{pp(last['mom_rr_pp'])} {t('mom', lang)}", help=metric_help("recovery_rate", lang))
    kpi(c[3], f"{t('yoy', lang)} · {t('recovery_rate', lang)}", pp(last["yoy_rr_pp"]),
        help=metric_help("recovery_rate", lang))
    if last["through"] is not None:
        st.caption(t("partial_month", lang).format(month=month(last["month"], lang), day=last["through"].day))
chart_block(t("c_monthly", lang), mon, lambda d: charts.monthly(d, lang), view, "collected_by_month", "monthly",
            help=metric_help("recovery_rate", lang),
            drill=lambda p: {"event": "payments", "month": str(p.get("x"))[:10],
                             "label": f"{t('collected', lang)} · {str(p.get('x'))[:7]}"})
if not mon.empty:
    with st.expander(t("c_mom", lang)):
        st.dataframe(mon.df, hide_index=True, width="stretch", column_config={
            "month": st.column_config.DateColumn(t("month", lang), format="YYYY-MM"),
            "collected": st.column_config.NumberColumn(t("collected", lang), format="¥%.0f"),
            "recovery_rate": st.column_config.NumberColumn(t("recovery_rate", lang), format="percent"),
            "opening_balance": st.column_config.NumberColumn(t("balance", lang), format="¥%.0f"),
            "mom": st.column_config.NumberColumn(t("mom", lang), format="percent"),
            "yoy": st.column_config.NumberColumn(t("yoy", lang), format="percent"),
            "mom_rr_pp": st.column_config.NumberColumn(f"{t('mom', lang)} pp", format="percent"),
            "yoy_rr_pp": st.column_config.NumberColumn(f"{t('yoy', lang)} pp", format="percent")})

left, right = st.columns(2)
with left:
    liq = data.metric("liquidation", f, ("placed_month", "months_since"))
    if not liq.empty:
        liq = data.Result(liq.df.with_columns(pl.col("placed_month").dt.strftime("%Y-%m").alias("vintage")))
    chart_block(t("c_vintage", lang), liq,
                lambda d: charts.lines(d, lang, "months_since", "value", "vintage", t("liquidation", lang),
                                       dashed="immature").update_xaxes(title_text=t("months_since", lang)),
                view, "liquidation_by_vintage", "vintage", help=metric_help("liquidation", lang),
                drill=lambda p: {"event": "payments", "label": f"{t('placed_month', lang)} {p.get('customdata')}",
                                 "start": f"{p.get('customdata')}-01"} if p.get("customdata") else None)
with right:
    ch = data.compose("by_channel_month", f)
    chart_block(t("c_channel", lang), ch, lambda d: charts.channels(d, lang), view, "in_house_vs_agency", "channel",
                help=metric_help("recovery_rate", lang),
                drill=lambda p: {"event": "payments", "channel": p.get("customdata"),
                                 "month": str(p.get("x"))[:10],
                                 "label": f"{t(str(p.get('customdata')), lang)} · {str(p.get('x'))[:7]}"})
