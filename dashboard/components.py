"""Page building blocks: header with data-as-of and reconciliation, chart and table blocks with exports."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import audit, charts, data, exports, session
from dashboard.format import (
    cny,
    code_text,
    day,
    fixed,
    fixed_expr,
    html_escape,
    md_escape,
    money_scale,
    num,
    rounded_expr,
)
from dashboard.i18n import has_label, labels_expr, t, value, value_mapping, values_expr
from dashboard.links import drill_params, file_stem, url_params
from dashboard.session import DRILL, EXPORTS, URL_READ, View, current_page
from queries.filters import Filters

CASES_PAGE = "dashboard/pages/cases.py"
TIMELINE_KINDS = {"kind": "label"}  # a timeline's event kinds are labels (tl_…), not the agency/in-house code
#: Plotly's own tool bar keeps only "download as PNG" (exports carry the data); its labels and the date axes' month
#: names follow the page's language (charts.PLOTLY_ZH).
_MODEBAR_OFF = ["zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d",
                "toggleSpikelines", "hoverClosestCartesian", "hoverCompareCartesian"]


def chart_config(lang: str) -> dict:
    """The Plotly config of every chart in `lang`."""
    config = {"displaylogo": False, "modeBarButtonsToRemove": _MODEBAR_OFF, "scrollZoom": False}
    if lang == "zh":
        config |= {"locale": "zh-CN", "locales": {"zh-CN": charts.PLOTLY_ZH}}
    return config

#: A drill function maps one selected point to list_cases arguments (plus filter overrides), or None.
Drill = Callable[[dict], dict | None]


def page_header(view: View, title_key: str, notices: list[str] | tuple[str, ...] = ()) -> None:
    """Title, demo label, data-as-of and the store's reconciliation state, and any URL notices (plus `notices`)."""
    lang = view.lang
    st.title(t(title_key, lang))
    session.demo_note(lang)
    state, _ = data.store_state()
    if data.store_from_demo():
        st.caption(f":material/science: {t('demo', lang)}")
    if state is not None:
        store = state.store
        rec = store.reconciliation
        parts = [f"**{t('data_as_of', lang)} {day(store.as_of, lang)}**",
                 f"{t('synced_at', lang)} {store.synced_at:%Y-%m-%d %H:%M}"]
        if rec.get("ok"):
            parts.append(f":green[:material/verified: {t('reconciled', lang)}]")
        elif not rec:
            parts.append(t("recon_unknown", lang))
        st.caption(" · ".join(parts))
        if rec and not rec.get("ok"):
            days = ", ".join(m["day"] for m in rec.get("mismatches", [])[:3])
            st.warning(t("recon_bad", lang, n=rec.get("mismatch_count", len(rec.get("mismatches", []))), days=days),
                       icon=":material/sync_problem:")
        if state.sync_problem:
            reason, err = state.sync_problem
            st.warning(t(f"sync_failed_{reason}", lang, err=code_text(err), at=f"{store.synced_at:%Y-%m-%d %H:%M}"),
                       icon=":material/cloud_off:" if reason == "source" else ":material/sync_problem:")
        if state.store_note:
            st.warning(t("store_rolled_back", lang, note=state.store_note), icon=":material/restore:")
    if view.notices or notices:
        st.warning(t("bad_url", lang) + "  \n" + "  \n".join(f"- {n}" for n in (*view.notices, *notices)),
                   icon=":material/link_off:")


def _about(view: View, title: str, f: Filters, period: tuple[dt.date, dt.date], reveal: bool,
           extra: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The filters sheet of an Excel export: page, contents, period, every selection, masking, data as of."""
    lang = view.lang
    opts = data.options()
    teams = {tid: name for tid, name, _ in opts.teams}
    agents = {a: name for a, name, _ in opts.agents}
    start, end = period
    rows = [(t("x_page", lang), t(f"pg_{current_page()}", lang) if has_label(f"pg_{current_page()}")
             else current_page()),
            (t("x_contents", lang), title),
            (t("x_period", lang), start.isoformat() if start == end else f"{start.isoformat()} → {end.isoformat()}")]
    for key, vals, names in (("team", f.teams, teams), ("agent", f.agents, agents), ("bucket", f.buckets, {}),
                             ("product", f.products, {}), ("region", f.regions, {})):
        shown = [f"{v} · {names[v]}" if v in names else value(v, lang) for v in vals]
        rows.append((t(key, lang), ", ".join(shown) if shown else t("all", lang)))
    rows.append((t("channel", lang), t(f.channel, lang) if f.channel else t("all", lang)))
    rows += list(extra)
    rows.append((t("x_pii", lang), t("x_revealed" if reveal else "x_masked", lang)))
    state, _ = data.store_state()
    if state is not None and state.store.as_of is not None:
        rows.append((t("x_as_of", lang), state.store.as_of.isoformat()))
    ident = session.current()
    rows.append((t("x_by", lang), ident.user if ident is not None else "—"))
    return rows


def downloads(df: pl.DataFrame, name: str, view: View, key: str, *, title: str | None = None,
              filters: Filters | None = None, period: tuple[dt.date, dt.date] | None = None,
              metric: str | None = None, basis: str | None = None, kinds: dict[str, str] | None = None,
              batches: Callable[[], Iterator[pl.DataFrame]] | None = None, reveal: bool = False,
              about: tuple[tuple[str, str], ...] = (), detail: dict | None = None) -> exports.Offer:
    """CSV and Excel downloads of a chart's or table's data (masked as the page), built by dashboard.exports when
    clicked and recorded in the audit log then. `df` is the data, or with `batches` (a streamed export) a frame
    with its columns; `filters`/`period` are what the data really covers (default: the view's)."""
    f = filters or view.filters
    period = period or (f.start, f.end)
    stem = file_stem(name, f, period)
    columns = exports.columns_for(df.schema, view.lang, metric=metric, basis=basis, kinds=kinds)
    frame = df
    record = audit.export_recorder(current_page(), f, {"reveal_pii": reveal, **(detail or {})})
    title = title or name
    offer = exports.offer(stem, columns, batches or (lambda: iter([frame])), view.lang, title,
                          _about(view, title, f, period, reveal, about), record)
    st.session_state.setdefault(EXPORTS, {})[key] = offer
    row = st.container(horizontal=True, gap="small")
    row.download_button(t("download_csv", view.lang), offer.csv, file_name=f"{stem}.csv", mime=exports.CSV_MIME,
                        key=f"csv_{key}", on_click="ignore", icon=":material/download:", type="tertiary")
    row.download_button(t("download_xlsx", view.lang), offer.xlsx, file_name=f"{stem}.xlsx", mime=exports.XLSX_MIME,
                        key=f"xlsx_{key}", on_click="ignore", icon=":material/table_view:", type="tertiary")
    return offer


@dataclass(frozen=True)
class Table:
    """What st.dataframe shows: the frame, its column_config and each numeric column's display format."""

    frame: pl.DataFrame
    config: dict
    formats: dict[str, Callable[[object], str]]

    def flagged(self, flags: dict[str, list[bool]], color: str = "#FBE3CF") -> object:
        """A pandas Styler of the frame with the flagged cells shaded (Streamlit then shows the Styler's text,
        so the formats are applied here too)."""
        pdf = self.frame.to_pandas()
        styler = pdf.style.format({c: f for c, f in self.formats.items() if c in pdf.columns}, na_rep="")

        def shade(col: object) -> list[str]:
            marks = flags.get(col.name)
            return [f"background-color: {color}" if marks and marks[i] else "" for i in range(len(col))]

        return styler.apply(shade, axis=0)


def table(df: pl.DataFrame, lang: str, *, metric: str | None = None, basis: str | None = None,
          kinds: dict[str, str] | None = None, pinned: tuple[str, ...] = (), help: dict[str, str] | None = None,
          widths: dict[str, str] | None = None) -> Table:
    """A frame and its column_config for st.dataframe, shown like the cards: headers in `lang` (the exports'),
    codes translated, money scaled as the cards (¥万; ¥M or whole yuan), every rate in percent with one
    decimal, money, counts and numbers with thousands separators. A numeric column with missing values is shown as
    text, so no cell reads "None"."""
    exprs, config, formats = [], {}, {}
    for c in exports.columns_for(df.schema, lang, metric=metric, basis=basis, kinds=kinds):
        e, col = pl.col(c.name), df.get_column(c.name)
        if c.kind in ("money", "rate", "pp", "number"):
            e = e.cast(pl.Float64)  # the arithmetic below as the cards do it (a Float32 column would round apart)
        gaps = col.null_count() > 0 or (col.dtype.is_float() and not col.is_finite().all())
        extra = {"pinned": True} if c.name in pinned else {}
        extra |= {"help": help[c.name]} if help and c.name in help else {}
        extra |= {"width": widths[c.name]} if widths and c.name in widths else {}
        if c.kind in ("money", "rate", "pp", "number") and gaps:  # as text: an empty cell, not "None"
            if c.kind == "money":  # fixed_expr gives null for NaN and ±inf: an empty cell
                div, digits, unit = money_scale(col.drop_nulls().abs().max(), lang, column=True)
                e = pl.lit("¥") + fixed_expr(e / div, digits, grouped=True) + pl.lit(unit)
            elif c.kind == "rate":
                e = fixed_expr(e * 100, 1) + pl.lit("%")
            elif c.kind == "pp":
                e = fixed_expr(e * 100, 1, plus=True) + pl.lit(" pp")
            else:
                e = fixed_expr(e, 2, grouped=True)
            exprs.append(e.fill_null("").alias(c.name))
            config[c.name] = st.column_config.TextColumn(c.header, **extra)
            continue
        if c.kind == "code":
            e = values_expr(c.name, lang)
        elif c.kind == "label":
            e = labels_expr(c.name, lang, exports.label_prefix(c.name))
        if c.kind == "money":
            div, digits, unit = money_scale(col.drop_nulls().abs().max() if col.len() else 0, lang, column=True)
            exprs.append(rounded_expr(e / div, digits).alias(c.name))  # the browser then shows the rule's digits
            config[c.name] = st.column_config.NumberColumn(c.header, format=f"¥%,.{digits}f{unit}", **extra)
            formats[c.name] = lambda v, d=digits, u=unit: f"¥{fixed(v, d, grouped=True)}{u}"
        elif c.kind in ("rate", "pp"):
            exprs.append(rounded_expr(e * 100, 1).alias(c.name))
            fmt = "%.1f%%" if c.kind == "rate" else "%+.1f pp"
            config[c.name] = st.column_config.NumberColumn(c.header, format=fmt, **extra)
            rate = c.kind == "rate"
            formats[c.name] = (lambda v: f"{fixed(v, 1)}%") if rate else (lambda v: f"{fixed(v, 1, plus=True)} pp")
        elif c.kind == "count":
            exprs.append(e)
            config[c.name] = st.column_config.NumberColumn(c.header, format="localized", **extra)
            formats[c.name] = lambda v: fixed(v, 0, grouped=True)
        elif c.kind == "id":
            exprs.append(e)
            config[c.name] = st.column_config.NumberColumn(c.header, format="%d", **extra)
            formats[c.name] = lambda v: f"{v:.0f}"
        elif c.kind == "number":
            exprs.append(rounded_expr(e, 2).alias(c.name))
            config[c.name] = st.column_config.NumberColumn(c.header, format="%,.2f", **extra)
            formats[c.name] = lambda v: fixed(v, 2, grouped=True)
        elif c.kind in ("date", "month"):
            exprs.append(e)
            config[c.name] = st.column_config.DateColumn(c.header, format="YYYY-MM-DD" if c.kind == "date"
                                                         else "YYYY-MM", **extra)
        elif c.kind == "datetime":
            exprs.append(e)
            config[c.name] = st.column_config.DatetimeColumn(c.header, format="YYYY-MM-DD HH:mm", **extra)
        elif c.kind == "bool":
            exprs.append(e)
            config[c.name] = st.column_config.CheckboxColumn(c.header, **extra)
        else:
            exprs.append(e.cast(pl.String).fill_null("—") if c.kind == "text" else e)
            config[c.name] = st.column_config.TextColumn(c.header, **extra)
    return Table(df.select(exprs), config, formats)


def timeline_detail(lang: str) -> pl.Expr:
    """A case timeline event's detail in `lang` from its fields: 电话 · 债务人本人 · 无人接听 · 通话 0 秒."""
    mapping = value_mapping(lang)

    def code(c: str) -> pl.Expr:
        return pl.col(c).cast(pl.String).replace(mapping)

    pieces = [code("channel"), code("party"), code("outcome"),
              pl.format(t("tl_duration", lang), pl.col("duration_s")), pl.col("phone_no"),
              pl.format(t("tl_due", lang), pl.col("due_on").cast(pl.String)), code("status"), code("method"),
              code("category"), code("source"), code("severity"), pl.format(t("tl_dpd", lang), pl.col("dpd"))]
    return pl.concat_str(pieces, separator=" · ", ignore_nulls=True).alias("detail")


def timeline_block(case_id: int, f: Filters, view: View, reveal: bool) -> None:
    """One case's header and timeline (scoped, masked unless revealed), with its download; audited once."""
    lang = view.lang
    tl, err = data.timeline(case_id, f, reveal=reveal)
    audit.audit_once("timeline", current_page(), f, None if tl is None else tl.events.height,
                     {"case_id": case_id, "reveal_pii": reveal, "visible": tl is not None and tl.case is not None})
    with st.container(border=True):
        st.subheader(t("timeline", lang, case=case_id))
        if err or tl is None or tl.case is None:
            st.info(code_text(err) if err else t("empty", lang))
            return
        head = tl.case
        c = st.columns(4)
        c[0].metric(t("customer", lang), str(head.get("customer_name")),
                    help=md_escape(f"{t('phone', lang)} {head.get('phone')} · {t('account', lang)} "
                                   f"{head.get('account_no')}"))
        c[1].metric(t("product", lang), value(head.get("product"), lang))
        c[2].metric(t("dpd", lang), num(head.get("current_dpd")))
        c[3].metric(t("balance", lang), cny(head.get("current_balance"), lang))
        events = tl.events.with_columns(timeline_detail(lang)).select("at", "kind", "agent_id", "detail", "amount")
        shown = table(events, lang, kinds=TIMELINE_KINDS)
        st.dataframe(shown.frame, hide_index=True, width="stretch", column_config=shown.config)
        downloads(events, f"case_{case_id}_timeline", view, "timeline", title=t("timeline", lang, case=case_id),
                  kinds=TIMELINE_KINDS,
                  period=(events["at"].min().date(), events["at"].max().date()) if events.height else None,
                  reveal=reveal)


def scorecard_formula(day: dt.date, lang: str) -> str:
    """The compliance-weighted scorecard's formula with the weights in force on `day` and the rule they come from."""
    w = dict(data.weights(day))
    pack, _ = data.rule_pack()
    rule = "; ".join(r.label(lang) for r in pack.in_force("scorecard", day)) or t("no_rule", lang)
    return t("scorecard_formula", lang, wr=f"{w['recovery']:g}", wb=f"{w['breaches']:g}", wc=f"{w['complaints']:g}",
             rule=rule)


def empty_state(view: View, result: data.Result | None = None) -> None:
    """The explained empty state: data unavailable (with reason) or nothing matching the filters."""
    if result is not None and result.note:
        st.info(t("unavailable", view.lang, msg=result.reason(view.lang)), icon=":material/info:")
    else:
        st.info(t("empty", view.lang), icon=":material/filter_alt_off:")


def data_title(text: str) -> None:
    """A bold line holding database values (a name): HTML-escaped text, never markdown (no links, no images)."""
    st.html(f'<div style="font-weight:600;margin:0.25rem 0">{html_escape(text)}</div>')


def chart_block(title: str, result: data.Result, build: Callable[[pl.DataFrame], go.Figure], view: View,
                name: str, key: str, drill: Drill | None = None, export: pl.DataFrame | None = None,
                help: str | None = None, export_opts: dict | None = None, hint: str | None = None,
                empty: str | None = None, controls: Callable[[], None] | None = None,
                note: str | None = None, on_pick: Callable[[dict | None], None] | None = None,
                empty_icon: str = ":material/check_circle:") -> None:
    """A titled chart with its empty state (`empty`: a message for an empty result that is an answer, not a gap,
    ticked as good news — no breaches — unless `empty_icon` says otherwise),
    downloads (`export_opts` go to downloads()) and, when given, click-through to the cases behind a mark (`drill`)
    or a page's own use of the clicked mark (`on_pick`, called with the point, or None when none is selected)."""
    with st.container(border=True):
        st.markdown(f"**{title}**", help=help)
        if result.empty:
            if empty and result.note is None:
                st.info(empty, icon=empty_icon)
            else:
                empty_state(view, result)
            return
        if controls is not None:  # widgets the chart depends on (a sort order), inside its frame
            controls()
        fig = build(result.df)
        config = chart_config(view.lang)
        if drill is None and on_pick is None:
            st.plotly_chart(fig, width="stretch", key=key, config=config)
        else:
            event = st.plotly_chart(fig, width="stretch", key=key, config=config, on_select="rerun",
                                    selection_mode="points")
            st.caption(f":material/ads_click: {hint or t('click_hint', view.lang)}")
            points = (event or {}).get("selection", {}).get("points", []) if event else []
            if on_pick is not None:
                on_pick(points[0] if points else None)
            elif points:
                open_cases(drill(points[0]), view)
        if note:
            st.caption(f":material/info: {note}")
        downloads(export if export is not None else result.df, name, view, key, title=title, **(export_opts or {}))


def open_cases(request: dict | None, view: View) -> None:
    """Go to the cases page for a drill request (list_cases arguments + filter overrides + a label)."""
    if not request:
        return
    st.session_state[DRILL] = request  # kept for its label; the URL carries the request itself
    # A switch_page run may reset the sidebar widgets to their defaults: carry the filters in the URL and
    # let the sidebar read it again, as on a fresh visit. The drill request goes in the URL too, so the
    # cases page's link can be shared.
    st.session_state.pop(URL_READ, None)
    st.switch_page(CASES_PAGE, query_params=url_params(view) | drill_params(request))


def kpi(col: st.delta_generator.DeltaGenerator, label: str, value: str, delta: str | None = None,
        help: str | None = None, delta_color: str = "normal", delta_arrow: str = "auto") -> None:
    """One KPI card."""
    delta_color, delta_arrow = delta_style(delta, delta_color, delta_arrow)
    col.metric(label, value, delta=delta, help=help, border=True, delta_color=delta_color, delta_arrow=delta_arrow)


_ZERO_CHANGE = re.compile(r"[+\-]?0+(?:\.0+)?(?![\d.])")


def delta_style(delta: str | None, color: str, arrow: str) -> tuple[str, str]:
    """A card's change colour and arrow; a change shown as zero (+0.0 pp: it rounded to zero, either way) gets
    neither, as Streamlit would show it rising or falling by its sign."""
    if delta is not None and _ZERO_CHANGE.match(delta):
        return "off", "off"
    return color, arrow


STYLE = """<style>
[data-testid="stMetricValue"] { font-size: 1.65rem; }
[data-testid="stMetricLabel"] p { font-size: 0.9rem; }
@media (max-width: 640px) {
  /* a phone: the six KPIs as a compact strip of two rows of three, under the date and the data-as-of line */
  .block-container, [data-testid="stMainBlockContainer"] { padding-top: 3.2rem; }
  h1 { font-size: 1.45rem !important; padding-bottom: 0.2rem !important; }
  .st-key-kpis [data-testid="stHorizontalBlock"] { flex-direction: row !important; flex-wrap: wrap; gap: 0.35rem; }
  .st-key-kpis [data-testid="stColumn"] { width: calc(33.3% - 0.3rem) !important; flex: 1 1 30% !important;
                                          min-width: 0 !important; }
  .st-key-kpis [data-testid="stMetric"] { padding: 0.3rem 0.35rem !important; }
  .st-key-kpis [data-testid="stMetricValue"] { font-size: 0.92rem; }
  .st-key-kpis [data-testid="stMetricValue"] div { overflow: visible; }
  .st-key-kpis [data-testid="stMetricLabel"] p { font-size: 0.7rem; white-space: normal; line-height: 1.15; }
  .st-key-kpis [data-testid="stMetricLabel"] div { overflow: visible; white-space: normal; }
  .st-key-kpis [data-testid="stMetricDelta"] { font-size: 0.68rem; }
  .st-key-kpis [data-testid="stMetricDelta"] svg, .st-key-kpis [data-testid="stTooltipIcon"] { display: none !important; }
  .st-key-kpis .stMarkdownEllipsis, .st-key-kpis .stMarkdownEllipsis p { white-space: normal !important;
                                                                        overflow: visible !important; }
  /* Plotly's tool bar would sit on the legend of a narrow chart */
  .modebar-container { display: none !important; }
  /* the collapsed sidebar's button says what it opens */
  [data-testid="stExpandSidebarButton"]::after, [data-testid="stSidebarCollapsedControl"] button::after {
    content: "FILTERS_LABEL"; font-size: 0.9rem; margin-left: 0.3rem; font-weight: 600; }
}
</style>"""


def style(lang: str = "zh") -> None:
    """Compact KPI cards so six fit at 1280 px; on a phone a compact strip and a labelled filters button."""
    st.html(STYLE.replace("FILTERS_LABEL", t("filters_button", lang)))


def metric_help(key: str, lang: str) -> str:
    """The glossary definition of a registry metric, for chart and KPI help."""
    return data.metric_info(key).definition(lang)
