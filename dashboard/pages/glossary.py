"""指标口径 · Glossary: every registered metric with its definition, numerator and denominator."""

import streamlit as st

from dashboard import data
from dashboard.components import downloads, page_header
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang = view.lang
page_header(view, "pg_glossary")
st.caption(t("glossary_intro", lang))
g = data.glossary(lang)
st.dataframe(g, hide_index=True, width="stretch", row_height=60,
             column_config={"key": st.column_config.TextColumn(t("g_key", lang), width="small"),
                            "name": st.column_config.TextColumn(t("g_name", lang), width="small"),
                            "definition": st.column_config.TextColumn(t("g_def", lang), width="large"),
                            "numerator": t("g_num", lang), "denominator": t("g_den", lang)})
downloads(g, "glossary", view, "glossary")
