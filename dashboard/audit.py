"""The viewer's actions in the audit log (queries.governance.audit): page views, drill-downs, timelines, exports."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import data, session
from dashboard.i18n import t
from queries.filters import Filters, apply
from queries.governance.audit import AuditError, record


def filters_record(f: Filters | None) -> dict:
    """The filters as ids and ISO dates for the audit log (no personal data in Filters)."""
    if f is None:
        return {}
    out: dict[str, object] = {"start": f.start.isoformat(), "end": f.end.isoformat()}
    for k in ("teams", "agents", "buckets", "products", "regions"):
        v = getattr(f, k)
        if v:
            out[k] = list(v[:50]) + (["…"] if len(v) > 50 else [])
    if f.channel:
        out["channel"] = f.channel
    return out


def write(*, user: str, role: str, action: str, page: str, filters: Filters | None = None,
          rows: int | None = None, detail: dict | None = None) -> None:
    """Append one entry; a failure is shown as a toast."""
    try:
        record(data.settings().store_dir, user=user, role=role, action=action, page=page,
               filters=filters_record(filters), rows=rows, detail=detail)
    except (OSError, AuditError) as exc:
        st.toast(t("audit_failed", "zh", err=str(exc)[:200]), icon=":material/error:")


def denied(refusal: session.Refusal, mode: str) -> None:
    """Record a refused viewer (unknown user or no identity)."""
    write(user=refusal.user or "(none)", role="none", action="denied", page="-", detail={"mode": mode})


def audit(action: str, page: str, filters: Filters | None = None, rows: int | None = None,
          detail: dict | None = None) -> None:
    """Record one action of the current viewer (who, when, page, filters as narrowed by the scope, rows)."""
    ident = session.current()
    if ident is not None and filters is not None:
        filters = apply(ident.scope, filters)
    user, role_ = (ident.user, ident.role) if ident is not None else ("(none)", "none")
    detail = dict(detail or {})
    if ident is not None:
        detail.setdefault("mode", ident.mode)
    write(user=user, role=role_, action=action, page=page, filters=filters, rows=rows, detail=detail)


def audit_once(action: str, page: str, filters: Filters | None, rows: int | None, detail: dict | None = None) -> None:
    """Record an action unless the same one (same page, filters and detail) was the session's last of its kind."""
    ident = session.current()
    key = (ident.user if ident else None, ident.role if ident else None, page, filters,
           tuple(sorted((detail or {}).items())))
    last = f"{session.AUDIT_LAST}{action}"
    if st.session_state.get(last) == key:
        return
    st.session_state[last] = key
    audit(action, page, filters, rows, detail)


def export_recorder(page: str, filters: Filters, detail: dict | None = None) -> Callable[[str, str, int], None]:
    """What records an export when its file is produced: who, page and filters are taken now (in the page run);
    the returned function, called by the file's builder in Streamlit's download thread (no session there),
    appends the entry with the file name, format and rows. It raises when the entry cannot be written, so no
    file leaves unrecorded."""
    ident = session.current()
    scoped = apply(ident.scope, filters) if ident is not None else filters
    user, role_ = (ident.user, ident.role) if ident is not None else ("(none)", "none")
    base = dict(detail or {}) | ({"mode": ident.mode} if ident is not None else {})
    store_dir = data.settings().store_dir

    def produced(file: str, fmt: str, rows: int) -> None:
        record(store_dir, user=user, role=role_, action="export", page=page, filters=filters_record(scoped),
               rows=rows, detail=base | {"file": file, "format": fmt})

    return produced
