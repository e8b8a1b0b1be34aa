"""The case database summary: tables, row counts and date spans (the 数据概况 · Data page)."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.format import code_text
from dashboard.i18n import t


def database_overview(lang: str, show_errors: bool = True) -> None:
    """Row counts and date spans of the contract tables, and which required tables are missing."""
    summary, error = data.database_summary()
    if error:
        if show_errors:
            st.error(t("db_down", lang, err=code_text(error, 300)), icon=":material/cloud_off:")
        return
    st.subheader(t("case_db", lang))
    st.caption(f"{t('source_db', lang)}: `{data.source_label()}` ({t('read_only', lang)})")
    missing = summary.filter(~summary["present"] & ~summary["optional"])
    if missing.height:
        st.warning(t("missing_tables", lang) + ", ".join(missing["table"].to_list()), icon=":material/warning:")
    counts = dict(zip(summary["table"], summary["rows"], strict=True))
    cols = st.columns(3)
    cols[0].metric(t("t_cases", lang), f"{counts.get('cases') or 0:,}", border=True)
    cols[1].metric(t("t_contacts", lang), f"{counts.get('contacts') or 0:,}", border=True)
    cols[2].metric(t("t_payments", lang), f"{counts.get('payments') or 0:,}", border=True)
    st.dataframe(
        summary.select("table", "rows", "first", "last").fill_null("—"),
        column_config={"table": t("table", lang), "rows": st.column_config.NumberColumn(t("rows", lang),
                                                                                         format="localized"),
                       "first": t("first", lang), "last": t("last", lang)},
        hide_index=True, width="stretch",
    )
