"""案件明细 · Cases: the paginated, masked cases behind a clicked bar, point or row, and one case's timeline."""

import dataclasses
import datetime as dt

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.components import DRILL, downloads, page_header
from dashboard.filters import current
from dashboard.i18n import cny, num, t, value

view = current()
lang = view.lang
page_header(view, "pg_cases")

request = dict(st.session_state.get(DRILL) or {"event": "cases"})
overrides = {k: tuple(v) for k, v in request.items() if k in ("teams", "agents", "buckets") and v}
for k in ("start", "end"):
    if request.get(k):
        overrides[k] = dt.date.fromisoformat(str(request[k])[:10])
if request.get("channel"):
    overrides["channel"] = request["channel"]
f = dataclasses.replace(view.filters, **overrides)
args = {k: request[k] for k in ("event", "category", "source", "from_bucket", "to_bucket") if request.get(k)}
for k in ("day", "month", "snapshot_on"):
    if request.get(k):
        args[k] = dt.date.fromisoformat(str(request[k])[:10])

if DRILL in st.session_state:
    st.markdown(t("cases_behind", lang, what=request.get("label") or t(f"ev_{args['event']}", lang)))
else:
    st.caption(t("cases_none", lang))

if "case_page" not in st.session_state or st.session_state.get("_case_req") != request:
    st.session_state["_case_req"] = request
    st.session_state.pop("case_page", None)
page_no = st.session_state.get("case_page", 1)
result, error = data.cases(f, tuple(sorted(args.items())), page_no)
if error:
    st.error(t("drill_unavailable", lang, msg=error), icon=":material/error:")
    st.stop()
if result.total == 0:
    st.info(t("empty", lang), icon=":material/filter_alt_off:")
    st.stop()

st.caption(t("cases_total", lang, n=f"{result.total:,}"))
rows = result.rows.with_columns(pl.col("product").map_elements(lambda v: value(v, lang), return_dtype=pl.String))
labels = {"case_id": "ID", "customer_name": "客户" if lang == "zh" else "Customer", "phone": "电话" if lang == "zh" else "Phone",
          "account_no": "账号" if lang == "zh" else "Account", "product": t("product", lang), "region": t("region", lang),
          "status": "状态" if lang == "zh" else "Status", "current_dpd": "DPD",
          "current_balance": t("balance", lang), "agent_id": t("agent", lang),
          "events": "笔数" if lang == "zh" else "Events", "amount": "金额" if lang == "zh" else "Amount"}
event = st.dataframe(
    rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="case_rows",
    column_config={c: st.column_config.Column(lbl) for c, lbl in labels.items()} | {
        "current_balance": st.column_config.NumberColumn(labels["current_balance"], format="¥%.2f"),
        "amount": st.column_config.NumberColumn(labels["amount"], format="¥%.2f"),
        "case_id": st.column_config.NumberColumn("ID", format="%d")})
if result.pages > 1:
    st.pagination(result.pages, key="case_page", default=page_no)
downloads(result.rows, f"cases_{args['event']}", view, "cases")

selected = event.selection.rows if event else []
if selected:
    case_id = int(result.rows.get_column("case_id")[selected[0]])
    tl, err = data.timeline(case_id, f)
    with st.container(border=True):
        st.subheader(t("timeline", lang, case=case_id))
        if err or tl is None or tl.case is None:
            st.info(err or t("empty", lang))
        else:
            head = tl.case
            c = st.columns(4)
            c[0].metric(labels["customer_name"], str(head.get("customer_name")))
            c[1].metric(labels["product"], value(head.get("product"), lang))
            c[2].metric("DPD", num(head.get("current_dpd")))
            c[3].metric(labels["current_balance"], cny(head.get("current_balance"), lang))
            st.dataframe(tl.events, hide_index=True, width="stretch",
                         column_config={"amount": st.column_config.NumberColumn(format="¥%.2f")})
            downloads(tl.events, f"case_{case_id}_timeline", view, "timeline")
else:
    st.caption(t("open_case", lang))
