"""案件明细 · Cases: the paginated, masked cases behind a clicked bar, point or row, and one case's timeline."""

import dataclasses
import datetime as dt

import streamlit as st

from dashboard import audit, data, session
from dashboard.components import downloads, page_header, table, timeline_block
from dashboard.format import cny, code_text
from dashboard.i18n import t, value
from dashboard.links import CASE_FILES, drill_from_url, drill_request
from dashboard.session import CASE_PAGE, CASE_REQUEST, DRILL, current_page, current_view

view = current_view()
lang = view.lang
url_request, url_notes = drill_from_url()
page_header(view, "pg_cases", url_notes)


def _describe(req: dict, lang: str) -> str:
    """What a drill request selects, in words (for a link opened without the click that made it)."""
    parts = [t(f"ev_{req['event']}", lang)]
    if req.get("snapshot_on"):
        parts.append(str(req["snapshot_on"]))
    for k in ("day", "start"):
        if req.get(k):
            parts.append(str(req[k]) + (f" → {req['end']}" if k == "start" and req.get("end") else ""))
    if req.get("holder"):
        parts.append(str(req["holder"]))
    if req.get("month"):
        parts.append(str(req["month"])[:7])
    if req.get("months_since") is not None:
        parts.append(t("months_after", lang, n=req["months_since"]))
    if req.get("from_bucket") or req.get("to_bucket"):
        parts.append(f"{req.get('from_bucket', '')} → {value(req.get('to_bucket', ''), lang)}")
    for k in ("teams", "agents", "buckets"):
        if req.get(k):
            parts.append(", ".join(req[k]))
    for k in ("category", "source"):
        if req.get(k):
            parts.append(value(req[k], lang))
    if req.get("channel"):
        parts.append(t(str(req["channel"]), lang))
    return " · ".join(parts)


# The URL carries the request (a shared link works); the click that made it also left its label in the session.
clicked = st.session_state.get(DRILL)
clicked = clicked if isinstance(clicked, dict) else None
label = None
if url_request is not None:
    request = url_request
    if clicked is not None and drill_request(clicked)[0] == url_request:
        label = clicked.get("label")
elif clicked is not None:
    request, label = drill_request(clicked)[0], clicked.get("label")
else:
    request = None
drilled = request is not None
request = request or {"event": "cases"}
# A drill request (checked by drill_request: dates as ISO text, lists as tuples) narrows the sidebar's
# filters, and its dates replace the sidebar's period (a clicked month may lie outside it); queries.views.scoped
# applies the viewer's scope on top, so no value in it can show more than the scope.
overrides: dict[str, object] = {k: request[k] for k in ("teams", "agents", "buckets", "channel") if k in request}
overrides |= {k: dt.date.fromisoformat(request[k]) for k in ("start", "end") if k in request}
f = dataclasses.replace(view.filters, **overrides)
if f.start > f.end:
    f = view.filters
args = {k: request[k] for k in ("event", "category", "source", "from_bucket", "to_bucket", "holder") if k in request}
args |= {k: dt.date.fromisoformat(request[k]) for k in ("day", "month", "snapshot_on") if k in request}
if "months_since" in request:
    args["months_since"] = int(request["months_since"])
event_kind = args["event"]
if event_kind == "snapshot":
    covers = (args["snapshot_on"], args["snapshot_on"])
elif event_kind == "cases":
    covers = (view.as_of, view.as_of)  # the cases assigned now
else:
    covers = data.drill_dates(f, args.get("day"), args.get("month"))
f = f.with_dates(*covers)  # what the list covers: the audit log, the file name and the filters sheet say so

if drilled:
    # plain text, never markdown: a shared link's values must not render as links, images or HTML
    st.text(t("cases_behind", lang, what=label or _describe(request, lang)))
else:
    st.caption(t("cases_none", lang))

if CASE_PAGE not in st.session_state or st.session_state.get(CASE_REQUEST) != request:
    st.session_state[CASE_REQUEST] = request
    st.session_state.pop(CASE_PAGE, None)
page_no = st.session_state.get(CASE_PAGE, 1)
reveal = False
if session.role() == "compliance":  # only compliance may ask for personal data; queries re-check the role
    reveal = st.toggle(t("reveal_pii", lang), key="reveal_pii", value=False)
drill = tuple(sorted(args.items()))
result, error = data.cases(f, drill, page_no, reveal=reveal)
audit_detail = {k: str(v) for k, v in args.items()} | {"page": page_no, "reveal_pii": reveal}
audit.audit_once("drilldown", current_page(), f, None if result is None else result.total, audit_detail)
if error:
    st.error(t("drill_unavailable", lang, msg=code_text(error)), icon=":material/error:")
    st.stop()
if result.total == 0:
    st.info(t("empty", lang), icon=":material/filter_alt_off:")
    st.stop()

# the totals a clicked figure counts or sums, to check the list against the chart
totals = {"payments": t("tot_payments", lang, n=f"{result.events:,}", amount=cny(result.amount, lang)),
          "contacts": t("tot_contacts", lang, n=f"{result.events:,}"),
          "promises": t("tot_promises", lang, n=f"{result.events:,}", amount=cny(result.amount, lang)),
          "complaints": t("tot_complaints", lang, n=f"{result.events:,}"),
          "snapshot": t("tot_balance", lang, amount=cny(result.amount, lang)),
          "placements": t("tot_placements", lang, amount=cny(result.amount, lang)),
          "agency_placements": t("tot_placements_held", lang, amount=cny(result.amount, lang)),
          "cases": t("tot_balance", lang, amount=cny(result.amount, lang))}
period = covers[0].isoformat() if covers[0] == covers[1] else f"{covers[0]} → {covers[1]}"
st.caption(f"{t('cases_total', lang, n=f'{result.total:,}')} · {totals[event_kind]} · {period}")
tb = table(result.rows, lang, pinned=("case_id",))
event = st.dataframe(tb.frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                     key="case_rows", column_config=tb.config)
if result.pages > 1:
    st.pagination(result.pages, key=CASE_PAGE, default=page_no)
limit = data.export_limit()
about = ((t("x_drill", lang), label or _describe(request, lang)),)
if result.total > limit:
    st.caption(f":material/warning: {t('export_limit', lang, n=f'{limit:,}', total=f'{result.total:,}')}")
    about += ((t("x_limit", lang), f"{limit:,}"),)
downloads(result.rows.clear(), CASE_FILES[event_kind], view, "cases",
          title=f"{t('pg_cases', lang)} · {t(f'ev_{event_kind}', lang)}", filters=f, period=covers,
          batches=data.export_cases(f, drill, reveal), reveal=reveal, about=about,
          detail={k: str(v) for k, v in args.items()})

selected = event.selection.rows if event else []
if selected:
    timeline_block(int(result.rows.get_column("case_id")[selected[0]]), f, view, reveal)
else:
    st.caption(t("open_case", lang))
