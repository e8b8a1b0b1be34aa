"""每日回收 · Daily recovery: KPI cards, daily collected vs target, teams against pace, by bucket."""

import streamlit as st

from dashboard import charts, data
from dashboard.components import chart_block, kpi, metric_help, page_header
from dashboard.format import change, cny, day, num, pct, pp, short_day, weekday
from dashboard.i18n import t
from dashboard.links import drill_month_to_day
from dashboard.session import current_view

view = current_view()
lang, f = view.lang, view.filters
page_header(view, "pg_daily")

k = data.kpis(f)
now, lm, wd = k["now"], k["last_month"], k["same_weekday"]
is_today = f.end >= view.as_of  # a range ending in the past shows that day's figures, not "today's"


def _delta(a: float | None, b: float | None, rate: bool = False) -> str | None:
    if a is None or b is None:
        return None
    if rate:
        return pp(a - b)
    return change(a / b - 1) if b else None


def _on(d: object) -> str:
    return f"{day(d, lang)}（{weekday(d, lang)}）" if lang == "zh" else f"{weekday(d, lang)} {day(d, lang)}"


st.caption(f"{_on(now['day'])} · {t('k_vs_wd', lang, day=_on(wd['day']))} · "
           f"{t('k_vs_lm', lang)} ({day(lm['day'], lang)})")
today_label = t("k_today", lang) if is_today else t("k_on_day", lang, day=short_day(now["day"], lang))
due_label = t("k_ptp_due", lang) if is_today else t("k_ptp_due_on", lang, day=short_day(now["day"], lang))
with st.container(key="kpis"):  # one compact strip on a phone (see components.STYLE)
    c = st.columns(3) + st.columns(3)  # two rows: six cards in one row truncate at 1280 px
    kpi(c[0], today_label, cny(now["collected_today"], lang), _delta(now["collected_today"], wd["collected_today"]),
        help=f"{t('k_vs_wd', lang, day=_on(wd['day']))} · {metric_help('collected', lang)}")
    ach = pct(now["achievement"]) if now["achievement"] is not None else t("k_no_target", lang)
    kpi(c[1], t("k_mtd", lang), cny(now["collected_mtd"], lang), _delta(now["collected_mtd"], lm["collected_mtd"]),
        help=metric_help("collected", lang))
    kpi(c[2], t("k_achv", lang), ach,
        t("k_pace", lang, pace=pct(now["pace"])) if now["pace"] is not None else None,
        help=metric_help("target_achievement", lang),
        delta_color="green" if (now["pace"] or 0) >= 1 else "orange", delta_arrow="off")
    kpi(c[3], t("k_recovery", lang), pct(now["recovery_rate_mtd"], 2),
        _delta(now["recovery_rate_mtd"], lm["recovery_rate_mtd"], rate=True), help=metric_help("recovery_rate", lang))
    kpi(c[4], t("k_paying", lang), num(now["paying_accounts_mtd"]),
        _delta(now["paying_accounts_mtd"], lm["paying_accounts_mtd"]),
        help=f"{t('p_mtd', lang)} · {metric_help('paying_accounts', lang)}")
    kpi(c[5], due_label, num(now["ptp_due_today"]), _delta(now["ptp_due_today"], wd["ptp_due_today"]),
        help=f"{cny(now['ptp_due_amount'], lang)} · {t('k_vs_wd', lang, day=_on(wd['day']))} · "
             f"{metric_help('ptp_kept_rate', lang)}")
land = k["landing"]
if land is not None:  # beside target and pace: where the month lands, from the working-day shares and promises
    if land["low"] is None:  # the month is over: where it closed, without interval or projection
        parts = [t("k_landed", lang, landing=cny(land["value"], lang))]
    else:
        parts = [t("k_landing", lang, landing=cny(land["value"], lang), low=cny(land["low"], lang),
                   high=cny(land["high"], lang))]
        if land["p_target"] is not None:
            parts.append(t("k_p_target", lang, p=pct(land["p_target"], 0)))
        if land["naive"] is not None:
            parts.append(t("k_landing_naive", lang, naive=cny(land["naive"], lang)))
    st.caption(" · ".join(parts), help=metric_help("landing", lang))
if k["calendar_unknown"]:
    st.caption(t("calendar_unknown", lang, years=", ".join(str(y) for y in k["calendar_unknown"])))
st.caption(f"{t('k_payments', lang)} ({t('k_mtd', lang)}): {num(now['payments_mtd'])} · "
           f"{t('k_vs_lm', lang)} {num(lm['payments_mtd'])}")


def _daily_drill(p: dict) -> dict | None:
    """A bar: that day's payments; a point of the cumulative line: the month's payments up to that day."""
    d = str(p.get("x"))[:10]
    if p.get("curve_number") == 0:
        return {"event": "payments", "day": d, "label": f"{t('collected', lang)} · {d}"}
    if p.get("curve_number") == 1:
        start, end = drill_month_to_day(f, d)
        return {"event": "payments", "start": start, "end": end,
                "label": f"{t('cumulative', lang)} · {start} → {end}"}
    return None


series = data.compose("daily_series", f)
chart_block(t("c_daily", lang), series, lambda df: charts.daily(df, lang), view, "collected_by_day", "daily",
            drill=_daily_drill, help=metric_help("collected", lang))

left, right = st.columns(2)
with left:
    teams = data.compose("by_team", f)
    picked = {"sort": "pace"}

    def _sort() -> None:
        picked["sort"] = st.segmented_control(
            t("sort_by", lang), ("pace", "collected", "team"), default="pace", key="team_sort",
            format_func=lambda s: t(f"sort_{s}", lang), label_visibility="collapsed") or "pace"

    chart_block(t("c_by_team", lang), teams, lambda df: charts.team_pace(df, lang, picked["sort"]), view,
                "collected_by_team", "by_team", controls=_sort,
                note=t("team_chart_max", lang, n=charts.TEAM_CHART_MAX, total=teams.df.height,
                       order=t(f"sort_{st.session_state.get('team_sort') or 'pace'}", lang))
                if not teams.empty and teams.df.height > charts.TEAM_CHART_MAX else None,
                drill=lambda p: {"event": "payments", "teams": (p.get("customdata"),),
                                 "label": f"{t('collected', lang)} · {p.get('customdata')}"},
                help=f"{metric_help('target_achievement', lang)} {t('pace_help', lang)}")
with right:
    buckets = data.compose("by_bucket", f)
    chart_block(t("c_by_bucket", lang), buckets,
                lambda df: charts.bars_with_rate(df, lang, "bucket", df["bucket"].to_list(), "collected",
                                                 "recovery_rate", t("recovery_rate", lang)),
                view, "collected_by_bucket", "by_bucket",
                drill=lambda p: {"event": "payments", "buckets": (p.get("customdata"),),
                                 "label": f"{t('collected', lang)} · {p.get('customdata')}"},
                help=metric_help("recovery_rate", lang))
