"""Who is looking: identity (OIDC, trusted proxy header or demo mode), their role and scope, and the audit trail.

Identity comes from, in this order:

1. `st.login` / `st.user` (OIDC) when secrets have an `[auth]` section (needs `streamlit[auth]`);
2. a trusted reverse-proxy header named by CASES_AUTH_HEADER (e.g. `X-Forwarded-Email`). The proxy
   must authenticate the user, set this header itself and strip any copy a client sends, and the
   dashboard must be reachable only through that proxy; otherwise anyone can claim any identity;
3. demo mode: a role picker in the sidebar, labelled on every page. Refused when a real database is
   configured unless CASES_ALLOW_DEMO_MODE=1.

Signed-in users are looked up in the access file (queries.access); an unknown user sees a polite
refusal and no data. The resulting Scope is kept in the session; dashboard.data reads it for every query.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from dashboard import data
from dashboard.i18n import t
from queries.access import ROLES
from queries.audit import AuditError, record
from queries.filters import Filters, Scope, apply

IDENTITY = "_identity"
AUTH_HEADER_ENV = "CASES_AUTH_HEADER"
ALLOW_DEMO_ENV = "CASES_ALLOW_DEMO_MODE"
DEMO_ROLE, DEMO_TEAMS = "demo_role", "demo_teams"
DEFAULT_DEMO_ROLE = "manager"
#: A scope that selects nothing: what a run without a resolved identity gets (fail closed).
NO_SCOPE = Scope(teams=frozenset(), role="none")


@dataclass(frozen=True)
class Identity:
    """The viewer: user name (e-mail), scope (role and teams) and how they were identified."""

    user: str
    scope: Scope
    mode: str  # "oidc" | "header" | "demo"

    @property
    def role(self) -> str:
        """The viewer's role."""
        return self.scope.role


@dataclass(frozen=True)
class Refusal:
    """Why no data is shown: an i18n message key and its fields."""

    key: str
    user: str | None = None
    err: str | None = None


def auth_configured() -> bool:
    """True when secrets have an [auth] section (OIDC through st.login)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: not configured
        return False


def header_name() -> str | None:
    """The trusted identity header set by the reverse proxy (CASES_AUTH_HEADER), or None."""
    name = os.environ.get(AUTH_HEADER_ENV, "").strip()
    return name or None


def demo_allowed(is_demo_db: bool) -> bool:
    """Demo mode runs on the demo database, or on a real one only with CASES_ALLOW_DEMO_MODE=1."""
    return is_demo_db or os.environ.get(ALLOW_DEMO_ENV, "").strip().lower() in ("1", "true", "yes")


def resolve(user: str | None, mode: str) -> Identity | Refusal:
    """A signed-in user's identity from the access file, or why they see nothing (pure lookup)."""
    user = (user or "").strip()
    if not user:
        return Refusal("no_identity")
    access, error = data.access()
    if error:
        return Refusal("access_broken", err=error)
    scope = access.scope_for(user) if access is not None else None
    if scope is None:
        return Refusal("unknown_user", user=user[:120])
    return Identity(user.lower(), scope, mode)


def _refuse(refusal: Refusal, mode: str) -> None:
    st.title("催收监控看板 · Collections supervisor dashboard")
    fields = {"user": refusal.user or "", "err": refusal.err or ""}
    st.error(f"{t(refusal.key, 'zh', **fields)}  \n{t(refusal.key, 'en', **fields)}", icon=":material/lock:")
    if mode == "oidc" and st.user.is_logged_in:
        st.button(f"{t('sign_out_btn', 'zh')} · {t('sign_out_btn', 'en')}", on_click=st.logout)
    if refusal.key in ("unknown_user", "no_identity"):
        _write(user=refusal.user or "(none)", role="none", action="denied", page="-", detail={"mode": mode})
    st.stop()


def _demo_identity() -> Identity:
    """The role (and teams) picked in the sidebar."""
    sb = st.sidebar
    ss = st.session_state
    if ss.get(DEMO_ROLE) not in ROLES:
        ss[DEMO_ROLE] = DEFAULT_DEMO_ROLE
    role = sb.selectbox(f"{t('demo_role', 'zh')} · {t('demo_role', 'en')}", ROLES, key=DEMO_ROLE,
                        format_func=lambda r: f"{t('r_' + r, 'zh')} · {t('r_' + r, 'en')}")
    teams = None
    if role == "team_lead":
        names = dict(data.all_teams())
        picked = [x for x in ss.get(DEMO_TEAMS, []) if x in names] or list(names)[:1]
        ss[DEMO_TEAMS] = picked
        teams = frozenset(sb.multiselect(f"{t('demo_teams', 'zh')} · {t('demo_teams', 'en')}", list(names),
                                         key=DEMO_TEAMS, format_func=lambda v: f"{v} · {names.get(v, '')}"))
    return Identity(f"demo:{role}", Scope(teams=teams, role=role), "demo")


def identify(is_demo_db: bool) -> Identity:
    """Resolve the viewer for this run (drawing sign-in, pickers or a refusal); stops the run without one."""
    st.session_state[IDENTITY] = None
    if auth_configured():
        if not st.user.is_logged_in:
            st.title("催收监控看板 · Collections supervisor dashboard")
            st.info(f"{t('sign_in', 'zh')}  \n{t('sign_in', 'en')}", icon=":material/login:")
            st.button(f"{t('sign_in_btn', 'zh')} · {t('sign_in_btn', 'en')}", on_click=st.login, type="primary")
            st.stop()
        got, mode = resolve(st.user.get("email"), "oidc"), "oidc"
    elif (name := header_name()) is not None:
        got, mode = resolve(st.context.headers.get(name), "header"), "header"
    elif demo_allowed(is_demo_db):
        got, mode = _demo_identity(), "demo"
    else:
        got, mode = Refusal("demo_refused"), "demo"
    if isinstance(got, Refusal):
        _refuse(got, mode)
    st.session_state[IDENTITY] = got
    return got


def current() -> Identity | None:
    """The identity resolved in this run (None before identify, or when refused)."""
    return st.session_state.get(IDENTITY)


def scope() -> Scope:
    """The viewer's scope; a scope that selects nothing when no identity was resolved (fail closed)."""
    ident = current()
    return ident.scope if ident is not None else NO_SCOPE


def role() -> str:
    """The viewer's role ('none' without an identity)."""
    return scope().role


def identity_box(ident: Identity, lang: str) -> None:
    """Who is signed in, their role and teams, and a sign-out button (OIDC), at the foot of the sidebar."""
    sb = st.sidebar
    teams = ", ".join(sorted(ident.scope.teams)) if ident.scope.teams is not None else t("scope_all", lang)
    if ident.mode != "demo":
        sb.caption(f":material/person: {t('signed_in_as', lang)} **{ident.user}** · {t('r_' + ident.role, lang)}"
                   f" · {t('scope_teams', lang)}: {teams}")
    if ident.mode == "oidc":
        sb.button(t("sign_out_btn", lang), on_click=st.logout, key="sign_out", type="tertiary")


def demo_note(lang: str) -> None:
    """The visible demo-mode note (every page shows it through page_header)."""
    ident = current()
    if ident is not None and ident.mode == "demo":
        st.caption(f":orange-badge[:material/theater_comedy: {t('demo_mode', lang)}]")


# ---------------------------------------------------------------- audit


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


def _write(*, user: str, role: str, action: str, page: str, filters: Filters | None = None,
           rows: int | None = None, detail: dict | None = None) -> None:
    try:
        record(data.settings().store_dir, user=user, role=role, action=action, page=page,
               filters=filters_record(filters), rows=rows, detail=detail)
    except (OSError, AuditError) as exc:
        st.toast(t("audit_failed", "zh", err=str(exc)[:200]), icon=":material/error:")


def audit(action: str, page: str, filters: Filters | None = None, rows: int | None = None,
          detail: dict | None = None) -> None:
    """Record one action of the current viewer (who, when, page, filters as narrowed by the scope, rows)."""
    ident = current()
    if ident is not None and filters is not None:
        filters = apply(ident.scope, filters)
    user, role_ = (ident.user, ident.role) if ident is not None else ("(none)", "none")
    detail = dict(detail or {})
    if ident is not None:
        detail.setdefault("mode", ident.mode)
    _write(user=user, role=role_, action=action, page=page, filters=filters, rows=rows, detail=detail)


def audit_once(action: str, page: str, filters: Filters | None, rows: int | None, detail: dict | None = None) -> None:
    """Record an action unless the same one (same page, filters and detail) was the session's last of its kind."""
    ident = current()
    key = (ident.user if ident else None, ident.role if ident else None, page, filters,
           tuple(sorted((detail or {}).items())))
    last = f"_audit_last_{action}"
    if st.session_state.get(last) == key:
        return
    st.session_state[last] = key
    audit(action, page, filters, rows, detail)


def audit_export(page: str, name: str, fmt: str, filters: Filters, rows: int) -> None:
    """The download button's on_click callback: one 'export' entry per download."""
    audit("export", page, filters, rows, {"file": name, "format": fmt})
