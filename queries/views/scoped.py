"""Everything the dashboard and `report` read, with the viewer's Scope applied first (the scoped facade).

Each function takes (store or engine, scope, filters, …) and narrows the filters to the scope with
queries.filters.apply before anything else, so a URL, a filter or a drill-down request can narrow a
view but never widen it: a team outside the scope selects nothing, never everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import replace

import polars as pl
import sqlalchemy as sa

from queries.compliance.rules import RulePack
from queries.filters import Filters, Scope, apply
from queries.metrics.registry import compute
from queries.store import Store
from queries.views import compliance as compliance_data
from queries.views import pages as pages_data
from queries.views.drilldown import (
    CasePage,
    Timeline,
    case_timeline,
    iter_cases,
    list_cases,
)

#: Page compositions callable through compose() (functions of queries.views.pages taking (store, filters, …)).
COMPOSITIONS = ("daily_series", "by_team", "by_bucket", "leaderboard", "funnel", "hourly_rpc",
                "open_complaints", "monthly", "by_channel_month", "roll_trend", "landing_backtest",
                "landing_backtest_total", "agency_vintages", "agency_scorecard",
                "agency_mature_month")
#: Compositions of the compliance page (functions of queries.views.compliance taking (store, filters, …)).
COMPLIANCE_VIEWS = ("breach_kpis", "breach_ranking", "complaints_deadline", "scorecard")
#: Drill-down arguments a request may carry (anything else is dropped, never passed on).
DRILL_ARGS = ("event", "day", "month", "snapshot_on", "from_bucket", "to_bucket", "category", "source",
              "months_since", "holder")


def scoped(scope: Scope, filters: Filters) -> Filters:
    """The filters narrowed to the scope (the one place the dashboard and report call apply)."""
    return apply(scope, filters)


def metric(store: Store, scope: Scope, key: str, filters: Filters, by: tuple[str, ...] = (),
           **options: object) -> pl.DataFrame:
    """One registry metric within the scope."""
    return compute(key, store, apply(scope, filters), tuple(by), **options)


def compose(store: Store, scope: Scope, name: str, filters: Filters, **options: object) -> pl.DataFrame:
    """One page composition of queries.views.pages within the scope."""
    if name not in COMPOSITIONS:
        raise ValueError(f"unknown page composition {name!r}")
    fn: Callable[..., pl.DataFrame] = getattr(pages_data, name)
    return fn(store, apply(scope, filters), **options)


def compliance(store: Store, scope: Scope, name: str, filters: Filters, **options: object) -> pl.DataFrame:
    """One composition of the compliance page (queries.views.compliance) within the scope."""
    if name not in COMPLIANCE_VIEWS:
        raise ValueError(f"unknown compliance composition {name!r}")
    fn: Callable[..., pl.DataFrame] = getattr(compliance_data, name)
    return fn(store, apply(scope, filters), **options)


def agencies(store: Store, scope: Scope, filters: Filters, pack: RulePack) -> pl.DataFrame:
    """Agency teams within the scope with their whitelisting and yearly evaluation at the period's end."""
    return compliance_data.agencies(store, apply(scope, filters), pack)


def breach_contacts(store: Store, engine: sa.Engine, scope: Scope, filters: Filters,
                    checks: tuple[str, ...] | None = None, page: int = 1, page_size: int = 50,
                    reveal_pii: bool = False) -> compliance_data.BreachPage:
    """One page of the breaching contacts behind a compliance figure, within the scope, masked unless allowed."""
    return compliance_data.breach_contacts(store, engine, scope, apply(scope, filters), checks, page=page,
                                           page_size=page_size, reveal_pii=reveal_pii)


def export_breach_contacts(store: Store, engine: sa.Engine, scope: Scope, filters: Filters,
                           checks: tuple[str, ...] | None = None, reveal_pii: bool = False,
                           limit: int | None = None) -> Iterator[pl.DataFrame]:
    """Every breaching contact behind a compliance figure (up to the export limit), within the scope, masked."""
    extra = {} if limit is None else {"limit": limit}
    return compliance_data.iter_breach_contacts(store, engine, scope, apply(scope, filters), checks,
                                                reveal_pii=reveal_pii, **extra)


def kpis(store: Store, scope: Scope, filters: Filters) -> dict:
    """The daily-recovery KPI values within the scope."""
    return pages_data.daily_kpis(store, apply(scope, filters))


def options(store: Store, scope: Scope) -> pages_data.Options:
    """Filter choices limited to the scope: only its teams and their agents are offered."""
    opts = pages_data.filter_options(store)
    if scope.teams is None:
        return opts
    return replace(opts, teams=tuple(t for t in opts.teams if t[0] in scope.teams),
                   agents=tuple(a for a in opts.agents if a[2] in scope.teams))


def all_teams(store: Store) -> tuple[tuple[str, str], ...]:
    """Every team (id, name): for the demo-mode team picker, which chooses a scope, not data."""
    return tuple(store.frame("teams").sort("team_id").select("team_id", "team_name").iter_rows())


def cases(engine: sa.Engine, scope: Scope, filters: Filters, drill: dict, page: int = 1, page_size: int = 50,
          reveal_pii: bool = False, store: Store | None = None) -> CasePage:
    """One page of the cases behind a drill-down request, within the scope, masked unless allowed (an agency
    figure's cases by the case ids the `store` keeps)."""
    args = {k: v for k, v in drill.items() if k in DRILL_ARGS and v is not None}
    return list_cases(engine, apply(scope, filters), page=page, page_size=page_size, reveal_pii=reveal_pii,
                      scope=scope, store=store, **args)


def export_cases(engine: sa.Engine, scope: Scope, filters: Filters, drill: dict, reveal_pii: bool = False,
                 limit: int | None = None, store: Store | None = None) -> Iterator[pl.DataFrame]:
    """Every case behind a drill-down request (up to the export limit), within the scope, masked like the page."""
    args = {k: v for k, v in drill.items() if k in DRILL_ARGS and v is not None}
    extra = {} if limit is None else {"limit": limit}
    return iter_cases(engine, apply(scope, filters), reveal_pii=reveal_pii, scope=scope, store=store, **args,
                      **extra)


def timeline(engine: sa.Engine, scope: Scope, case_id: int, filters: Filters | None = None,
             reveal_pii: bool = False) -> Timeline:
    """One case's timeline when the case is within the scope (else an empty one), masked unless allowed."""
    today = dt.date.today()
    f = apply(scope, filters or Filters(start=today, end=today))
    return case_timeline(engine, int(case_id), filters=f, reveal_pii=reveal_pii, scope=scope)


__all__ = ["COMPLIANCE_VIEWS", "COMPOSITIONS", "DRILL_ARGS", "agencies", "all_teams", "breach_contacts", "cases", "export_breach_contacts",
           "compliance", "compose", "export_cases", "kpis", "metric", "options",
           "scoped", "timeline"]
