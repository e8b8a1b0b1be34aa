"""Links: the view ↔ URL query parameters, drill-down requests in the cases page's URL, and export file names.

A copied link reopens the same view; a value in a link that is not valid is named in a notice and left out.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard.i18n import LANGS, t
from dashboard.session import BREACH_SEL, FILTER_PREFIX, SCORECARD_AGENT, URL_READ, URL_SEEN, View
from queries.dates import DEFAULT_PRESET, PRESETS
from queries.filters import Filters
from queries.views.drilldown import EVENTS
from queries.views.pages import Options

CHANNELS = ("all", "in_house", "agency")
#: Widget keys = URL query parameter names.
URL_KEYS = ("lang", "period", "dates", "team", "agent", "bucket", "product", "region", "channel")
#: A drill-down request in the cases page's URL: request key → query parameter.
DRILL_URL = {"event": "drill", "day": "d_day", "month": "d_month", "snapshot_on": "d_snapshot", "start": "d_start",
             "end": "d_end", "teams": "d_team", "agents": "d_agent", "buckets": "d_bucket", "from_bucket": "d_from",
             "to_bucket": "d_to", "category": "d_category", "source": "d_source", "channel": "d_channel",
             "months_since": "d_msince", "holder": "d_holder"}
_DRILL_DATES = ("day", "month", "snapshot_on", "start", "end")
_DRILL_LISTS = ("teams", "agents", "buckets")
#: The compliance page's drill-down to the breaching contacts in its URL: selection key → query parameter.
BREACH_URL = {"check": "b_check", "day": "b_day", "team": "b_team", "agent": "b_agent"}
#: A page's own widgets kept in the URL: query parameter → (the page's url path, the widget's session key).
PAGE_KEYS = {"snapshot": ("aging", "snapshot"), "basis": ("aging", "basis"), "vintage": ("agencies", "agency_month"),
             "scorecard": ("agents", SCORECARD_AGENT), "sla": ("complaints", "sla"),
             **dict.fromkeys(BREACH_URL.values(), ("compliance", BREACH_SEL))}
#: Other query parameters the app knows: the pages' own, the drill-down's, and Streamlit's.
OTHER_URL_KEYS = (*PAGE_KEYS, "embed", "embed_options", *DRILL_URL.values())
#: The complaints page's SLA in days (`?sla=`): the range a link may ask for.
SLA_DAYS = (1, 365)
BASES = ("balance", "count")


def date_bounds(opts: Options) -> tuple[dt.date, dt.date]:
    """The dates a link may ask for: 20 years before the data's last day to 5 years after."""
    return opts.as_of.replace(year=opts.as_of.year - 20, day=1), opts.as_of.replace(year=opts.as_of.year + 5, day=1)


def shown(text: str, limit: int = 40) -> str:
    """A value from the URL quoted for a notice: inline code, so markdown, links and HTML in it stay inert."""
    return "`" + text[:limit].replace("`", "'").replace("\n", " ") + "`"


def _raw(key: str) -> list[str]:
    return [v for v in st.query_params.get_all(key) if v != ""]


def _valid(raw: list[str], allowed: list[str] | tuple[str, ...]) -> list[str]:
    """A parameter's allowed values, each once, in the order first given (a single choice takes the last)."""
    return [v for v in dict.fromkeys(raw) if v in allowed]


def _url_lang() -> str:
    """The language the URL asks for (the sidebar's rule for a single choice), else Chinese."""
    good = _valid(_raw("lang"), LANGS)
    return good[-1] if good else "zh"


def from_url(opts: Options) -> tuple[dict[str, object], list[str]]:
    """Widget values from the URL query parameters, and a notice for every value that is not valid."""
    lang = _url_lang()  # the language the page will show: notices in it too
    notes: list[str] = []
    values: dict[str, object] = {"lang": lang}

    def pick(key: str, allowed: list[str] | tuple[str, ...], multi: bool) -> None:
        raw = _raw(key)
        good = _valid(raw, allowed)
        bad = [v for v in raw if v not in allowed]
        if bad:
            notes.append(f"{t(key, lang)}: {', '.join(shown(v) for v in bad[:3])}"
                         + (f" (+{len(bad) - 3})" if len(bad) > 3 else ""))
        if multi:
            values[key] = good
        elif good:
            values[key] = good[-1]

    pick("lang", LANGS, False)
    pick("period", PRESETS, False)
    pick("team", [tid for tid, _, _ in opts.teams], True)
    teams = values["team"]
    pick("agent", [a for a, _, team in opts.agents if not teams or team in teams], True)
    pick("bucket", opts.buckets, True)
    pick("product", opts.products, True)
    pick("region", opts.regions, True)
    pick("channel", CHANNELS, False)
    unknown = [k for k in st.query_params if k not in URL_KEYS and k not in OTHER_URL_KEYS]
    if unknown:
        notes.append(f"{t('unknown_param', lang)}: {', '.join(shown(k) for k in unknown[:3])}"
                     + (f" (+{len(unknown) - 3})" if len(unknown) > 3 else ""))
    raw_sla = _raw("sla")
    if raw_sla:
        if len(raw_sla) == 1 and raw_sla[0].isascii() and raw_sla[0].isdigit() \
                and SLA_DAYS[0] <= int(raw_sla[0]) <= SLA_DAYS[1]:
            values["sla"] = int(raw_sla[0])
        else:
            notes.append(f"{t('sla_days', lang)}: {', '.join(shown(v) for v in raw_sla[:3])} "
                         f"({SLA_DAYS[0]}–{SLA_DAYS[1]})")
    snaps = {d.isoformat(): d for d in opts.snapshots}
    vintages = {f"{d:%Y-%m}": d.replace(day=1) for d in opts.snapshots}  # the agency page's placement month
    visible = {a for a, _, team in opts.agents}
    for key, allowed, label in (("snapshot", snaps, "snapshot"), ("basis", {b: b for b in BASES}, "basis"),
                                ("vintage", vintages, "agency_month"),
                                ("scorecard", {a: a for a in visible}, "c_scorecard")):
        raw = _raw(key)
        if raw and len(raw) == 1 and raw[0] in allowed:
            values[key] = allowed[raw[0]]
        elif raw:
            notes.append(f"{t(label, lang)}: {', '.join(shown(v) for v in raw[:3])}")
    raw_dates = _raw("dates")
    if raw_dates:
        try:
            parsed = [dt.date.fromisoformat(v) for v in raw_dates]
            if len(parsed) > 2 or parsed[0] > parsed[-1]:
                raise ValueError
            lo, hi = date_bounds(opts)
            if parsed[0] < lo or parsed[-1] > hi:  # far outside the data: date arithmetic would overflow
                raise ValueError
        except ValueError:
            notes.append(f"{t('dates', lang)}: {' → '.join(shown(v, 20) for v in raw_dates[:2])}")
        else:
            values["dates"] = (parsed[0], parsed[-1])
            if "period" not in values:
                values["period"] = "custom"
    return values, notes


def url_params(view: View) -> dict[str, list[str] | str]:
    """The query parameters that reproduce this view (for links to the cases page)."""
    f = view.filters
    out: dict[str, list[str] | str] = {}
    if view.lang != "zh":
        out["lang"] = view.lang
    if view.period != DEFAULT_PRESET:
        out["period"] = view.period
    if view.period == "custom":
        out["dates"] = [f.start.isoformat(), f.end.isoformat()]
    for key, vals in (("team", f.teams), ("agent", f.agents), ("bucket", f.buckets), ("product", f.products),
                      ("region", f.regions)):
        if vals:
            out[key] = list(vals)
    if f.channel:
        out["channel"] = f.channel
    return out


def _managed() -> dict[str, tuple[str, ...]]:
    """The URL's filter and page parameters, as the app last left them or as the browser brings them back."""
    return {k: tuple(st.query_params.get_all(k)) for k in (*URL_KEYS, *PAGE_KEYS) if st.query_params.get_all(k)}


def _history_navigation() -> bool:
    """True when this run was started by the browser's Back or Forward (Streamlit says so to its own widgets)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import (
            get_script_run_ctx,
        )
    except ImportError:  # pragma: no cover - a Streamlit without it: URL comparison alone
        return False
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


def early_lang() -> str:
    """The language this run shows, known before the sidebar is drawn (the demo pickers come first): the language
    switch's value, or the URL's when the sidebar is about to read it (a session's first run, Back or Forward)."""
    ss = st.session_state
    if URL_READ in ss and not url_changed():
        switch = ss.get(f"{FILTER_PREFIX}lang")
        return switch if switch in LANGS else "zh"
    return _url_lang()


def url_changed() -> bool:
    """True when the URL's filters differ from what this session last wrote because the browser's Back or Forward
    brought another URL back, or a link the app switched to carries some. The URL then fills the widgets again.

    A click in the page menu drops the query string: that is not a new view, the widgets keep their values.
    """
    seen = st.session_state.get(URL_SEEN)
    now = _managed()
    return seen is not None and seen != now and (bool(now) or _history_navigation())


def _write(want: dict[str, list[str] | str | None]) -> None:
    """Set (or, for None, remove) query parameters in one step: one browser history entry per change."""
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    changed = False
    for key, value in want.items():
        new = [] if value is None else (value if isinstance(value, list) else [value])
        if params.get(key, []) != new:
            changed = True
            if new:
                params[key] = new
            else:
                params.pop(key, None)
    if changed:
        try:
            st.query_params.from_dict(params)
        except StreamlitAPIException:  # a widget bound to the URL (bind="query-params") owns a key: one by one
            for key, value in want.items():
                if value is None:
                    if key in st.query_params:
                        del st.query_params[key]
                elif st.query_params.get_all(key) != (value if isinstance(value, list) else [value]):
                    st.query_params[key] = value
    st.session_state[URL_SEEN] = _managed()


def sync_url(view: View) -> None:
    """Write the view's filters to the URL (only our keys), so a copied link reopens the same view."""
    want = url_params(view)
    _write({key: want.get(key) for key in URL_KEYS})


def keep_in_url(key: str, value: object, default: object) -> None:
    """Keep a page widget's value in the URL (`key` of PAGE_KEYS; left out when it is the default; a placement
    month as YYYY-MM)."""
    text = (f"{value:%Y-%m}" if key == "vintage" else value.isoformat()) if isinstance(value, dt.date) else str(value)
    _write({key: None if value == default or value is None else text})


def drop_other_pages_keys(page: str) -> None:
    """Leave out the URL parameters of pages other than `page` (their widgets are not on this one)."""
    other = [k for k, (owner, _) in PAGE_KEYS.items() if owner != page]
    if any(st.query_params.get_all(k) for k in other):
        _write(dict.fromkeys(other))


# ---------------------------------------------------------------- drill-down requests


def drill_request(raw: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """The valid parts of a drill-down request (dates as ISO text, lists as tuples), and the keys that were not.

    An unknown event drops the whole request (the cases page then lists the filters' cases). Only the
    shape is checked here; queries.views.drilldown and the viewer's scope decide what any value may show.
    """
    bad: list[str] = []
    event = raw.get("event", "cases")
    if event not in EVENTS:
        return {"event": "cases"}, ["event"]
    out: dict[str, object] = {"event": event}
    for key in DRILL_URL:
        v = raw.get(key)
        if key == "event" or v is None or v == "" or v == ():
            continue
        if key in _DRILL_LISTS:
            items = [v] if isinstance(v, str) else list(v) if isinstance(v, (list, tuple)) else None
            if items is None or not 0 < len(items) <= 50 or not all(isinstance(x, str) and 0 < len(x) <= 40
                                                                   for x in items):
                bad.append(key)
            else:
                out[key] = tuple(dict.fromkeys(items))
            continue
        if not isinstance(v, str) or not 0 < len(v) <= 40:
            bad.append(key)
        elif key in _DRILL_DATES:
            try:
                d = dt.date.fromisoformat(v)
            except ValueError:
                bad.append(key)
            else:
                if 1990 <= d.year <= 2100:
                    out[key] = d.isoformat()
                else:
                    bad.append(key)
        elif key == "channel" and v not in ("in_house", "agency"):
            bad.append(key)
        elif key == "months_since":
            if v.isascii() and v.isdigit() and int(v) <= 600:
                out[key] = v
            else:
                bad.append(key)
        else:
            out[key] = v
    return out, bad


def drill_from_url() -> tuple[dict[str, object] | None, list[str]]:
    """The drill-down request in the URL (None when there is none) and a notice per part that is not valid."""
    if not any(k in st.query_params for k in DRILL_URL.values()):
        return None, []
    raw: dict[str, object] = {}
    too_many: list[str] = []
    for key, param in DRILL_URL.items():
        vals = st.query_params.get_all(param)
        if not vals:
            continue
        if key in _DRILL_LISTS:
            raw[key] = tuple(vals)
        elif len(vals) == 1:
            raw[key] = vals[0]
        else:
            too_many.append(key)
    request, bad = drill_request(raw)
    notes = [f"{DRILL_URL[k]}: {', '.join(shown(v) for v in st.query_params.get_all(DRILL_URL[k])[:3])}"
             for k in [*too_many, *bad]]
    return request, notes


def breach_selection(raw: dict[str, object], checks: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The valid parts of a compliance drill-down selection (check, day as ISO text, team, agent) and the keys that
    were not. Only the shape is checked: the viewer's scope decides in queries what any team or agent may show."""
    out: dict[str, str] = {}
    bad: list[str] = []
    for key in BREACH_URL:
        v = raw.get(key)
        if v is None or v == "":
            continue
        if not isinstance(v, str) or not 0 < len(v) <= 40:
            bad.append(key)
        elif key == "check" and v not in checks:
            bad.append(key)
        elif key == "day":
            try:
                d = dt.date.fromisoformat(v)
            except ValueError:
                bad.append(key)
            else:
                (out.__setitem__(key, d.isoformat()) if 1990 <= d.year <= 2100 else bad.append(key))
        else:
            out[key] = v
    return out, bad


def breach_from_url(checks: tuple[str, ...]) -> tuple[dict[str, str] | None, list[str]]:
    """The compliance drill-down selection in the URL (None when there is none) and a notice per invalid part."""
    if not any(st.query_params.get_all(p) for p in BREACH_URL.values()):
        return None, []
    raw: dict[str, object] = {}
    many: list[str] = []
    for key, param in BREACH_URL.items():
        vals = st.query_params.get_all(param)
        if len(vals) == 1:
            raw[key] = vals[0]
        elif vals:
            many.append(key)
    sel, bad = breach_selection(raw, checks)
    notes = [f"{BREACH_URL[k]}: {', '.join(shown(v) for v in st.query_params.get_all(BREACH_URL[k])[:3])}"
             for k in [*many, *bad]]
    return sel, notes


def keep_selection_in_url(sel: dict[str, str] | None) -> None:
    """Write the compliance drill-down selection to the URL (removed when there is none), so a link reopens it."""
    _write({param: (sel or {}).get(key) for key, param in BREACH_URL.items()})


def drill_month_to_day(f: Filters, day: str) -> tuple[str, str]:
    """The days a point of a cumulative-in-the-month line sums: its month's first day (or the period's start,
    when later) to the point's day, as ISO text."""
    d = dt.date.fromisoformat(day)
    return max(d.replace(day=1), f.start).isoformat(), d.isoformat()


def drill_week(f: Filters, week: str) -> tuple[str, str]:
    """The days a weekly bar counts: its Monday to Sunday, within the period, as ISO text."""
    monday = dt.date.fromisoformat(week)
    return max(monday, f.start).isoformat(), min(monday + dt.timedelta(days=6), f.end).isoformat()


def drill_params(request: dict[str, object]) -> dict[str, str | list[str]]:
    """The query parameters that carry a drill-down request (its valid parts), for a link that can be shared."""
    clean, _ = drill_request(request)
    return {DRILL_URL[k]: (list(v) if isinstance(v, tuple) else str(v)) for k, v in clean.items()}


# ---------------------------------------------------------------- export file names

#: What a case-list export holds, per drill-down event (its file name's first part).
CASE_FILES = {"cases": "cases_assigned", "payments": "cases_with_payments", "contacts": "cases_with_contacts",
              "promises": "cases_with_promises_due", "complaints": "cases_with_complaints",
              "snapshot": "cases_in_snapshot", "placements": "cases_placed", "agency_placements": "cases_placed_with"}


def file_stem(name: str, f: Filters, period: tuple[dt.date, dt.date] | None = None) -> str:
    """Export file name: what it holds, the period it covers (`period`, else the filters' dates; one date when
    both ends are the same day) and the selections, e.g. collected_by_team_2026-11-01_2026-11-22_T01."""
    start, end = period or (f.start, f.end)
    parts = [name, start.isoformat()] + ([end.isoformat()] if end != start else [])
    for vals in (f.teams, f.agents, f.buckets, f.products, f.regions):
        if vals:
            parts.append("+".join(vals[:4]) + ("+more" if len(vals) > 4 else ""))
    if f.channel:
        parts.append(f.channel)
    stem = "_".join(parts)
    return "".join(c if c.isalnum() or c in "-_+." else "-" for c in stem)[:150]
