"""The only module with st.cache_*: wraps queries.* for the pages."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TypeVar

import polars as pl
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import make_url

from dashboard import session
from dashboard.format import plain, plain_frame
from queries.compliance.rules import CONTACT_CHECKS as CONTACT_CHECKS  # noqa: PLC0414 - for the pages
from queries.compliance.rules import RulePack, active_pack
from queries.dates import DEFAULT_PRESET, preset_range
from queries.dates import previous_period as _previous_period
from queries.errors import (
    DashboardError,
    DataUnavailable,
    SourceError,
    SyncFailed,
    UserError,
    describe,
    sync_reason,
)
from queries.filters import FULL_SCOPE, Filters, Scope
from queries.governance import audit as audit_log
from queries.governance.access import Access, AccessError, load_access
from queries.metrics.registry import METRICS, Metric
from queries.metrics.registry import glossary as _glossary
from queries.settings import Settings, load_settings
from queries.source.engines import checked_url, read_only_engine
from queries.source.summary import database_summary as _database_summary
from queries.store import Store, StoreMissing
from queries.store.versions import LEASE_RENEW_S, current_name, lease
from queries.views import compliance as compliance_views
from queries.views import pages as pages_data
from queries.views import scoped as service
from queries.views.compliance import BreachPage
from queries.views.drilldown import (
    EXPORT_MAX_ROWS,
    CasePage,
    DrillDownError,
    Timeline,
    drill_period,
)

SOURCE_ERRORS = (SourceError, sa.exc.SQLAlchemyError, OSError)
log = logging.getLogger("collections.dashboard")
T = TypeVar("T")


@st.cache_resource
def settings() -> Settings:
    """Runtime settings, read once per server process."""
    return load_settings()


@st.cache_resource
def engine() -> sa.Engine:
    """The read-only engine on the case database."""
    return read_only_engine(settings().source_url)


@st.cache_resource(show_spinner=False, max_entries=32)
def settle(page: str) -> None:
    """Once per page and process, after its first run: move what is alive now out of the collector's sight.

    Streamlit runs a full garbage collection after every script run (runner.postScriptGC). With plotly, pandas,
    the store and the caches loaded, that walks ~200k long-lived objects: ~100 ms of GIL per view, half the
    server time of a cached page, and serialised across concurrent sessions. Freezing the long-lived objects
    keeps the per-run collection (it still frees each run's garbage) but makes it cost next to nothing.
    """
    gc.collect()
    gc.freeze()


def store_from_demo() -> bool:
    """True only when no database is configured AND the store was built from the embedded demo database.

    A store synced from a real database, served with CASES_DB_URL unset, is real data: never labelled as demo
    data, never open to the demo role picker."""
    s = settings()
    if not s.is_demo:
        return False
    state, _ = store_state()
    demo_url = make_url(s.source_url).render_as_string(hide_password=True)
    return state is not None and state.store.manifest.source == demo_url


def source_label() -> str:
    """The source URL without its password, for display (nothing of a URL that cannot be parsed safely)."""
    try:
        return checked_url(settings().source_url).render_as_string(hide_password=True)
    except SourceError:
        return "—"


@st.cache_data(ttl=300, show_spinner=False)
def database_summary() -> tuple[pl.DataFrame | None, str | None]:
    """Table row counts and date spans, or the reason they cannot be read."""
    try:
        return _database_summary(engine()), None
    except SOURCE_ERRORS as exc:
        return None, describe(exc)


# ---------------------------------------------------------------- the analytics store


@dataclass(frozen=True)
class StoreState:
    """The store the pages read, and the source error when the last sync attempt failed."""

    store: Store
    #: the last sync attempt failed: (reason, one line) — reason as queries.errors.SyncFailed has it
    sync_problem: tuple[str, str] | None = None
    #: set when the active store version was unreadable and an earlier one is served instead
    store_note: str | None = None
    #: when this state was made (time.monotonic()): it is made again once older than the store's max age
    made: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        # the compliance month views, made beside the first pages rather than on the compliance page's first view
        threading.Thread(target=self.store.warm, name="store-warm", daemon=True).start()

    @property
    def version(self) -> str:
        """Name of the store version: part of every cache key, so a new sync invalidates them."""
        return self.store.path.name


def _ensure_demo(s: Settings) -> None:
    if s.is_demo and not s.demo_db_path.exists():
        from queries.demo.embedded import ensure_demo_database

        ensure_demo_database(s)


@st.cache_resource(show_spinner="正在同步分析库 · Syncing the analytics store …")
def _store_state() -> StoreState:
    """Open the store once per process; sync first when it is missing or older than the max age.

    A corrupt active version is moved aside first and the newest readable one served (queries.store.recovery).
    """
    from queries.store.recovery import outdated, roll_back_if_corrupt
    from queries.sync.child import safe_sync_in_child

    s = settings()
    note = roll_back_if_corrupt(s.store_dir)
    try:
        current = Store.open(s.store_dir, cache_mb=s.store_cache_mb)
    except StoreMissing:
        current = None
    too_old = outdated(current) if current is not None else None  # written by an older dashboard
    if current is not None and not too_old and current.age_seconds() <= s.store_max_age_s:
        return StoreState(current, store_note=note)
    try:
        _ensure_demo(s)
        # in a child process: the dashboard keeps none of the sync's memory (a format change makes it a full rebuild)
        safe_sync_in_child(s, s.store_dir, full=False)
    except (DashboardError, *SOURCE_ERRORS) as exc:  # any failure: the last good store stays in service
        problem = (sync_reason(exc), describe(exc))
        log.warning("sync failed (%s): %s", *problem)
        if current is None or too_old:
            reason = problem[1] + (f"; {too_old}" if too_old else "")
            raise SyncFailed(problem[0], reason) from exc  # not cached: retried on the next run
        return StoreState(current, problem, note)
    return StoreState(Store.open(s.store_dir, cache_mb=s.store_cache_mb))


_HOLDER = f"{socket.gethostname()}-{os.getpid()}"
RECHECK_S = 30
_renewed: dict[str, float] = {}


def _current_state() -> StoreState:
    """The cached store state, made again when it is older than the store's max age (syncing when due) or when
    another process (a sync job, another replica) has swapped in a new version; its lease renewed every minute."""
    s = settings()
    state = _store_state()
    age = time.monotonic() - state.made
    # not more often than every RECHECK_S: a failed sync is not retried on every call of a page
    if age > max(s.store_max_age_s, RECHECK_S) or current_name(s.store_dir) not in (None, state.version):
        _store_state.clear()
        state = _store_state()
    now, held = time.monotonic(), f"{s.store_dir}/{state.version}"
    if now - _renewed.get(held, -1e9) > LEASE_RENEW_S:
        try:
            lease(s.store_dir, state.version, _HOLDER)
            _renewed.clear()
            _renewed[held] = now
        except OSError as exc:  # a read-only store: the version may go sooner, and we recover when it does
            log.warning("cannot renew the store lease: %s", exc)
    return state


def _vanished(exc: BaseException) -> bool:
    """True when a query failed because its store version's files are gone (another process pruned it)."""
    return isinstance(exc, FileNotFoundError) or (
        isinstance(exc, pl.exceptions.ComputeError | OSError) and "No such file" in str(exc))


def _recovering(fn: Callable[[], T]) -> T:
    """fn(), and once more on the current version if the version it read was removed meanwhile."""
    try:
        return fn()
    except Exception as exc:
        if not _vanished(exc):
            raise
        log.warning("store version gone while serving (%s); moving to the current one", exc)
        _store_state.clear()
        return fn()


def store_state() -> tuple[StoreState | None, str | None]:
    """The store state, or None and the reason no store can be served."""
    try:
        return _current_state(), None
    except (DashboardError, *SOURCE_ERRORS) as exc:
        return None, describe(exc)


def warm_up() -> str | None:
    """Open the store through this process's cache before any viewer comes (the server's warm-up: no session, no
    audit entry), and compute the landing page's figures once for the whole portfolio, uncached, so what they
    build per store version (store.memo) is ready; the version opened, or None when no store can be served yet."""
    state, _ = store_state()
    if state is None:
        return None
    _all_teams(state.version)
    if state.store.as_of is not None:
        f = Filters(*preset_range(DEFAULT_PRESET, state.store.as_of))
        service.kpis(state.store, FULL_SCOPE, f)  # results dropped: no viewer's cache entry is made here
        for name in ("daily_series", "by_team", "by_bucket"):
            service.compose(state.store, FULL_SCOPE, name, f)
    return state.version


def _store() -> Store:
    return _current_state().store


# ---------------------------------------------------------------- who may see what


@st.cache_data(ttl=60, show_spinner=False)
def access() -> tuple[Access | None, str | None]:
    """The access file (re-read every minute), None without one, or the reason it cannot be read."""
    path = settings().access_file
    if path is None:
        return None, None
    try:
        return load_access(path), None
    except AccessError as exc:
        return None, str(exc)


def _scope() -> Scope:
    """The viewer's scope from the session (a scope selecting nothing when there is no identity)."""
    return session.scope()


def _count(n: int) -> None:
    session.count_rows(n)


# ---------------------------------------------------------------- metrics and page compositions (scoped)


@dataclass(frozen=True)
class Result:
    """A metric frame, or the one-line reason it cannot be shown."""

    df: pl.DataFrame | None
    note: str | None = None
    #: the note in Chinese, when the reason has one (queries.errors.DataUnavailable.zh)
    note_zh: str | None = None

    def reason(self, lang: str) -> str | None:
        """The note in the page's language."""
        return self.note_zh if lang == "zh" and self.note_zh else self.note

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return self.df is None or self.df.height == 0


def _counted(r: Result) -> Result:
    _count(0 if r.df is None else r.df.height)
    return r


# The scope is part of every cache key below: one viewer's result never serves another's.


@st.cache_data(show_spinner=False, max_entries=4000)
def _metric(version: str, scope: Scope, key: str, filters: Filters, by: tuple[str, ...], options: tuple) -> Result:
    try:
        return Result(plain_frame(service.metric(_store(), scope, key, filters, by, **dict(options))))
    except (DataUnavailable, UserError) as exc:
        return Result(None, str(exc), getattr(exc, "zh", None))


def metric(key: str, filters: Filters, by: tuple[str, ...] = (), **options: object) -> Result:
    """One registry metric within the viewer's scope, cached on (store version, scope, metric, filters, by, options)."""
    return _counted(_recovering(lambda: _metric(_current_state().version, _scope(), key, filters, tuple(by),
                                                tuple(sorted(options.items())))))


@st.cache_data(show_spinner=False, max_entries=2000)
def _compose(version: str, scope: Scope, name: str, filters: Filters, options: tuple) -> Result:
    try:
        return Result(plain_frame(service.compose(_store(), scope, name, filters, **dict(options))))
    except (DataUnavailable, UserError) as exc:
        return Result(None, str(exc), getattr(exc, "zh", None))


def compose(name: str, filters: Filters, **options: object) -> Result:
    """A page composition from queries.views.pages within the viewer's scope, cached like metric()."""
    return _counted(_recovering(lambda: _compose(_current_state().version, _scope(), name, filters,
                                                 tuple(sorted(options.items())))))


def kpis(filters: Filters) -> dict:
    """The daily-recovery KPI values for the day filters.end and the same day last month (scoped)."""
    return _recovering(lambda: _kpis(_current_state().version, _scope(), filters))


@st.cache_data(show_spinner=False, max_entries=1000)
def _kpis(version: str, scope: Scope, filters: Filters) -> dict:
    return service.kpis(_store(), scope, filters)


def options() -> pages_data.Options:
    """Choices for the filter widgets, limited to the viewer's scope."""
    return _options(_current_state().version, _scope())


@st.cache_data(show_spinner=False, max_entries=64)
def _options(version: str, scope: Scope) -> pages_data.Options:
    opts = service.options(_store(), scope)
    return replace(opts, teams=tuple((tid, plain(name), ch) for tid, name, ch in opts.teams),
                   agents=tuple((aid, plain(name), tid) for aid, name, tid in opts.agents))


def all_teams() -> tuple[tuple[str, str], ...]:
    """Every team (id, name), for the demo-mode team picker only."""
    return _all_teams(_current_state().version)


@st.cache_data(show_spinner=False, max_entries=8)
def _all_teams(version: str) -> tuple[tuple[str, str], ...]:
    return tuple((tid, plain(name)) for tid, name in service.all_teams(_store()))


def glossary(lang: str, period: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    """Every registered metric with its definition, and for a compliance figure the rules of the pack in force that
    judged it in `period` (no caching needed: built from constants)."""
    return _glossary(lang, rule_pack()[0], period)


def metric_info(key: str) -> Metric:
    """The declaration of a registered metric (name, definition, unit)."""
    return METRICS[key]


def leaderboard_rows(board: pl.DataFrame, show: str, search: str) -> pl.DataFrame:
    """The leaderboard rows to display (top/bottom N or all, matching the search)."""
    return pages_data.leaderboard_rows(board, show, search, pages_data.LEADERBOARD_TOP)


LEADERBOARD_SHOWS = pages_data.LEADERBOARD_SHOWS


def leaderboard_top() -> int:
    """How many agents the leaderboard shows by default in a large centre."""
    return pages_data.LEADERBOARD_TOP


def leaderboard_fits() -> int:
    """The most agents the leaderboard shows whole by default."""
    return pages_data.LEADERBOARD_FITS


def coaching_columns() -> tuple[str, ...]:
    """The leaderboard columns flagged below the agent's team median."""
    return pages_data.COACHING


def min_hour_attempts() -> int:
    """Attempts below which the RPC-by-hour heatmap greys a cell."""
    return pages_data.MIN_HOUR_ATTEMPTS


def trend_window(filters: Filters) -> Filters:
    """The period widened to the 13 whole months the trend page shows."""
    return pages_data.trend_window(filters)


def snapshot_window(filters: Filters, snapshot: dt.date) -> Filters:
    """The 12 month-end snapshots up to `snapshot` (roll and cure trends)."""
    return pages_data.snapshot_window(filters, snapshot)


# ---------------------------------------------------------------- the audit log (compliance only)


def audit_problems() -> list[str]:
    """Where the audit log's hash chain breaks (empty when intact)."""
    return audit_log.verify(settings().store_dir)


def audit_entries(start: dt.date, end: dt.date) -> pl.DataFrame:
    """Audit entries between two dates, newest first."""
    return audit_log.read(settings().store_dir, start, end)


AUDIT_ACTIONS = audit_log.ACTIONS


# ---------------------------------------------------------------- drill-down on the case database (scoped)


def cases(filters: Filters, drill: tuple, page: int, page_size: int = 50,
          reveal: bool = False) -> tuple[CasePage | None, str | None]:
    """One page of the cases behind a selection within the viewer's scope (masked unless revealed), or why not."""
    try:
        # the store version is part of the key of a list read from the store
        result, error = _recovering(lambda: _cases(_current_state().version if _from_store(drill) else "", _scope(),
                                                   filters, drill, page, page_size, reveal))
    except SOURCE_ERRORS as exc:  # raised, so not cached: the list works again as soon as the database is back
        return None, describe(exc)
    if result is not None:
        _count(result.rows.height)
    return result, error


def _from_store(drill: tuple) -> bool:
    """True for a list the store answers: an agency figure's cases are the ids the store version keeps."""
    return dict(drill).get("event") == "agency_placements"


@st.cache_data(ttl=120, show_spinner=False, max_entries=500)
def _cases(version: str, scope: Scope, filters: Filters, drill: tuple, page: int, page_size: int,
           reveal: bool) -> tuple[CasePage | None, str | None]:
    try:
        page_ = service.cases(engine(), scope, filters, dict(drill), page=page, page_size=page_size,
                              reveal_pii=reveal, store=_store() if version else None)
        return replace(page_, rows=plain_frame(page_.rows)), None
    except DrillDownError as exc:  # a request that cannot be answered: the same answer every time
        return None, str(exc)


def export_cases(filters: Filters, drill: tuple, reveal: bool = False) -> Callable[[], Iterator[pl.DataFrame]]:
    """Every case behind a selection (up to the export limit), for a download: the batches are read from the
    case database only when the file is built, with the engine and the scope of this run."""
    eng, scope = engine(), _scope()
    store = _store() if _from_store(drill) else None
    return lambda: (plain_frame(b) for b in service.export_cases(eng, scope, filters, dict(drill), reveal_pii=reveal,
                                                                 store=store))


def drill_dates(filters: Filters, day: dt.date | None, month: dt.date | None) -> tuple[dt.date, dt.date]:
    """The dates a drill-down list covers: the clicked day or month, replacing the period (drill_period)."""
    return drill_period(filters, day, month)


def export_limit() -> int:
    """The most rows a case-list export holds."""
    return EXPORT_MAX_ROWS


def timeline(case_id: int, filters: Filters, reveal: bool = False) -> tuple[Timeline | None, str | None]:
    """A case's header and events within the viewer's scope (masked unless revealed), or why not."""
    try:
        return _timeline(_scope(), int(case_id), filters, reveal), None
    except SOURCE_ERRORS as exc:  # not cached
        return None, describe(exc)


@st.cache_data(ttl=120, show_spinner=False, max_entries=500)
def _timeline(scope: Scope, case_id: int, filters: Filters, reveal: bool) -> Timeline:
    tl = service.timeline(engine(), scope, case_id, filters, reveal_pii=reveal)
    head = None if tl.case is None else {k: plain(v) if isinstance(v, str) else v for k, v in tl.case.items()}
    return replace(tl, case=head, events=plain_frame(tl.events))


# ---------------------------------------------------------------- compliance (rule pack, figures, breach drill-down)


@st.cache_data(ttl=60, show_spinner=False)
def rule_pack() -> tuple[RulePack, str | None]:
    """The rule pack in force (re-read every minute) and, when the house rule files are bad, the one line why
    (the previous valid pack then stays in force)."""
    return active_pack(settings().rules_dir)


@st.cache_data(show_spinner=False, max_entries=1000)
def _compliance(version: str, scope: Scope, name: str, filters: Filters, options: tuple) -> Result:
    try:
        return Result(plain_frame(service.compliance(_store(), scope, name, filters, **dict(options))))
    except (DataUnavailable, UserError) as exc:
        return Result(None, str(exc), getattr(exc, "zh", None))


def compliance(name: str, filters: Filters, **options: object) -> Result:
    """A compliance-page composition (queries.views.compliance) within the viewer's scope, cached like metric()."""
    return _counted(_recovering(lambda: _compliance(_current_state().version, _scope(), name, filters,
                                                    tuple(sorted(options.items())))))


@st.cache_data(show_spinner=False, max_entries=200)
def _agencies(version: str, scope: Scope, filters: Filters, pack_version: str, _pack: RulePack) -> Result:
    try:
        return Result(plain_frame(service.agencies(_store(), scope, filters, _pack)))
    except (DataUnavailable, UserError) as exc:
        return Result(None, str(exc), getattr(exc, "zh", None))


def agencies(filters: Filters) -> Result:
    """Agency teams within the viewer's scope with their whitelisting and evaluation status."""
    pack, _ = rule_pack()
    return _counted(_recovering(lambda: _agencies(_current_state().version, _scope(), filters, pack.version, pack)))


def previous_period(filters: Filters) -> tuple[dt.date, dt.date]:
    """The period of equal length just before the filters' (what the KPI cards compare with)."""
    return _previous_period(filters.start, filters.end)


def caps(day: dt.date) -> dict[str, int]:
    """The call caps in force on `day` (unanswered per phone-day, connected per case-day)."""
    return compliance_views.caps(rule_pack()[0], day)


def weights(day: dt.date) -> tuple[tuple[str, float], ...]:
    """The scorecard's weights (recovery, breaches, complaints) in force on `day`, as a cache-key friendly tuple."""
    return tuple(rule_pack()[0].scorecard_weights(day).items())


def rule_names(lang: str) -> dict[str, str]:
    """Every rule id → "title · article (version)" in `lang`."""
    return compliance_views.rule_label_of(rule_pack()[0], lang)


def rules_table(lang: str) -> pl.DataFrame:
    """Every rule of the pack in force, for the glossary."""
    return plain_frame(compliance_views.rules_frame(rule_pack()[0], lang))


def skipped_rows() -> dict[str, int]:
    """Rows the compliance checks skipped for an unexpected optional value, by column."""
    return compliance_views.skipped(_current_state().store)


def export_breaches(filters: Filters, checks: tuple[str, ...], reveal: bool = False
                    ) -> Callable[[], Iterator[pl.DataFrame]]:
    """Every breaching contact behind a selection (up to the export limit), for a download: read when the file is
    built, with the store, engine and scope of this run."""
    store, eng, scope = _current_state().store, engine(), _scope()
    return lambda: (plain_frame(b) for b in service.export_breach_contacts(store, eng, scope, filters, checks or None,
                                                                         reveal_pii=reveal, limit=EXPORT_MAX_ROWS))


def missing_checks() -> dict[str, tuple[str, ...]]:
    """Checks the source cannot support → the optional contract parts it lacks."""
    return compliance_views.missing_parts(_current_state().store)


def store_pack() -> str | None:
    """The fingerprint of the rule pack the store's figures were judged with."""
    return (_current_state().store.manifest.get("compliance") or {}).get("pack")


def breach_contacts(filters: Filters, checks: tuple[str, ...], page: int, page_size: int = 50,
                    reveal: bool = False) -> tuple[BreachPage | None, str | None]:
    """One page of the breaching contacts behind a figure within the viewer's scope (masked unless revealed), or
    why not."""
    try:
        result = _recovering(lambda: _breach_contacts(_current_state().version, _scope(), filters, checks, page,
                                                      page_size, reveal))
    except SOURCE_ERRORS as exc:  # not cached: the list works again as soon as the database is back
        return None, describe(exc)
    except (ValueError, UserError) as exc:
        return None, str(exc)
    _count(result.rows.height)
    return result, None


@st.cache_data(ttl=120, show_spinner=False, max_entries=500)
def _breach_contacts(version: str, scope: Scope, filters: Filters, checks: tuple[str, ...], page: int,
                     page_size: int, reveal: bool) -> BreachPage:
    res = service.breach_contacts(_store(), engine(), scope, filters, checks or None, page=page, page_size=page_size,
                                  reveal_pii=reveal)
    return replace(res, rows=plain_frame(res.rows))
