"""The viewer's actions in the audit log (queries.governance.audit): page views, drill-downs, timelines, exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from dashboard import data, session
from dashboard.i18n import t
from queries.filters import Filters, apply
from queries.governance.audit import (
    AuditError,
    filters_record,
    ready,
    record,
    record_denied,
)


def refuse(exc: AuditError) -> None:
    """Fail closed: what could not be audited is not shown (the reason is in the server log)."""
    st.error(f"{t('audit_failed', 'zh')}  \n{t('audit_failed', 'en')}", icon=":material/gpp_bad:")
    st.stop()


def gate() -> None:
    """Before a page is served: the audit log must be writable now, or the view is refused."""
    try:
        ready(data.settings().store_dir)
    except AuditError as exc:
        refuse(exc)


def write(*, user: str, role: str, action: str, page: str, filters: Filters | None = None,
          rows: int | None = None, detail: dict | None = None, store_dir: Path | None = None) -> None:
    """Append one entry (to the settings' store unless `store_dir`); when it cannot be written, the view is refused
    (fail closed)."""
    try:
        record(store_dir or data.settings().store_dir, user=user, role=role, action=action, page=page,
               filters=filters_record(filters), rows=rows, detail=detail)
    except AuditError as exc:
        refuse(exc)


def denied(refusal: session.Refusal, mode: str) -> None:
    """Record a refused viewer (unknown user or no identity), rate-limited against floods."""
    try:
        record_denied(data.settings().store_dir, refusal.user or "(none)", mode)
    except AuditError:
        pass  # the viewer is refused anyway; the failure is in the server log


def _fields(filters: Filters | None, detail: dict | None) -> dict:
    """The current viewer's part of an entry: user, role, the filters as narrowed by the scope, the detail."""
    ident = session.current()
    if ident is not None and filters is not None:
        filters = apply(ident.scope, filters)
    user, role_ = (ident.user, ident.role) if ident is not None else ("(none)", "none")
    detail = dict(detail or {})
    if ident is not None:
        detail.setdefault("mode", ident.mode)
    return {"user": user, "role": role_, "filters": filters, "detail": detail}


def _last() -> dict[str, tuple]:
    """action → the key of the session's last entry of that kind: a plain dict held by the session state, so that it
    is read and updated without it once the run has been stopped."""
    return st.session_state.setdefault(session.AUDIT_LAST, {})


def _key(page: str, filters: Filters | None, detail: dict | None) -> tuple:
    ident = session.current()
    return (ident.user if ident else None, ident.role if ident else None, page, filters,
            tuple(sorted((detail or {}).items())))


def _once(action: str, page: str, filters: Filters | None, detail: dict | None = None) -> Callable[[int | None], None]:
    """What records an action with its rows unless the same one (same page, filters and detail) was the session's
    last of its kind. Everything is read now: once a run is asked to stop (a closed tab, st.stop()), the session
    state refuses every access, so an entry read from it then was never written."""
    last, key, fields = _last(), _key(page, filters, detail), _fields(filters, detail)
    store_dir = data.settings().store_dir

    def done(rows: int | None) -> None:
        if last.get(action) == key:
            return
        write(action=action, page=page, rows=rows, store_dir=store_dir, **fields)
        last[action] = key  # once written: a run stopped before the entry leaves it to the next run

    return done


def audit_once(action: str, page: str, filters: Filters | None, rows: int | None, detail: dict | None = None) -> None:
    """Record an action unless the same one (same page, filters and detail) was the session's last of its kind."""
    _once(action, page, filters, detail)(rows)


def view_recorder(page: str, filters: Filters, rows: session.RunRows) -> Callable[[], None]:
    """What records the page view when its run ends, however it ends (once per page and filters): read before the
    page runs, with the rows it loads counted in place (the view of a tab closed as its page showed, or of a page
    ending in st.stop(), went unaudited when this was read at the end)."""
    done = _once("view", page, filters)
    return lambda: done(rows.n)


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
