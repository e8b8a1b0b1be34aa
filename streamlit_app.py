"""Entry point of the collections supervisor dashboard (run with `collections-dashboard`)."""

from __future__ import annotations

import streamlit as st

from dashboard import data, filters
from dashboard.i18n import bi, t
from dashboard.components import style
from dashboard.overview import database_overview

st.set_page_config(page_title="催收监控 · Collections dashboard", page_icon=":material/monitoring:", layout="wide")

state, error = data.store_state()
if state is None:
    st.title("催收监控看板 · Collections supervisor dashboard")
    st.error(bi("db_down").replace("{err}", error or ""), icon=":material/cloud_off:")
    database_overview("zh", show_errors=False)
    st.stop()

style()
view = filters.sidebar(data.options())
lang = view.lang
PAGES = "dashboard/pages"
nav = st.navigation({
    t("sec_pages", lang): [
        st.Page(f"{PAGES}/daily.py", title=t("pg_daily", lang), icon=":material/payments:", url_path="daily",
                default=True),
        st.Page(f"{PAGES}/agents.py", title=t("pg_agents", lang), icon=":material/support_agent:", url_path="agents"),
        st.Page(f"{PAGES}/complaints.py", title=t("pg_complaints", lang), icon=":material/report:",
                url_path="complaints"),
        st.Page(f"{PAGES}/aging.py", title=t("pg_aging", lang), icon=":material/stacked_bar_chart:", url_path="aging"),
        st.Page(f"{PAGES}/trends.py", title=t("pg_trends", lang), icon=":material/trending_up:", url_path="trends"),
    ],
    t("sec_more", lang): [
        st.Page(f"{PAGES}/cases.py", title=t("pg_cases", lang), icon=":material/folder_open:", url_path="cases"),
        st.Page(f"{PAGES}/glossary.py", title=t("pg_glossary", lang), icon=":material/menu_book:",
                url_path="glossary"),
        st.Page(f"{PAGES}/data_overview.py", title=t("pg_data", lang), icon=":material/database:",
                url_path="data"),
    ],
})
nav.run()
