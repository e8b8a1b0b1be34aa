"""月度趋势 · Monthly trends: collected and recovery rate with MoM/YoY, liquidation curves, in-house vs agency."""

import polars as pl
import streamlit as st

from dashboard import charts, data
from dashboard.components import chart_block, kpi, metric_help, page_header, table
from dashboard.format import change, cny, month, pct, pp
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang = view.lang
f = data.trend_window(view.filters)
page_header(view, "pg_trends")
st.caption(t("trend_note", lang) + f" ({f.start.isoformat()} → {f.end.isoformat()})")
window = {"filters": f}  # every export here covers the 13 months shown, not the sidebar's period

mon = data.compose("monthly", f)
if not mon.empty:
    last = mon.df.row(-1, named=True)
    c = st.columns(4)
    kpi(c[0], f"{t('collected', lang)} · {month(last['month'], lang)}", cny(last["collected"], lang),
        f"{change(last['mom'])} {t('mom', lang)}" if last["mom"] is not None else None,
        help=metric_help("collected", lang))
    kpi(c[1], f"{t('yoy', lang)} · {t('collected', lang)}", change(last["yoy"]), help=metric_help("collected", lang))
    kpi(c[2], f"{t('recovery_rate', lang)} · {month(last['month'], lang)}", pct(last["recovery_rate"], 2),
        f"{pp(last['mom_rr_pp'])} {t('mom', lang)}" if last["mom_rr_pp"] is not None else None,
        help=metric_help("recovery_rate", lang))
    kpi(c[3], f"{t('yoy', lang)} · {t('recovery_rate', lang)}", pp(last["yoy_rr_pp"]),
        help=metric_help("recovery_rate", lang))
    if last["through"] is not None:
        st.caption(t("partial_month", lang).format(month=month(last["month"], lang), day=last["through"].day))
chart_block(t("c_monthly", lang), mon, lambda d: charts.monthly(d, lang), view, "collected_by_month", "monthly",
            help=metric_help("recovery_rate", lang), export_opts=window,
            drill=lambda p: {"event": "payments", "month": str(p.get("x"))[:10],
                             "label": f"{t('collected', lang)} · {str(p.get('x'))[:7]}"})
if not mon.empty:
    with st.expander(t("c_mom", lang)):
        # an empty cell where there is nothing to compare with (the first month; no month a year before)
        tb = table(mon.df.drop("through"), lang)
        st.dataframe(tb.frame, hide_index=True, width="stretch", column_config=tb.config)


def _vintage(p: dict) -> dict | None:
    """A point of a liquidation curve: the cases placed that month, with their payments up to that many months
    after placement (the point's numerator; its denominator is the cases' placed balance)."""
    vintage, n = p.get("customdata"), p.get("x")
    if not vintage or n is None:
        return None
    return {"event": "placements", "month": f"{vintage}-01", "months_since": str(int(n)),
            "label": f"{t('placed_month', lang)} {vintage} · {t('months_after', lang, n=int(n))}"}


left, right = st.columns(2)
with left:
    liq = data.metric("liquidation", f, ("placed_month", "months_since"))
    if not liq.empty:
        liq = data.Result(liq.df.with_columns(pl.col("placed_month").dt.strftime("%Y-%m").alias("vintage")))
    chart_block(t("c_vintage", lang), liq,
                lambda d: charts.lines(d, lang, "months_since", "value", "vintage", t("liquidation", lang),
                                       dashed="immature", x_title=t("months_since", lang)),
                view, "liquidation_by_vintage", "vintage", help=metric_help("liquidation", lang), drill=_vintage,
                export=liq.df.drop("vintage") if not liq.empty else None,
                export_opts=window | {"metric": "liquidation"})
with right:
    ch = data.compose("by_channel_month", f)

    def _channel(p: dict) -> dict | None:
        keys = p.get("customdata")
        if not isinstance(keys, list) or len(keys) != 2:
            return None
        channel, m = keys
        return {"event": "payments", "channel": channel, "month": m,
                "label": f"{t(str(channel), lang)} · {m[:7]}"}

    chart_block(t("c_channel", lang), ch, lambda d: charts.channels(d, lang), view, "in_house_vs_agency", "channel",
                help=metric_help("recovery_rate", lang), drill=_channel, export_opts=window)
