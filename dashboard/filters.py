"""The shared filter sidebar, bound to URL query parameters; returns a frozen View (Filters + language)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from dashboard.i18n import LANGS, t
from queries.filters import FilterError, Filters
from queries.pages_data import Options, shift_months

PRESETS = ("today", "yesterday", "last7", "mtd", "last_month", "qtd", "ytd", "custom")
DEFAULT_PRESET = "mtd"
CHANNELS = ("all", "in_house", "agency")
#: Widget keys = URL query parameter names.
URL_KEYS = ("lang", "period", "dates", "team", "agent", "bucket", "product", "region", "channel")
_VIEW = "_view"


@dataclass(frozen=True)
class View:
    """What every page reads: validated Filters, the language, the preset and the data-as-of day."""

    filters: Filters
    lang: str
    period: str
    as_of: dt.date
    notices: tuple[str, ...] = ()


def preset_range(preset: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """Start and end of a date preset, anchored on the last day with data."""
    if preset == "today":
        return anchor, anchor
    if preset == "yesterday":
        d = anchor - dt.timedelta(days=1)
        return d, d
    if preset == "last7":
        return anchor - dt.timedelta(days=6), anchor
    if preset == "last_month":
        first = shift_months(anchor.replace(day=1), -1)
        return first, anchor.replace(day=1) - dt.timedelta(days=1)
    if preset == "qtd":
        return anchor.replace(month=(anchor.month - 1) // 3 * 3 + 1, day=1), anchor
    if preset == "ytd":
        return anchor.replace(month=1, day=1), anchor
    return anchor.replace(day=1), anchor  # mtd (and the default of custom)


def _raw(key: str) -> list[str]:
    return [v for v in st.query_params.get_all(key) if v != ""]


def _check_url(opts: Options, lang: str) -> tuple[list[str], dict[str, object]]:
    """Notices for URL values that are not valid, and corrected widget values to put in session state."""
    notes: list[str] = []
    fixes: dict[str, object] = {}
    team_ids = {tid for tid, _, _ in opts.teams}
    known = {
        "lang": set(LANGS), "period": set(PRESETS), "channel": set(CHANNELS), "team": team_ids,
        "agent": {a for a, _, _ in opts.agents}, "bucket": set(opts.buckets), "product": set(opts.products),
        "region": set(opts.regions),
    }
    for key, allowed in known.items():
        bad = [v for v in _raw(key) if v not in allowed]
        if bad:
            notes.append(f"{t(key, lang)}: {', '.join(repr(v[:40]) for v in bad[:3])}")
    teams = [v for v in _raw("team") if v in team_ids]
    if teams:
        in_teams = {a for a, _, team in opts.agents if team in teams}
        outside = [a for a in _raw("agent") if a in known["agent"] and a not in in_teams]
        if outside:
            notes.append(f"{t('agent', lang)}: {', '.join(outside[:3])} ∉ {', '.join(teams)}")
    raw_dates = _raw("dates")
    if raw_dates:
        try:
            parsed = [dt.date.fromisoformat(v) for v in raw_dates]
        except ValueError:
            notes.append(f"{t('dates', lang)}: {', '.join(repr(v[:20]) for v in raw_dates[:2])}")
        else:
            if len(parsed) > 2 or (len(parsed) == 2 and parsed[0] > parsed[1]):
                notes.append(f"{t('dates', lang)}: {' → '.join(raw_dates[:2])}")
                fixes["dates"] = preset_range(DEFAULT_PRESET, opts.as_of)
    return notes, fixes


def _widget_value(key: str, default: object) -> dict:
    """`value=` only on first creation; afterwards session state (maybe corrected) holds the value."""
    return {} if key in st.session_state else {"value": default}


def sidebar(opts: Options) -> View:
    """Draw the filter sidebar once (in the entry point) and return the validated view."""
    sb = st.sidebar
    lang = sb.segmented_control("语言 · Language", LANGS, key="lang", bind="query-params", default="zh",
                                format_func=lambda v: {"zh": "中文", "en": "English"}[v],
                                label_visibility="collapsed") or "zh"
    notes, fixes = _check_url(opts, lang)
    for key, val in fixes.items():
        st.session_state[key] = val
    period = sb.selectbox(t("period", lang), PRESETS, key="period", bind="query-params",
                          index=PRESETS.index(DEFAULT_PRESET), format_func=lambda p: t(f"p_{p}", lang))
    if period == "custom":
        dates = sb.date_input(t("dates", lang), key="dates", bind="query-params",
                              format="YYYY-MM-DD", **_widget_value("dates", preset_range(DEFAULT_PRESET, opts.as_of)))
        dates = tuple(d for d in (dates if isinstance(dates, (tuple, list)) else (dates,)) if d is not None)
        start, end = (dates[0], dates[-1]) if dates else preset_range(DEFAULT_PRESET, opts.as_of)
        if start > end:
            start, end = preset_range(DEFAULT_PRESET, opts.as_of)
    else:
        start, end = preset_range(period, opts.as_of)
        sb.caption(f"{start.isoformat()} → {end.isoformat()}")

    team_names = {tid: name for tid, name, _ in opts.teams}
    teams = sb.multiselect(t("team", lang), list(team_names), key="team", bind="query-params",
                           format_func=lambda v: f"{v} · {team_names.get(v, '')}", placeholder=t("all", lang))
    agent_names = {a: (name, team) for a, name, team in opts.agents if not teams or team in teams}
    agents = sb.multiselect(t("agent", lang), list(agent_names), key="agent", bind="query-params",
                            format_func=lambda v: f"{v} · {agent_names.get(v, ('', ''))[0]}",
                            placeholder=t("all", lang))
    agents = [a for a in agents if a in agent_names]
    buckets = sb.multiselect(t("bucket", lang), list(opts.buckets), key="bucket", bind="query-params",
                             placeholder=t("all", lang))
    with sb.expander(f"{t('product', lang)} · {t('region', lang)} · {t('channel', lang)}"):
        from dashboard.i18n import value

        products = st.multiselect(t("product", lang), list(opts.products), key="product", bind="query-params",
                                  format_func=lambda v: value(v, lang), placeholder=t("all", lang))
        regions = st.multiselect(t("region", lang), list(opts.regions), key="region", bind="query-params",
                                 placeholder=t("all", lang))
        channel = st.selectbox(t("channel", lang), CHANNELS, key="channel", bind="query-params",
                               format_func=lambda c: t(c, lang))
    try:
        filters = Filters(start=start, end=end, teams=tuple(teams), agents=tuple(agents), buckets=tuple(buckets),
                          products=tuple(products), regions=tuple(regions),
                          channel=None if channel in (None, "all") else channel).validate()
    except FilterError as exc:
        notes.append(str(exc))
        s, e = preset_range(DEFAULT_PRESET, opts.as_of)
        filters = Filters(start=s, end=e)
    view = View(filters=filters, lang=lang, period=period or DEFAULT_PRESET, as_of=opts.as_of, notices=tuple(notes))
    st.session_state[_VIEW] = view
    return view


def current() -> View:
    """The view the entry point built in this run (pages call this)."""
    return st.session_state[_VIEW]


def url_params(view: View) -> dict[str, list[str] | str]:
    """The query parameters that reproduce this view (for links to the cases page)."""
    f = view.filters
    out: dict[str, list[str] | str] = {"lang": view.lang, "period": view.period}
    if view.period == "custom":
        out["dates"] = [f.start.isoformat(), f.end.isoformat()]
    for key, vals in (("team", f.teams), ("agent", f.agents), ("bucket", f.buckets), ("product", f.products),
                      ("region", f.regions)):
        if vals:
            out[key] = list(vals)
    if f.channel:
        out["channel"] = f.channel
    return out


def file_stem(name: str, f: Filters) -> str:
    """Export file name: chart name, period and the selections, e.g. collected_by_team_2026-11-01_2026-11-22_T01."""
    parts = [name, f.start.isoformat(), f.end.isoformat()]
    for vals in (f.teams, f.agents, f.buckets, f.products, f.regions):
        if vals:
            parts.append("+".join(vals[:4]) + ("+more" if len(vals) > 4 else ""))
    if f.channel:
        parts.append(f.channel)
    stem = "_".join(parts)
    return "".join(c if c.isalnum() or c in "-_+." else "-" for c in stem)[:150]
