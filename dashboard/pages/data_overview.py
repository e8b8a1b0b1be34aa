"""数据概况 · Data: what the case database holds and the state of the analytics store."""

import streamlit as st

from dashboard import data
from dashboard.components import page_header
from dashboard.i18n import t
from dashboard.overview import database_overview
from dashboard.session import current_view

view = current_view()
page_header(view, "pg_data")
database_overview(view.lang)
state, _ = data.store_state()
if state is not None:
    st.subheader(t("store_state", view.lang))
    m = state.store.manifest
    st.json({k: m.get(k) for k in ("synced_at", "data_as_of", "backend", "reader", "rules", "full", "rows_read",
                                   "reconciliation")}, expanded=1)
