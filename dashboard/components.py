"""Page building blocks: header with data-as-of and reconciliation, chart and table blocks with exports."""

from __future__ import annotations

import io
from collections.abc import Callable

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import audit, data, session
from dashboard.format import day
from dashboard.i18n import t
from dashboard.links import drill_params, file_stem, url_params
from dashboard.session import DRILL, EXPORTS, URL_READ, View, current_page

CASES_PAGE = "dashboard/pages/cases.py"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"], "locale": "zh-CN"}

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
            st.warning(t(f"sync_failed_{reason}", lang, err=err, at=f"{store.synced_at:%Y-%m-%d %H:%M}"),
                       icon=":material/cloud_off:" if reason == "source" else ":material/sync_problem:")
        if state.store_note:
            st.warning(t("store_rolled_back", lang, note=state.store_note), icon=":material/restore:")
    if view.notices or notices:
        st.warning(t("bad_url", lang) + "  \n" + "  \n".join(f"- {n}" for n in (*view.notices, *notices)),
                   icon=":material/link_off:")


def export_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The columns an export carries (list columns such as sparklines left out)."""
    return df.select([c for c, dt_ in df.schema.items() if not isinstance(dt_, pl.List)])


def csv_bytes(df: pl.DataFrame) -> bytes:
    """A CSV export (UTF-8 with BOM, so Excel opens Chinese text correctly)."""
    return export_frame(df).write_csv().encode("utf-8-sig")


def xlsx_bytes(df: pl.DataFrame, sheet: str) -> bytes:
    """An Excel export of the same frame."""
    buf = io.BytesIO()
    export_frame(df).write_excel(buf, worksheet=sheet[:31], autofit=True)
    return buf.getvalue()


def downloads(df: pl.DataFrame, name: str, view: View, key: str) -> None:
    """CSV and Excel downloads of a chart's or table's data (as masked as the page), each recorded in the audit log."""
    stem = file_stem(name, view.filters)
    flat = export_frame(df)
    st.session_state.setdefault(EXPORTS, {})[key] = (stem, flat)
    page, rows = current_page(), flat.height
    row = st.container(horizontal=True, gap="small")
    row.download_button(t("download_csv", view.lang), lambda: csv_bytes(flat),
                        file_name=f"{stem}.csv", mime="text/csv", key=f"csv_{key}",
                        on_click=audit.audit_export, args=(page, f"{stem}.csv", "csv", view.filters, rows),
                        icon=":material/download:", type="tertiary")
    row.download_button(t("download_xlsx", view.lang), lambda: xlsx_bytes(flat, name), file_name=f"{stem}.xlsx",
                        key=f"xlsx_{key}", mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        on_click=audit.audit_export, args=(page, f"{stem}.xlsx", "xlsx", view.filters, rows),
                        icon=":material/table_view:", type="tertiary")


def empty_state(view: View, result: data.Result | None = None) -> None:
    """The explained empty state: data unavailable (with reason) or nothing matching the filters."""
    if result is not None and result.note:
        st.info(t("unavailable", view.lang, msg=result.note), icon=":material/info:")
    else:
        st.info(t("empty", view.lang), icon=":material/filter_alt_off:")


def chart_block(title: str, result: data.Result, build: Callable[[pl.DataFrame], go.Figure], view: View,
                name: str, key: str, drill: Drill | None = None, export: pl.DataFrame | None = None,
                help: str | None = None) -> None:
    """A titled chart with its empty state, downloads and, when given, click-through to the cases."""
    with st.container(border=True):
        st.markdown(f"**{title}**", help=help)
        if result.empty:
            empty_state(view, result)
            return
        fig = build(result.df)
        if drill is None:
            st.plotly_chart(fig, width="stretch", key=key, config=CHART_CONFIG)
        else:
            event = st.plotly_chart(fig, width="stretch", key=key, config=CHART_CONFIG, on_select="rerun",
                                    selection_mode="points")
            st.caption(f":material/ads_click: {t('click_hint', view.lang)}")
            points = (event or {}).get("selection", {}).get("points", []) if event else []
            if points:
                open_cases(drill(points[0]), view)
        downloads(export if export is not None else result.df, name, view, key)


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
    col.metric(label, value, delta=delta, help=help, border=True, delta_color=delta_color, delta_arrow=delta_arrow)


STYLE = """<style>
[data-testid="stMetricValue"] { font-size: 1.65rem; }
[data-testid="stMetricLabel"] p { font-size: 0.9rem; }
</style>"""


def style() -> None:
    """Compact KPI cards so five fit in a row at 1280 px with the sidebar open."""
    st.html(STYLE)


def metric_help(key: str, lang: str) -> str:
    """The glossary definition of a registry metric, for chart and KPI help."""
    return data.metric_info(key).definition(lang)
