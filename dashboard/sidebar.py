"""The shared filter sidebar: its widgets, filled from the URL on a session's first run; returns the View."""

from __future__ import annotations

import streamlit as st

from dashboard import links, session
from dashboard.i18n import LANGS, t, value
from dashboard.session import FILTER_PREFIX, URL_FILTERS, URL_NOTES, URL_READ, View
from queries.dates import DEFAULT_PRESET, PRESETS, preset_range
from queries.filters import FilterError, Filters
from queries.views.pages import Options


def sidebar(opts: Options) -> View:
    """Draw the filter sidebar once (in the entry point) and return the validated view."""
    ss = st.session_state
    # The URL fills the widgets on a session's first run, after a drill-down jump, and when the browser's Back or
    # Forward brings back another URL; otherwise the widgets are the truth and the URL follows them.
    if URL_READ not in ss or links.url_changed():
        ss[URL_READ] = True
        values, notes = links.from_url(opts)
        values.setdefault("period", DEFAULT_PRESET)
        values.setdefault("channel", "all")
        for key in links.URL_KEYS:
            if key in values:
                ss[f"{FILTER_PREFIX}{key}"] = values[key]
            elif key == "dates":
                ss.pop(f"{FILTER_PREFIX}dates", None)
        for key, (_page, widget) in links.PAGE_KEYS.items():
            if key in values:
                ss[widget] = values[key]
            else:
                ss.pop(widget, None)  # the page's default
        ss[URL_NOTES] = notes
        ss.pop(URL_FILTERS, None)
    sb = st.sidebar
    lang = sb.segmented_control("语言 · Language", LANGS, key="f_lang",
                                format_func=lambda v: {"zh": "中文", "en": "English"}[v],
                                label_visibility="collapsed") or "zh"
    period = sb.selectbox(t("period", lang), PRESETS, key="f_period",
                          format_func=lambda p: t(f"p_{p}", lang))
    if period == "custom":
        if "f_dates" not in ss:
            ss["f_dates"] = preset_range(DEFAULT_PRESET, opts.as_of)
        dates = sb.date_input(t("dates", lang), key="f_dates", format="YYYY-MM-DD")
        dates = tuple(d for d in (dates if isinstance(dates, (tuple, list)) else (dates,)) if d is not None)
        start, end = (dates[0], dates[-1]) if dates else preset_range(DEFAULT_PRESET, opts.as_of)
    else:
        start, end = preset_range(period, opts.as_of)
        sb.caption(f"{start.isoformat()} → {end.isoformat()}")

    team_names = {tid: name for tid, name, _ in opts.teams}
    if any(v not in team_names for v in ss.get("f_team", [])):  # the scope changed (demo role switch)
        ss["f_team"] = [v for v in ss["f_team"] if v in team_names]
    teams = sb.multiselect(t("team", lang), list(team_names), key="f_team",
                           format_func=lambda v: f"{v} · {team_names.get(v, '')}", placeholder=t("all", lang))
    agent_names = {a: name for a, name, team in opts.agents if not teams or team in teams}
    if any(a not in agent_names for a in ss.get("f_agent", [])):  # narrowed by a team change
        ss["f_agent"] = [a for a in ss["f_agent"] if a in agent_names]
    agents = sb.multiselect(t("agent", lang), list(agent_names), key="f_agent",
                            format_func=lambda v: f"{v} · {agent_names.get(v, '')}", placeholder=t("all", lang))
    buckets = sb.multiselect(t("bucket", lang), list(opts.buckets), key="f_bucket", placeholder=t("all", lang))
    with sb.expander(f"{t('product', lang)} · {t('region', lang)} · {t('channel', lang)}"):
        products = st.multiselect(t("product", lang), list(opts.products), key="f_product",
                                  format_func=lambda v: value(v, lang), placeholder=t("all", lang))
        regions = st.multiselect(t("region", lang), list(opts.regions), key="f_region", placeholder=t("all", lang))
        channel = st.selectbox(t("channel", lang), links.CHANNELS, key="f_channel", format_func=lambda c: t(c, lang))
    notes = list(ss.get(URL_NOTES, []))
    try:
        filters = Filters(start=start, end=end, teams=tuple(teams), agents=tuple(agents), buckets=tuple(buckets),
                          products=tuple(products), regions=tuple(regions),
                          channel=None if channel in (None, "all") else channel).validate()
    except FilterError as exc:
        notes.append(str(exc))
        s, e = preset_range(DEFAULT_PRESET, opts.as_of)
        filters = Filters(start=s, end=e)
    first = ss.setdefault(URL_FILTERS, filters)
    if first != filters:  # the viewer changed something: the notice about the link is no longer news
        ss[URL_NOTES] = []
    view = View(filters=filters, lang=lang, period=period or DEFAULT_PRESET, as_of=opts.as_of, notices=tuple(notes))
    ss[session.VIEW] = view
    links.sync_url(view)
    return view
