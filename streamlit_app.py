"""Entry point of the collections supervisor dashboard (run with `collections-dashboard`)."""

from __future__ import annotations

import streamlit as st

from dashboard import data

st.set_page_config(page_title="催收监控 · Collections dashboard", page_icon=":material/monitoring:", layout="wide")

settings = data.settings()
st.title("催收监控看板 · Collections supervisor dashboard")
if settings.is_demo:
    st.info("演示数据：本看板运行在自动生成的演示案件库上，数据均为虚构。  \n"
            "Demo data: this dashboard runs on a generated demo case database; every person and amount is "
            "fictitious.", icon=":material/science:")

summary, error = data.database_summary()
if error:
    st.error(f"无法读取案件库 · Cannot read the case database: {error}  \n"
             "检查 CASES_DB_URL 或 .streamlit/secrets.toml 中的 [connections.cases] url，并确认数据库在运行。  \n"
             "Check CASES_DB_URL or [connections.cases] url in .streamlit/secrets.toml and that the database "
             "is running.", icon=":material/cloud_off:")
    st.stop()

st.subheader("案件库概况 · Case database")
st.caption(f"来源 · Source: `{data.source_label()}` (只读 · read-only)")
missing = summary.filter(~summary["present"] & ~summary["optional"])
if missing.height:
    st.warning("缺少必需的表 · Required tables missing: " + ", ".join(missing["table"].to_list()), icon=":material/warning:")
cols = st.columns(3)
counts = dict(zip(summary["table"], summary["rows"], strict=True))
cols[0].metric("案件 · Cases", f"{counts.get('cases') or 0:,}")
cols[1].metric("催收记录 · Contacts", f"{counts.get('contacts') or 0:,}")
cols[2].metric("还款笔数 · Payments", f"{counts.get('payments') or 0:,}")
st.dataframe(
    summary.select("table", "rows", "first", "last").fill_null("—"),
    column_config={"table": "表 · Table", "rows": st.column_config.NumberColumn("行数 · Rows", format="localized"),
                   "first": "最早 · First", "last": "最晚 · Last"},
    hide_index=True, width="stretch",
)
