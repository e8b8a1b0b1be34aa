"""Session state, once: every key the app keeps per browser session, the viewer's identity and scope, the view.

Identity comes from, in this order:

1. `st.login` / `st.user` (OIDC) when secrets have an `[auth]` section (needs `streamlit[auth]`);
2. a trusted reverse-proxy header named by CASES_AUTH_HEADER (e.g. `X-Forwarded-Email`). The proxy
   must authenticate the user, set this header itself and strip any copy a client sends, and the
   dashboard must be reachable only through that proxy; otherwise anyone can claim any identity;
3. demo mode: a role picker in the sidebar, labelled on every page. Refused when a real database is
   configured unless CASES_ALLOW_DEMO_MODE=1.

Signed-in users are looked up in the access file (queries.governance.access); an unknown user sees a polite
refusal and no data. The resulting Scope is kept in the session; dashboard.data reads it for every query.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard.format import code_text
from dashboard.i18n import t
from queries.filters import Filters, Scope
from queries.governance.access import ROLES, Access

# ---------------------------------------------------------------- every session-state key

IDENTITY = "_identity"  # the Identity resolved in this run (None when refused)
VIEW = "_view"  # the View the sidebar built in this run
URL_READ = "_url_read"  # set once the URL has filled the sidebar's widgets (cleared to read it again)
URL_NOTES = "_url_notes"  # notices about values in the link that were not valid
URL_FILTERS = "_url_filters"  # the filters the link asked for (a change clears the notices)
URL_SEEN = "_url_seen"  # the URL's filter and page parameters as this session last left them (Back changes them)
DRILL = "_drill"  # the last drill-down request made by a click (kept for its label)
PAGE = "_page"  # url path of the page being rendered (for the audit log)
EXPORTS = "_exports"  # key → dashboard.exports.Offer of every download offered in this run
ROWS = "_rows_loaded"  # the run's RunRows: rows loaded for its page (the page view's row count in the audit log)
DEMO_ROLE, DEMO_TEAMS = "demo_role", "demo_teams"  # the demo-mode pickers (widget keys)
AUDIT_LAST = "_audit_last"  # action → the last entry of that kind (not written twice in a row)
CASE_PAGE, CASE_REQUEST = "case_page", "_case_req"  # the cases page's paging and the request it pages
SCORECARD_AGENT = "scorecard_agent"  # the agent page's chosen scorecard agent (widget key)
PICK_LAST = "_last_"  # + source: the last agent picked from a click in that source
FILTER_PREFIX = "f_"  # + URL key: the sidebar's widget keys
BREACH_SEL = "_breach_sel"  # the compliance page's drill-down selection (check, day, team, agent, label)
BREACH_PAGE = "breach_page"  # the compliance page's breach-list page number (widget key)

DEFAULT_DEMO_ROLE = "manager"
log = logging.getLogger("collections.dashboard")
#: A scope that selects nothing: what a run without a resolved identity gets (fail closed).
NO_SCOPE = Scope(teams=frozenset(), role="none")


# ---------------------------------------------------------------- the view


@dataclass(frozen=True)
class View:
    """What every page reads: validated Filters, the language, the preset and the data-as-of day."""

    filters: Filters
    lang: str
    period: str
    as_of: dt.date
    notices: tuple[str, ...] = ()


def current_view() -> View:
    """The view the entry point built in this run (pages call this)."""
    return st.session_state[VIEW]


def current_page() -> str:
    """The url path of the page being rendered (for the audit log)."""
    return str(st.session_state.get(PAGE, "-"))


@dataclass
class RunRows:
    """Rows loaded for the page in one run, counted in place, so that they can be read when the run has been stopped
    (a closed tab): the session state refuses every access then."""

    n: int = 0


def begin_run(page: str) -> RunRows:
    """Start a page run: its path, no exports offered yet, no rows loaded yet (the counter returned)."""
    st.session_state[PAGE] = page
    st.session_state[EXPORTS] = {}
    rows = st.session_state[ROWS] = RunRows()
    return rows


def count_rows(n: int) -> None:
    """Add rows loaded for this run's page."""
    rows = st.session_state.get(ROWS)
    if isinstance(rows, RunRows):
        rows.n += n


# ---------------------------------------------------------------- who is looking


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


def header_values(headers: object, name: str) -> list[str]:
    """Every value of a request header (a header sent twice gives two)."""
    get_all = getattr(headers, "get_all", None)
    if get_all is not None:
        return list(get_all(name))
    value = headers.get(name) if hasattr(headers, "get") else None
    return [] if value is None else [value]


def resolve(user: str | None, mode: str, access: tuple[Access | None, str | None]) -> Identity | Refusal:
    """A signed-in user's identity from the access file (access, error), or why they see nothing."""
    user = (user or "").strip()
    if not user:
        return Refusal("no_identity")
    found, error = access
    if error:  # the details (which may name users) go to the server log, never to the viewer
        log.error("access file unusable: %s", error)
        return Refusal("access_broken")
    scope = found.scope_for(user) if found is not None else None
    if scope is None:
        return Refusal("unknown_user", user=user[:120])
    return Identity(user.lower(), scope, mode)


def _refuse(refusal: Refusal, mode: str, on_denied: Callable[[Refusal, str], None]) -> None:
    st.title("催收监控看板 · Collections supervisor dashboard")
    fields = {"user": code_text(refusal.user or ""), "err": code_text(refusal.err or "")}  # request values: inert
    st.error(f"{t(refusal.key, 'zh', **fields)}  \n{t(refusal.key, 'en', **fields)}", icon=":material/lock:")
    if mode == "oidc" and st.user.is_logged_in:
        st.button(f"{t('sign_out_btn', 'zh')} · {t('sign_out_btn', 'en')}", on_click=st.logout)
    if refusal.key in ("unknown_user", "no_identity", "identity_ambiguous"):
        on_denied(refusal, mode)
    st.stop()


def _demo_identity(all_teams: Callable[[], tuple[tuple[str, str], ...]], lang: str) -> Identity:
    """The role (and teams) picked in the sidebar, labelled in the page's language."""
    sb = st.sidebar
    ss = st.session_state
    if ss.get(DEMO_ROLE) not in ROLES:
        ss[DEMO_ROLE] = DEFAULT_DEMO_ROLE
    role = sb.selectbox(t("demo_role", lang), ROLES, key=DEMO_ROLE, format_func=lambda r: t("r_" + r, lang),
                        persist_state="session")
    teams = None
    if role == "team_lead":
        names = dict(all_teams())
        picked = [x for x in ss.get(DEMO_TEAMS, []) if x in names] or list(names)[:1]
        ss[DEMO_TEAMS] = picked
        teams = frozenset(sb.multiselect(t("demo_teams", lang), list(names),
                                         key=DEMO_TEAMS, format_func=lambda v: f"{v} · {names.get(v, '')}", persist_state="session"))
    return Identity(f"demo:{role}", Scope(teams=teams, role=role), "demo")


def identify(*, demo_allowed: bool, auth_header: str | None, access: Callable[[], tuple[Access | None, str | None]],
             all_teams: Callable[[], tuple[tuple[str, str], ...]], on_denied: Callable[[Refusal, str], None],
             demo_refusal: str = "demo_refused", lang: str = "zh") -> Identity:
    """Resolve the viewer for this run (drawing sign-in, pickers or a refusal); stops the run without one."""
    st.session_state[IDENTITY] = None
    if auth_configured():
        if not st.user.is_logged_in:
            st.title("催收监控看板 · Collections supervisor dashboard")
            st.info(f"{t('sign_in', 'zh')}  \n{t('sign_in', 'en')}", icon=":material/login:")
            st.button(f"{t('sign_in_btn', 'zh')} · {t('sign_in_btn', 'en')}", on_click=st.login, type="primary")
            st.stop()
        got, mode = resolve(st.user.get("email"), "oidc", access()), "oidc"
    elif auth_header is not None:
        values = header_values(st.context.headers, auth_header)
        mode = "header"
        # sent twice (or joined by a proxy with a comma): which copy the proxy set cannot be known — refuse
        got = Refusal("identity_ambiguous") if len(values) > 1 or any("," in v for v in values) else \
            resolve(values[0] if values else None, mode, access())
    elif demo_allowed:
        got, mode = _demo_identity(all_teams, lang), "demo"
    else:
        got, mode = Refusal(demo_refusal), "demo"
    if isinstance(got, Refusal):
        _refuse(got, mode, on_denied)
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
        sb.caption(f":material/person: {t('signed_in_as', lang)} {code_text(ident.user)} · {t('r_' + ident.role, lang)}"
                   f" · {t('scope_teams', lang)}: {teams}")
    if ident.mode == "oidc":
        sb.button(t("sign_out_btn", lang), on_click=st.logout, key="sign_out", type="tertiary")


def report_bug(lang: str) -> str:
    """Log the exception being handled with a new error id and tell the viewer that id; the id."""
    from queries.errors import error_id

    eid = error_id()
    log.exception("page failed, error id %s", eid)
    st.error(t("bug", lang, id=eid), icon=":material/error:")
    return eid


def demo_note(lang: str) -> None:
    """The visible demo-mode note (every page shows it through page_header)."""
    ident = current()
    if ident is not None and ident.mode == "demo":
        st.caption(f":orange-badge[:material/theater_comedy: {t('demo_mode', lang)}]")
