"""Pure chart builders: a Polars DataFrame in, a Plotly Figure out, labelled in the viewer's language."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from dashboard.format import cny, html_escape, money_axis, num, pct
from dashboard.i18n import t, value

TEAL, ORANGE, GREY, RED, NAVY = "#0F5C6E", "#E08A2E", "#9AA5B1", "#C0392B", "#2C3E50"
PALETTE = ["#0F5C6E", "#E08A2E", "#4C9F70", "#8E6C8A", "#C0392B", "#3B7DD8", "#B8860B", "#5D6D7E",
           "#17A589", "#AF601A"]
FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif"


#: Plotly's zh-CN locale (passed in each chart's config: the bundled Plotly has only English): month and day
#: names of date axes, and the tool bar's words.
PLOTLY_ZH = {
    "dictionary": {"Download plot as a png": "下载图片（PNG）", "Download plot": "下载图片",
                   "Produced with Plotly.js": "Plotly.js", "Double-click to zoom back out": "双击还原",
                   "Click to enter Colorscale title": "", "Click to enter X axis title": "",
                   "Click to enter Y axis title": "", "Click to enter Plot title": ""},
    "format": {"days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
               "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
               "months": [f"{m}月" for m in range(1, 13)], "shortMonths": [f"{m}月" for m in range(1, 13)],
               "date": "%Y-%m-%d", "decimal": ".", "thousands": ","},
}

# Figures pick up the default template unvalidated at creation; naming it per figure instead costs a validated deep
# copy (~15 ms a chart, most of a cached page's server time).
pio.templates["cases"] = pio.templates["plotly_white"]
pio.templates.default = "cases"


def _merged(base: dict, extra: dict) -> dict:
    """`base` with `extra` laid over it, nested settings merged key by key (a margin's "r" keeps its "l")."""
    out = dict(base)
    for key, val in extra.items():
        out[key] = _merged(out[key], val) if isinstance(val, dict) and isinstance(out.get(key), dict) else val
    return out


def _figure(traces: list[dict], layout: dict | None = None, height: int = 360, legend: bool = True) -> go.Figure:
    """The figure in one step: its traces (dicts with a "type") and the house layout with `layout` over it.

    Plotly validates a whole layout given to the constructor ~7× faster than the same settings applied afterwards
    by update calls (2 against 14 ms for the house layout alone), which were most of a page's chart time."""
    # A legend never takes more than a quarter of the figure (it scrolls beyond: many vintages on a phone).
    base = {"height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "font": {"family": FONT, "size": 13},
            "colorway": PALETTE, "hovermode": "closest", "showlegend": legend,
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                       "maxheight": 0.35},
            "clickmode": "event+select", "dragmode": False}
    return go.Figure(data=traces, layout=_merged(base, layout or {}))


def warm() -> None:
    """Build and serialise one small figure: Plotly loads its trace and layout validators on first use."""
    import datetime as dt

    one = pl.DataFrame({"day": [dt.date(2026, 1, 1)], "collected": [1.0], "cumulative": [1.0], "target": [1.0]})
    daily(one, "zh").to_json()


#: A day in milliseconds, the unit of a date axis's tick step.
DAY_MS = 86_400_000


def _date_axis(lang: str, unit: str = "day", dates: list | None = None, weekly: bool = False) -> dict:
    """Date ticks without English month names in Chinese: 11-22 / 2026-11 (22 Nov / Nov 2026 in English); a month
    axis ticks every month.

    Over a span of `dates` under ten days, Plotly's own ticks would fall every 12 hours and read "11-02" twice: the
    axis then ticks on the days themselves, every day or every other one. Weeks (`weekly`) always tick on the weeks'
    Mondays, every week or every few (Plotly's own weekly ticks fall on Sundays)."""
    fmt = {("day", "zh"): "%m-%d", ("day", "en"): "%d %b", ("month", "zh"): "%Y-%m", ("month", "en"): "%b %Y"}
    axis = {"tickformat": fmt[(unit, lang)], "hoverformat": "%Y-%m-%d" if unit == "day" else "%Y-%m"}
    if unit == "month":
        return axis | {"dtick": "M1"}
    present = [d for d in dates or [] if d is not None]
    if present:
        first = min(present)
        span = (max(present) - first).days
        if weekly:  # at most eight labels
            axis |= {"tick0": first.isoformat(), "dtick": DAY_MS * 7 * max(1, -(-(span // 7 + 1) // 8))}
        elif span < 10:
            axis |= {"tick0": first.isoformat(), "dtick": DAY_MS * (1 if span <= 6 else 2)}
    return axis


def _money(values: list, lang: str) -> tuple[list, str]:
    """Values scaled for a money axis and the axis unit suffix."""
    div, unit = money_axis(lang)
    return [None if v is None else v / div for v in values], unit


#: Tick formats that show as many decimals as the ticks' step needs and no float noise (six decimals, trailing
#: zeros trimmed): a fixed ".0%" reads "1%" four times on an axis from 0 to 2 %, ",.0f" reads 0, 1, 1, 2 (万元).
PCT_TICKS = "~%"
#: English money: SI suffixes (¥1.5M) from a step of one yuan up, plain decimals below it (not "500m").
EN_MONEY_TICKS = [{"dtickrange": [None, 0.5], "value": ",~f"}, {"dtickrange": [0.5, None], "value": "~s"}]


def _money_axis(lang: str, title: str) -> dict:
    """An axis of money in the language's unit (万元 in Chinese, ¥ with SI suffixes in English), from zero."""
    _, unit = money_axis(lang)
    spec = {"title": {"text": f"{title}{unit}"}, "rangemode": "tozero"}
    return spec | ({"tickprefix": "¥", "tickformatstops": EN_MONEY_TICKS} if lang == "en" else {"tickformat": ",~f"})


def _pct_axis(title: str) -> dict:
    """An axis of rates in percent, from zero."""
    return {"title": {"text": title}, "tickformat": PCT_TICKS, "rangemode": "tozero"}


def _count_axis(title: str) -> dict:
    """An axis of counts, from zero."""
    return {"title": {"text": title}, "rangemode": "tozero"}


def _right(axis: dict) -> dict:
    """`axis` as the second y axis, on the right over the first, without its own grid."""
    return axis | {"overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto"}


def _vline(x: float, line: dict) -> dict:
    """A vertical line across the plot at `x`."""
    return {"type": "line", "line": line, "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}


def _hline(y: float, line: dict) -> dict:
    """A horizontal line across the plot at `y`."""
    return {"type": "line", "line": line, "x0": 0, "x1": 1, "xref": "x domain", "y0": y, "y1": y, "yref": "y"}


def daily(df: pl.DataFrame, lang: str) -> go.Figure:
    """Daily collected bars, cumulative collected in the month, and the month's target line."""
    days = df.get_column("day").to_list()
    bars, _ = _money(df.get_column("collected").to_list(), lang)
    cum, _ = _money(df.get_column("cumulative").to_list(), lang)
    hover = [cny(v, lang) for v in df.get_column("collected").to_list()]
    cum_hover = [cny(v, lang) for v in df.get_column("cumulative").to_list()]
    traces = [
        {"type": "bar", "x": days, "y": bars, "name": t("daily_bar", lang), "marker": {"color": TEAL},
         "customdata": hover, "hovertemplate": "%{x|%Y-%m-%d}<br>%{customdata}<extra></extra>"},
        {"type": "scatter", "x": days, "y": cum, "name": t("cumulative", lang), "mode": "lines+markers",
         "yaxis": "y2", "line": {"color": ORANGE, "width": 2.5}, "marker": {"size": 4}, "customdata": cum_hover,
         "hovertemplate": "%{x|%Y-%m-%d}<br>%{customdata}<extra></extra>"},
    ]
    if df.get_column("target").drop_nulls().len():
        tgt, _ = _money(df.get_column("target").to_list(), lang)
        traces.append({"type": "scatter", "x": days, "y": tgt, "name": t("target_line", lang), "mode": "lines",
                       "yaxis": "y2", "line": {"color": RED, "dash": "dash", "width": 2, "shape": "hv"},
                       "customdata": [cny(v, lang) for v in df.get_column("target").to_list()],
                       "hovertemplate": "%{customdata}<extra></extra>"})
    return _figure(traces, {"yaxis": _money_axis(lang, t("daily_bar", lang)),
                            "yaxis2": _right(_money_axis(lang, t("cumulative", lang))),
                            "xaxis": _date_axis(lang, dates=days)})


def bars_with_rate(df: pl.DataFrame, lang: str, x: str, labels: list[str], money_col: str, rate_col: str,
                   rate_label: str, key_col: str | None = None, target_col: str | None = None) -> go.Figure:
    """Money bars per category with a rate on a second axis (team achievement, bucket recovery rate)."""
    vals, _ = _money(df.get_column(money_col).to_list(), lang)
    keys = df.get_column(key_col or x).to_list()
    traces = [{"type": "bar", "x": labels, "y": vals, "name": t("collected", lang), "marker": {"color": TEAL},
               "customdata": keys, "hovertext": [cny(v, lang) for v in df.get_column(money_col).to_list()],
               "hovertemplate": "%{x}<br>%{hovertext}<extra></extra>"}]
    if target_col and df.get_column(target_col).drop_nulls().len():
        tv, _ = _money(df.get_column(target_col).to_list(), lang)
        traces.append({"type": "scatter", "x": labels, "y": tv, "name": t("target_line", lang), "mode": "markers",
                       "marker": {"symbol": "line-ew-open", "size": 28, "color": RED, "line": {"width": 3}},
                       "hovertemplate": "%{x}<br>" + t("target_line", lang) + "<extra></extra>"})
    rates = df.get_column(rate_col).to_list()
    if any(r is not None for r in rates):
        traces.append({"type": "scatter", "x": labels, "y": rates, "name": rate_label,
                       "mode": f"markers+text{'' if target_col else '+lines'}", "yaxis": "y2",
                       "line": {"color": ORANGE, "width": 2}, "marker": {"size": 9}, "customdata": keys,
                       "text": [pct(r) for r in rates], "textposition": "top center",
                       "hovertemplate": "%{x}<br>%{text}<extra></extra>"})
    return _figure(traces, {"yaxis": _money_axis(lang, t("collected", lang)), "yaxis2": _right(_pct_axis(rate_label))})


GREEN = "#2E8B57"


#: The most teams the pace chart draws (a bank's 40 would make it 1,500 px tall and slow): the first in its order.
TEAM_CHART_MAX = 15


def escaped(name: pl.Expr) -> pl.Expr:
    """Names from the database as Plotly shows them safely (its labels take HTML): &, < and > escaped."""
    return name.str.replace_all("&", "&amp;").str.replace_all("<", "&lt;").str.replace_all(">", "&gt;")


def agency_vintage(df: pl.DataFrame, lang: str) -> go.Figure:
    """Liquidation by months since placement of one placement month, a line per agency or in-house team (names
    escaped: they come from the database); open circles mark immature cells."""
    shown = df.with_columns(escaped(pl.col("holder")))
    return lines(shown, lang, "months_since", "value", "holder", t("agency_liquidation", lang), dashed="immature",
                 x_title=t("months_since", lang), x_axis={"dtick": 1, "rangemode": "tozero"})


def backtest(df: pl.DataFrame, lang: str) -> go.Figure:
    """The landing forecast's backtest: mean absolute percentage error by working day of the month, the forecast
    against the naive pace projection."""
    k = df.get_column("k").to_list()
    traces = []
    for col, color, dash in (("mape", TEAL, "solid"), ("mape_naive", GREY, "dash")):
        vals = df.get_column(col).to_list()
        traces.append({"type": "scatter", "x": k, "y": vals, "name": t(col, lang), "mode": "lines+markers",
                       "line": {"color": color, "dash": dash}, "customdata": [pct(v) for v in vals],
                       "hovertemplate": "%{x}: %{customdata}<extra></extra>"})
    return _figure(traces, {"yaxis": _pct_axis(t("mape_axis", lang)),
                            "xaxis": {"title": {"text": t("working_day", lang)}, "dtick": 2}}, height=300)


def _landing_line(row: dict, lang: str) -> str:
    """A hover line: the team's month-end landing with its 80% interval and P(target) (empty without one)."""
    if row.get("landing") is None:
        return ""
    if row.get("landing_low") is None:  # the month is over
        return "<br>" + t("k_landed", lang, landing=cny(row["landing"], lang))
    line = "<br>" + t("k_landing", lang, landing=cny(row["landing"], lang), low=cny(row["landing_low"], lang),
                      high=cny(row["landing_high"], lang))
    if row.get("p_target") is not None:
        line += " · " + t("k_p_target", lang, p=pct(row["p_target"], 0))
    return line


def team_pace(df: pl.DataFrame, lang: str, sort: str = "pace", limit: int = TEAM_CHART_MAX) -> go.Figure:
    """Which team is behind: collected per team (horizontal bars, green ahead of pace, orange behind, grey without
    a target) with the month target and the amount expected by the period's end on the working-day calendar.

    `sort`: "pace" (most behind on top), "collected" (most first) or "team"; the first `limit` teams are drawn.
    """
    order = {"pace": (["pace", "team_id"], [False, False]), "collected": (["collected", "team_id"], [True, False]),
             "team": (["team_id"], [False])}[sort]
    df = df.sort(order[0], descending=order[1], nulls_last=True).head(limit)
    labels = [html_escape(f"{tid} {name or ''}".strip()) for tid, name in zip(df["team_id"], df["team_name"],
                                                                                strict=True)]
    paces = df.get_column("pace").to_list()
    colors = [GREY if p is None else (GREEN if p >= 1 else ORANGE) for p in paces]
    state = [t("no_target", lang) if p is None else t("ahead" if p >= 1 else "behind", lang) for p in paces]
    hover = [f"{label}<br>{t('collected', lang)} {cny(c, lang)}<br>{t('target_line', lang)} {cny(g, lang)}<br>"
             f"{t('expected', lang)} {cny(e, lang)}<br>{t('achievement', lang)} {pct(a)}<br>{t('pace', lang)} "
             f"{pct(p, 0)} · {s_}" + _landing_line(row, lang)
             for label, c, g, e, a, p, s_, row in zip(labels, df["collected"], df["target"], df["expected"],
                                                      df["achievement"], paces, state, df.iter_rows(named=True),
                                                      strict=True)]
    vals, _ = _money(df.get_column("collected").to_list(), lang)
    tv, _ = _money(df.get_column("target").to_list(), lang)
    ev, _ = _money(df.get_column("expected").to_list(), lang)
    teams = df["team_id"].to_list()
    traces = [{"type": "bar", "y": labels, "x": vals, "orientation": "h", "marker": {"color": colors},
               "customdata": teams, "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>",
               "showlegend": False}]
    # each team's pace in a column right of the plot, in its bar's colour: beside the bar's end the pace and target
    # marks crossed it, and inside the bar it had no room early in a month
    paced = [{"xref": "paper", "x": 1, "xanchor": "left", "xshift": 4, "yref": "y", "y": label, "text": pct(p, 0),
              "showarrow": False, "font": {"color": color}}
             for label, p, color in zip(labels, paces, colors, strict=True) if p is not None]
    for color, key in ((GREEN, "ahead"), (ORANGE, "behind")):  # legend entries for the bar colours
        traces.append({"type": "bar", "y": [None], "x": [None], "orientation": "h", "marker": {"color": color},
                       "name": t(key, lang), "hoverinfo": "skip"})
    if df.get_column("target").drop_nulls().len():
        for values, key, color, width in ((ev, "expected", NAVY, 3), (tv, "target_line", RED, 2)):
            traces.append({"type": "scatter", "y": labels, "x": values, "mode": "markers", "name": t(key, lang),
                           "customdata": teams,
                           "marker": {"symbol": "line-ns-open", "size": 22, "color": color, "line": {"width": width}},
                           "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>"})
    return _figure(traces, {"barmode": "overlay", "margin": {"r": 48}, "annotations": paced,
                            "yaxis": {"autorange": "reversed", "type": "category"},
                            "xaxis": _money_axis(lang, t("collected", lang))},
                   height=max(280, 30 * df.height + 120))


def scatter_effort(df: pl.DataFrame, lang: str) -> go.Figure:
    """Attempts (effort) against collected (result) per agent, with median guides for the four quadrants.

    Coloured by team while the palette can tell the teams apart; a larger centre gets one colour (team in the hover).
    """
    per_team = df.get_column("team_id").n_unique() <= len(PALETTE)
    groups = df.group_by("team_id", maintain_order=True) if per_team else [((None,), df)]
    traces = []
    for i, (team, part) in enumerate(groups):
        y, _ = _money(part.get_column("collected").to_list(), lang)
        names = [html_escape(f"{a} {n} · {tm}") for a, n, tm in zip(part.get_column("agent_id"),
                                                                     part.get_column("agent_name"),
                                                                     part.get_column("team_id"), strict=True)]
        traces.append({
            "type": "scatter", "x": part.get_column("attempts").to_list(), "y": y, "mode": "markers",
            "name": html_escape(team[0]),
            "marker": {"size": 11 if per_team else 8, "color": PALETTE[i % len(PALETTE)],
                       "opacity": 1 if per_team else 0.7, "line": {"width": 1, "color": "white"}},
            "customdata": part.get_column("agent_id").to_list(), "text": names,
            "hovertext": [cny(v, lang) for v in part.get_column("collected").to_list()],
            "hovertemplate": "%{text}<br>" + t("attempts", lang) + " %{x:,}<br>" + t("collected", lang)
            + " %{hovertext}<extra></extra>"})
    layout = {"xaxis": {"title": {"text": t("attempts", lang)}, "rangemode": "tozero"},
              "yaxis": _money_axis(lang, t("collected", lang))}
    med_x, med_y = df.get_column("attempts").median(), df.get_column("collected").median()
    if med_x is not None and med_y is not None:
        guide = {"color": GREY, "dash": "dot", "width": 1}
        y = _money([med_y], lang)[0][0]
        layout["shapes"] = [_vline(med_x, guide), _hline(y, guide)]
        layout["annotations"] = [{"text": t("median", lang), "font": {"color": GREY, "size": 11}, "showarrow": False,
                                  "x": 0, "xanchor": "left", "xref": "x domain", "y": y, "yanchor": "bottom",
                                  "yref": "y"}]
    return _figure(traces, layout, legend=per_team)


def funnel(df: pl.DataFrame, lang: str, agent_label: str) -> go.Figure:
    """Funnel stages: the agent against the team median, as horizontal bars (log scale keeps all visible)."""
    stages = [t(s, lang) for s in df.get_column("stage").to_list()]
    traces = [{"type": "bar", "y": stages, "x": df.get_column(col).to_list(), "name": name, "orientation": "h",
               "marker": {"color": color}, "text": [num(v) for v in df.get_column(col).to_list()],
               "textposition": "outside", "cliponaxis": False}
              for col, name, color in (("agent", html_escape(agent_label), TEAL),
                                       ("team_median", t("team_median", lang), GREY))]
    return _figure(traces, {"barmode": "group", "yaxis": {"autorange": "reversed"},
                            "xaxis": {"title": {"text": t("count", lang)}, "rangemode": "tozero"}}, height=340)


def heatmap_hours(df: pl.DataFrame, lang: str) -> go.Figure:
    """RPC rate by team or agent (rows) and hour of day (columns); hours with too few attempts (`thin`) are grey
    and show their attempt count instead of a colour."""
    who = pl.format("{} {}", "who_id", pl.col("who_name").fill_null("")).str.replace_all("&", "&amp;", literal=True) \
        .str.replace_all("<", "&lt;", literal=True).str.replace_all(">", "&gt;", literal=True).alias("who")
    base = df.with_columns(who, pl.col("thin").fill_null(False))
    hours = sorted(base.get_column("hour").unique().to_list())

    def grid(values: pl.Expr) -> tuple[list[str], list[list]]:
        piv = base.with_columns(values.alias("_v")).pivot(on="hour", index="who", values="_v", sort_columns=True) \
            .sort("who")
        cells = piv.select([str(h) for h in hours]).rows()
        return piv.get_column("who").to_list(), [list(r) for r in cells]

    rows, solid = grid(pl.when(pl.col("thin")).then(None).otherwise(pl.col("value")))
    _, thin_z = grid(pl.when(pl.col("thin")).then(pl.lit(0.0)).otherwise(None))
    _, attempts = grid(pl.col("denominator").cast(pl.Int64))
    xs = [f"{int(h):02d}:00" for h in hours]
    traces = [
        {"type": "heatmap", "z": thin_z, "x": xs, "y": rows, "colorscale": [[0, "#E5E8EB"], [1, "#E5E8EB"]],
         "showscale": False,
         "text": [["" if n is None or v is None else f"{n}" for n, v in zip(r, zr, strict=True)]
                  for r, zr in zip(attempts, thin_z, strict=True)], "texttemplate": "%{text}",
         "textfont": {"color": "#6B7785", "size": 10}, "customdata": attempts, "xgap": 1, "ygap": 1,
         "hovertemplate": "%{y}<br>%{x}<br>" + t("thin_hover", lang) + "<extra></extra>"},
        {"type": "heatmap", "z": solid, "x": xs, "y": rows, "colorscale": "Teal", "zmin": 0, "customdata": attempts,
         "hovertext": [[pct(v) for v in r] for r in solid],
         "xgap": 1, "ygap": 1, "colorbar": {"tickformat": PCT_TICKS, "title": {"text": t("rpc_rate", lang)}},
         "hovertemplate": "%{y}<br>%{x}<br>%{hovertext} · " + t("attempts", lang) + " %{customdata}<extra></extra>"},
    ]
    return _figure(traces, {"xaxis": {"title": {"text": t("hour", lang)}}, "yaxis": {"autorange": "reversed"}},
                   height=max(300, 22 * len(rows) + 80), legend=False)


def hbar(labels: list[str], values: list, lang: str, axis_title: str, keys: list | None = None,
         highlight: list[bool] | None = None, fmt: str = "count", height: int | None = None) -> go.Figure:
    """Horizontal bars sorted as given (top to bottom), optionally highlighting some (e.g. 12378)."""
    labels = [html_escape(x) for x in labels]  # names are data: Plotly renders some HTML in text
    colors = [RED if h else TEAL for h in (highlight or [False] * len(labels))]
    text = [num(v, 0 if fmt == "count" else 1) for v in values]
    bars = {"type": "bar", "y": labels, "x": values, "orientation": "h", "marker": {"color": colors},
            "customdata": keys or labels, "text": text, "textposition": "outside", "cliponaxis": False,
            "hovertext": [num(v, 2) for v in values], "hovertemplate": "%{y}<br>%{hovertext}<extra></extra>"}
    top = max((v for v in values if v is not None), default=0) or 1
    return _figure([bars], {"yaxis": {"autorange": "reversed"},  # room for the labels beyond the longest bar
                            "xaxis": {"title": {"text": axis_title}, "rangemode": "tozero", "range": [0, top * 1.18]}},
                   height=height or max(260, 30 * len(labels) + 80), legend=False)


def weekly(df: pl.DataFrame, lang: str) -> go.Figure:
    """Weekly complaints (bars) with the 12378 share apart and the rate per 10k worked cases."""
    weeks, rates = df.get_column("week").to_list(), df.get_column("value").to_list()
    other = [n - r for n, r in zip(df.get_column("numerator"), df.get_column("regulator_12378"), strict=True)]
    traces = [
        {"type": "bar", "x": weeks, "y": other, "name": t("k_complaints", lang), "marker": {"color": TEAL},
         "customdata": weeks, "hovertemplate": "%{x|%Y-%m-%d}<br>%{y}<extra></extra>"},
        {"type": "bar", "x": weeks, "y": df.get_column("regulator_12378").to_list(), "name": t("k_12378", lang),
         "marker": {"color": RED}, "customdata": weeks, "hovertemplate": "%{x|%Y-%m-%d}<br>%{y}<extra></extra>"},
        {"type": "scatter", "x": weeks, "y": rates, "name": t("per_10k", lang),
         "yaxis": "y2", "mode": "lines+markers", "line": {"color": ORANGE}, "hovertext": [num(v, 1) for v in rates],
         "hovertemplate": "%{hovertext}<extra></extra>"},
    ]
    return _figure(traces, {"barmode": "stack", "yaxis": _count_axis(t("count", lang)),
                            "yaxis2": _right(_count_axis(t("per_10k", lang))),
                            "xaxis": _date_axis(lang, dates=weeks, weekly=True)})


def bucket_balance(df: pl.DataFrame, lang: str) -> go.Figure:
    """Balance (bars) and case count (line, second axis) per bucket in one snapshot."""
    buckets = df.get_column("bucket").to_list()
    bal, _ = _money(df.get_column("balance").to_list(), lang)
    traces = [
        {"type": "bar", "x": buckets, "y": bal, "name": t("balance", lang), "marker": {"color": TEAL},
         "customdata": buckets, "hovertext": [cny(v, lang) for v in df.get_column("balance").to_list()],
         "hovertemplate": "%{x}<br>%{hovertext}<extra></extra>"},
        {"type": "scatter", "x": buckets, "y": df.get_column("count").to_list(), "name": t("cases_n", lang),
         "yaxis": "y2", "mode": "lines+markers", "line": {"color": ORANGE}, "customdata": buckets,
         "hovertemplate": "%{x}<br>%{y:,}<extra></extra>"},
    ]
    return _figure(traces, {"yaxis": _money_axis(lang, t("balance", lang)),
                            "yaxis2": _right(_count_axis(t("cases_n", lang)))})


def roll_matrix(df: pl.DataFrame, lang: str, order: list[str]) -> go.Figure:
    """From-bucket × to-bucket heatmap of roll rates, each cell labelled in percent.

    A heatmap cell cannot be selected in Plotly, so an invisible marker sits on every cell with a value: a click
    on the cell selects it (customdata "from|to"). Cells are placed by index, labelled by bucket.
    """
    to_order = [*order, "closed"]
    lookup = {(r["from_bucket"], r["to_bucket"]): r["value"] for r in df.iter_rows(named=True)}
    froms = [b for b in order if any(k[0] == b for k in lookup)]
    z = [[lookup.get((f, to)) for to in to_order] for f in froms]
    text = [[pct(v, 0) if v else "" for v in row] for row in z]
    xs = [value(b, lang) if b == "closed" else b for b in to_order]
    cells = [(i, j, f, to, v) for i, (f, row) in enumerate(zip(froms, z, strict=True))
             for j, (to, v) in enumerate(zip(to_order, row, strict=True)) if v is not None]
    traces = [
        {"type": "heatmap", "z": z, "x": list(range(len(to_order))), "y": list(range(len(froms))), "text": text,
         "texttemplate": "%{text}", "colorscale": "Teal", "zmin": 0, "zmax": 1, "colorbar": {"tickformat": PCT_TICKS},
         "hoverinfo": "skip"},
        {"type": "scatter", "x": [c[1] for c in cells], "y": [c[0] for c in cells], "mode": "markers",
         "marker": {"symbol": "square", "size": 30, "opacity": 0.01, "color": NAVY},
         "customdata": [f"{c[2]}|{c[3]}" for c in cells],
         "text": [f"{c[2]} → {xs[c[1]]}<br>{pct(c[4], 1)}" for c in cells],
         "hovertemplate": "%{text}<extra></extra>", "showlegend": False},
    ]
    return _figure(traces, {
        "xaxis": {"title": {"text": t("to_bucket", lang)}, "side": "top", "tickvals": list(range(len(xs))),
                  "ticktext": xs, "range": [-0.5, len(xs) - 0.5], "showgrid": False, "zeroline": False},
        "yaxis": {"title": {"text": t("from_bucket", lang)}, "autorange": "reversed",
                  "tickvals": list(range(len(froms))), "ticktext": froms, "showgrid": False, "zeroline": False},
    }, height=380, legend=False)


def lines(df: pl.DataFrame, lang: str, x: str, y: str, series: str, y_title: str, rate: bool = True,
          dashed: str | None = None, x_title: str | None = None, x_axis: dict | None = None) -> go.Figure:
    """One line per series value (e.g. bucket pair over months); `dashed` marks points to draw open; `x_axis`:
    settings of the x axis besides its title and date ticks."""
    dated = df.schema[x] == pl.Date
    x_hover = "%{x|%Y-%m}" if dated else "%{x}"
    traces = []
    for i, (key, part) in enumerate(df.sort(x).group_by(series, maintain_order=True)):
        name = str(key[0])
        color = PALETTE[i % len(PALETTE)]
        ys = part.get_column(y).to_list()
        traces.append({"type": "scatter", "x": part.get_column(x).to_list(), "y": ys,
                       "name": name, "mode": "lines+markers", "line": {"color": color}, "marker": {"size": 6},
                       "customdata": [name] * part.height, "hovertext": [pct(v) for v in ys] if rate else None,
                       "hovertemplate": name + f"<br>{(x_title + ' ') if x_title else ''}{x_hover}<br>%{{hovertext}}"
                       "<extra></extra>" if rate else None})
        if dashed:
            imm = part.filter(pl.col(dashed))
            if imm.height:
                traces.append({"type": "scatter", "x": imm.get_column(x).to_list(), "y": imm.get_column(y).to_list(),
                               "mode": "markers",
                               "marker": {"symbol": "circle-open", "size": 10, "color": color, "line": {"width": 2}},
                               "name": t("immature", lang), "legendgroup": "immature", "showlegend": i == 0,
                               "hoverinfo": "skip"})
    xaxis = (_date_axis(lang, "month") if dated else {}) | (x_axis or {})
    if x_title:
        xaxis["title"] = {"text": x_title}
    return _figure(traces, {"yaxis": _pct_axis(y_title) if rate else {"title": {"text": y_title}}, "xaxis": xaxis},
                   height=380)


def monthly(df: pl.DataFrame, lang: str) -> go.Figure:
    """Collected per month (bars) and recovery rate (line, second axis)."""
    months, rates = df.get_column("month").to_list(), df.get_column("recovery_rate").to_list()
    vals, _ = _money(df.get_column("collected").to_list(), lang)
    traces = [
        {"type": "bar", "x": months, "y": vals, "name": t("collected", lang), "marker": {"color": TEAL},
         "customdata": months, "text": [cny(v, lang) for v in df.get_column("collected").to_list()],
         "hovertemplate": "%{x|%Y-%m}<br>%{text}<extra></extra>", "textposition": "none"},
        {"type": "scatter", "x": months, "y": rates, "name": t("recovery_rate", lang), "yaxis": "y2",
         "mode": "lines+markers", "line": {"color": ORANGE, "width": 2.5}, "customdata": months,
         "hovertext": [pct(v) for v in rates],
         "hovertemplate": "%{x|%Y-%m}<br>%{hovertext}<extra></extra>"},
    ]
    return _figure(traces, {"yaxis": _money_axis(lang, t("collected", lang)),
                            "yaxis2": _right(_pct_axis(t("recovery_rate", lang))),
                            "xaxis": _date_axis(lang, "month")})


def channels(df: pl.DataFrame, lang: str) -> go.Figure:
    """In-house vs agency side by side: collected per month (grouped bars) and recovery rate lines."""
    traces = []
    colors = {"in_house": TEAL, "agency": ORANGE}
    for ch in ("in_house", "agency"):
        part = df.filter(pl.col("channel") == ch)
        if part.height == 0:
            continue
        vals, _ = _money(part.get_column("collected").to_list(), lang)
        # a grouped bar's clicked x is offset from its month: the month itself travels in customdata
        keys = [[ch, m.isoformat()] for m in part.get_column("month").to_list()]
        months = part.get_column("month").to_list()
        traces.append({"type": "bar", "x": months, "y": vals, "name": f"{t(ch, lang)} · {t('collected', lang)}",
                       "marker": {"color": colors[ch]}, "customdata": keys,
                       "text": [cny(v, lang) for v in part.get_column("collected").to_list()], "textposition": "none",
                       "hovertemplate": "%{x|%Y-%m}<br>%{text}<extra></extra>"})
        rates = part.get_column("recovery_rate").to_list()
        traces.append({"type": "scatter", "x": months, "y": rates,
                       "name": f"{t(ch, lang)} · {t('recovery_rate', lang)}", "yaxis": "y2", "mode": "lines+markers",
                       "line": {"color": colors[ch], "dash": "dot"}, "customdata": keys,
                       "hovertext": [pct(v) for v in rates],
                       "hovertemplate": "%{x|%Y-%m}<br>%{hovertext}<extra></extra>"})
    return _figure(traces, {"barmode": "group", "yaxis": _money_axis(lang, t("collected", lang)),
                            "yaxis2": _right(_pct_axis(t("recovery_rate", lang))),
                            "xaxis": _date_axis(lang, "month")})


def breaches_by_day(df: pl.DataFrame, lang: str, order: list[str]) -> go.Figure:
    """Breaching contacts per day stacked by check (the check key in each bar's customdata, for the drill)."""
    traces = []
    for i, check in enumerate(order):
        part = df.filter(pl.col("check") == check)
        if part.height == 0:
            continue
        days = part.get_column("day").to_list()
        traces.append({"type": "bar", "x": days, "y": part.get_column("numerator").to_list(),
                       "name": t(f"chk_{check}", lang), "marker": {"color": PALETTE[i % len(PALETTE)]},
                       "customdata": [check] * len(days),
                       "hovertemplate": "%{x|%Y-%m-%d}<br>" + t(f"chk_{check}", lang) + ": %{y:,}<extra></extra>"})
    return _figure(traces, {"barmode": "stack", "yaxis": _count_axis(t("breach_n", lang)),
                            "xaxis": _date_axis(lang, dates=df.get_column("day").to_list())})


def rpc_by_ordinal(df: pl.DataFrame, lang: str, caps: dict[str, int]) -> go.Figure:
    """RPC rate by the attempt's ordinal within its case-day (bars: attempts; line: RPC rate), with the frequency
    caps as vertical lines: attempts beyond a cap add risk and, where the rate is near zero, no contact."""
    ordinal = [f"{o}+" if o >= 7 else str(o) for o in df.get_column("ordinal").to_list()]
    rates = df.get_column("value").to_list()
    traces = [
        {"type": "bar", "x": ordinal, "y": df.get_column("denominator").to_list(), "name": t("attempts", lang),
         "marker": {"color": TEAL}, "opacity": 0.55, "hovertemplate": "%{x}: %{y:,}<extra></extra>"},
        {"type": "scatter", "x": ordinal, "y": rates, "name": t("rpc_rate", lang),
         "yaxis": "y2", "mode": "lines+markers", "line": {"color": ORANGE}, "hovertext": [pct(v) for v in rates],
         "hovertemplate": "%{x}: %{hovertext}<extra></extra>"},
    ]
    shapes, notes = [], []
    for i, (key, cap) in enumerate(sorted(caps.items(), key=lambda kv: kv[1])):
        if 1 <= cap < 7:  # the line sits between the last allowed and the first breaching attempt
            shapes.append(_vline(cap - 0.5, {"color": RED, "dash": "dash"}))
            notes.append({"text": t(f"cap_{key}", lang, n=cap), "font": {"size": 11}, "showarrow": False,
                          "x": cap - 0.5, "xanchor": "right" if i % 2 else "left", "xref": "x", "y": 1,
                          "yanchor": "top", "yref": "y domain"})  # alternate sides: two caps may sit side by side
    guides = {"shapes": shapes, "annotations": notes} if shapes else {}
    return _figure(traces, guides | {"yaxis": _count_axis(t("attempts", lang)),
                                     "yaxis2": _right(_pct_axis(t("rpc_rate", lang))),
                                     "xaxis": {"title": {"text": t("ordinal", lang)}, "type": "category"}})
