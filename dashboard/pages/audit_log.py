"""Audit log page (compliance only): who viewed, drilled into and exported what, and whether the chain holds."""

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import data, session
from dashboard.components import downloads, page_header
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang = view.lang
if session.role() != "compliance":  # the navigation hides this page from other roles; refuse it here as well
    st.error(f"{t('audit_only', 'zh')}  \n{t('audit_only', 'en')}", icon=":material/lock:")
    st.stop()
page_header(view, "pg_audit")

problems = data.audit_problems()
if problems:
    st.error(t("audit_chain_bad", lang) + "  \n" + "  \n".join(f"- {p}" for p in problems[:20]),
             icon=":material/gpp_bad:")
else:
    st.success(t("audit_chain_ok", lang), icon=":material/verified_user:")

today = dt.date.today()
c1, c2, c3 = st.columns([2, 2, 2])
picked = c1.date_input(t("audit_dates", lang), value=(today - dt.timedelta(days=6), today), key="audit_dates",
                       format="YYYY-MM-DD")
picked = tuple(d for d in (picked if isinstance(picked, (tuple, list)) else (picked,)) if d is not None)
start, end = (picked[0], picked[-1]) if picked else (today - dt.timedelta(days=6), today)
actions = c2.multiselect(t("audit_action", lang), data.AUDIT_ACTIONS, key="audit_actions", placeholder=t("all", lang))
who = c3.text_input(t("audit_user", lang), key="audit_user", max_chars=120)

log = data.audit_entries(start, end)
if actions:
    log = log.filter(pl.col("action").is_in(actions))
if who.strip():
    log = log.filter(pl.col("user").str.contains(who.strip().lower(), literal=True))
st.caption(t("audit_total", lang, n=f"{log.height:,}"))
st.dataframe(log, hide_index=True, width="stretch",
             column_config={"at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                            "rows": st.column_config.NumberColumn(format="%d")})
downloads(log, "audit_log", view, "audit", title=t("pg_audit", lang), period=(start, end))
