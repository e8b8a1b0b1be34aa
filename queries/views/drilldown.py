"""The cases behind a number: small, paginated, scoped queries on the case database by indexed keys.

Every list applies the viewer's Scope first (queries.filters.apply), attributes events as docs/design.md §4
does (agent on the row → team; case → product, region; opening bucket of the event's month), and
masks personal data unless the viewer may see it (queries.governance.masking).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from queries.buckets import CLOSED, DEFAULT_BUCKETS, BucketBounds
from queries.dates import month_end, month_start, month_starts
from queries.errors import UserError
from queries.filters import FULL_SCOPE, Filters, Scope, apply
from queries.governance.masking import mask_frame, may_reveal
from queries.metrics.agency import placement_filter
from queries.metrics.contact import ATTEMPT_CHANNELS
from queries.source import contract as S
from queries.store import Store

EVENTS = ("cases", "payments", "contacts", "promises", "complaints", "snapshot", "placements", "agency_placements")
MAX_PAGE_SIZE = 500
#: The most rows a case-list export holds (the cases page says so when a selection has more).
EXPORT_MAX_ROWS = 200_000
#: Rows fetched from the case database at a time while an export streams.
EXPORT_BATCH = 10_000
CASE_COLUMNS = ("case_id", "customer_name", "phone", "account_no", "product", "region", "status",
                "current_dpd", "current_balance", "agent_id")


class DrillDownError(UserError):
    """A drill-down request that cannot be answered; the message is one line for the user."""


@dataclass(frozen=True)
class CasePage:
    """One page of cases: rows (masked as the viewer requires), total matching cases, paging, and the totals of
    every matching case's events and amount (what the clicked figure counts or sums)."""

    rows: pl.DataFrame
    total: int
    page: int
    page_size: int
    events: int = 0
    amount: float = 0.0

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Timeline:
    """One case's header (None when not visible to the viewer) and its events, newest first."""

    case: dict | None
    events: pl.DataFrame


def _visible_agents(conn: sa.Connection, f: Filters) -> list[str] | None:
    """Agent ids the team, agent and channel filters allow; None when they restrict nothing."""
    if not (f.teams or f.agents or f.channel):
        return None
    q = sa.select(S.agents.c.agent_id).join(S.teams, S.teams.c.team_id == S.agents.c.team_id)
    if f.teams:
        q = q.where(S.agents.c.team_id.in_(f.teams))
    if f.agents:
        q = q.where(S.agents.c.agent_id.in_(f.agents))
    if f.channel:
        q = q.where(S.teams.c.channel == f.channel)
    return list(conn.execute(q).scalars())


def drill_period(f: Filters, day: dt.date | None = None, month: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The dates a clicked mark covers: its day, or its month (up to the period's end when that falls inside the
    month, as the trend charts' last month does); without either, the period. A click's day or month replaces the
    period, it is not intersected with it: a month clicked on a 13-month trend lies outside a month-to-date period.
    """
    if day is not None:
        return day, day
    if month is not None:
        m0 = month_start(month)
        last = month_end(m0)
        return m0, f.end if m0 <= f.end < last else last
    return f.start, f.end


def _event_spec(event: str) -> tuple[sa.Table, sa.Column, list[sa.ColumnElement]]:
    """Table, the column that dates an event, and extra conditions for each event kind."""
    if event == "payments":
        return S.payments, S.payments.c.paid_at, []
    if event == "contacts":
        return S.contacts, S.contacts.c.contacted_at, [S.contacts.c.channel.in_(ATTEMPT_CHANNELS)]
    if event == "promises":
        return S.promises, S.promises.c.due_on, []
    return S.complaints, S.complaints.c.received_at, []


def _event_rows(event: str, f: Filters, agents: list[str] | None, start: dt.date, end: dt.date,
                category: str | None, source: str | None, bounds: BucketBounds) -> sa.Select:
    """(case_id, amount) of every matching event; one branch per month for the opening bucket."""
    table, when, extra = _event_spec(event)
    amount = table.c.amount if "amount" in table.c else sa.literal(0)
    branches = []
    m = month_start(start)
    while m <= end:
        lo, hi = max(start, m), min(end, month_start(m, 1) - dt.timedelta(days=1))
        is_date = isinstance(when.type, sa.Date)
        conds = [when >= lo, when <= hi] if is_date else [
            when >= dt.datetime.combine(lo, dt.time()), when < dt.datetime.combine(hi + dt.timedelta(days=1), dt.time())]
        conds += extra
        if agents is not None:
            conds.append(table.c.agent_id.in_(agents))
        if event == "complaints" and category:
            conds.append(table.c.category == category)
        if event == "complaints" and source:
            conds.append(table.c.source == source)
        q = sa.select(table.c.case_id.label("case_id"), amount.label("amount")).select_from(table)
        if f.products or f.regions or f.buckets:
            q = q.join(S.cases, S.cases.c.case_id == table.c.case_id)
            if f.products:
                conds.append(S.cases.c.product.in_(f.products))
            if f.regions:
                conds.append(S.cases.c.region.in_(f.regions))
        if f.buckets:
            snap = S.balance_snapshots.alias("opening")
            q = q.outerjoin(snap, sa.and_(snap.c.case_id == table.c.case_id,
                                          snap.c.snapshot_on == m - dt.timedelta(days=1)))
            placed_here = sa.and_(S.cases.c.placed_on >= m, S.cases.c.placed_on < month_start(m, 1))
            opening_dpd = sa.case((snap.c.case_id.is_not(None), snap.c.dpd),
                                  (placed_here, S.cases.c.placed_dpd), else_=None)
            conds.append(bounds.sql_any(opening_dpd, f.buckets))
        branches.append(q.where(*conds))
        m = month_start(m, 1)
    if not branches:
        return sa.select(sa.literal(0).label("case_id"), sa.literal(0).label("amount")).where(sa.false())
    return branches[0] if len(branches) == 1 else sa.union_all(*branches)


def _snapshot_rows(conn: sa.Connection, f: Filters, agents: list[str] | None, snapshot_on: dt.date,
                   from_bucket: str | None, to_bucket: str | None, bounds: BucketBounds) -> sa.Select:
    """Cases in a snapshot (optionally a bucket), or rolled from `from_bucket` at the previous one."""
    snap = S.balance_snapshots
    if to_bucket is None and from_bucket is None and not f.buckets:
        q = sa.select(snap.c.case_id, snap.c.balance.label("amount")).where(snap.c.snapshot_on == snapshot_on)
        src = snap
    else:
        prev_on = conn.execute(sa.select(sa.func.max(snap.c.snapshot_on))
                               .where(snap.c.snapshot_on < snapshot_on)).scalar_one()
        if from_bucket is not None and prev_on is None:
            raise DrillDownError(f"no snapshot before {snapshot_on}: roll rates need two snapshots")
        if from_bucket is None:
            q = sa.select(snap.c.case_id, snap.c.balance.label("amount")).where(
                snap.c.snapshot_on == snapshot_on, bounds.sql_any(snap.c.dpd, f.buckets or (to_bucket,)))
            src = snap
        else:
            prev, cur = snap.alias("prev"), snap.alias("cur")
            q = (sa.select(prev.c.case_id, prev.c.balance.label("amount"))
                 .outerjoin(cur, sa.and_(cur.c.case_id == prev.c.case_id, cur.c.snapshot_on == snapshot_on))
                 .where(prev.c.snapshot_on == prev_on, bounds.sql(prev.c.dpd, from_bucket)))
            if to_bucket == CLOSED:
                q = q.where(sa.or_(cur.c.case_id.is_(None), cur.c.balance == 0))
            elif to_bucket is not None:
                q = q.where(cur.c.balance > 0, bounds.sql(cur.c.dpd, to_bucket))
            src = prev
    if agents is not None:
        q = q.where(src.c.agent_id.in_(agents))
    if f.products or f.regions:
        q = q.join(S.cases, S.cases.c.case_id == src.c.case_id)
        if f.products:
            q = q.where(S.cases.c.product.in_(f.products))
        if f.regions:
            q = q.where(S.cases.c.region.in_(f.regions))
    return q


def _on_cases(q: sa.Select, f: Filters, agents: list[str] | None, dpd: sa.Column, bounds: BucketBounds) -> sa.Select:
    """`q` narrowed by the cases' own columns: their agent, product, region and the bucket of `dpd`."""
    c = S.cases
    if agents is not None:
        q = q.where(c.c.agent_id.in_(agents))
    if f.products:
        q = q.where(c.c.product.in_(f.products))
    if f.regions:
        q = q.where(c.c.region.in_(f.regions))
    if f.buckets:
        q = q.where(bounds.sql_any(dpd, f.buckets))
    return q


def _assigned_rows(f: Filters, agents: list[str] | None, bounds: BucketBounds) -> sa.Select:
    """Cases currently assigned to the selected agents, with their current balance."""
    c = S.cases
    q = sa.select(c.c.case_id, c.c.current_balance.label("amount")).where(c.c.status == "active")
    return _on_cases(q, f, agents, c.c.current_dpd, bounds)


def _placement_cases(f: Filters, agents: list[str] | None, month: dt.date | None, months_since: int | None,
                     bounds: BucketBounds) -> sa.Select:
    """Cases placed in a month (the liquidation curve's denominator), each with its payments from placement
    through `months_since` months after it (the numerator): (case_id, events, amount), one row per case.

    Attributed as the liquidation metric is: the case's agent, its placed bucket, its product and region.
    """
    if month is None:
        raise DrillDownError("a placements drill-down needs the placement month")
    c, p = S.cases, S.payments
    m0 = month_start(month)
    upto = month_start(m0, (months_since if months_since is not None else 1200) + 1)
    window = sa.and_(p.c.case_id == c.c.case_id, p.c.paid_at >= dt.datetime.combine(m0, dt.time()),
                     p.c.paid_at < dt.datetime.combine(upto, dt.time()))
    q = (sa.select(c.c.case_id.label("case_id"), sa.func.count(p.c.payment_id).label("events"),
                   sa.func.coalesce(sa.func.sum(p.c.amount), 0).label("amount"))
         .select_from(c).outerjoin(p, window)
         .where(c.c.placed_on >= m0, c.c.placed_on < month_start(m0, 1)).group_by(c.c.case_id))
    return _on_cases(q, f, agents, c.c.placed_dpd, bounds)


def _month_end(conn: sa.Connection, m: dt.date) -> dt.date | None:
    """The last snapshot day of month m in the source (None when the month has none): one index seek."""
    b = S.balance_snapshots.c
    got = conn.execute(sa.select(sa.func.max(b.snapshot_on)).where(
        b.snapshot_on >= m, b.snapshot_on < month_start(m, 1))).scalar_one()
    return None if got is None else got if isinstance(got, dt.date) else dt.date.fromisoformat(str(got)[:10])


def _held(holder: str, day: dt.date, case_id: sa.ColumnElement) -> sa.Exists:
    """Whether the case's snapshot of `day` puts it with `holder` (an agency's name or an in-house team's id, as
    queries.metrics.agency tells them)."""
    b, a, t = S.balance_snapshots.alias("hb"), S.agents.alias("ha"), S.teams.alias("ht")
    who = sa.case((t.c.channel == "agency", sa.func.coalesce(t.c.agency_name, t.c.team_id)), else_=t.c.team_id)
    return (sa.select(b.c.case_id).join(a, a.c.agent_id == b.c.agent_id).join(t, t.c.team_id == a.c.team_id)
            .where(b.c.case_id == case_id, b.c.snapshot_on == day, who == holder).exists())


def _const(conn: sa.Connection, value: dt.date, type_: sa.types.TypeEngine) -> sa.ColumnElement:
    """A date or timestamp constant in a select list: typed by a CAST on the servers (a bare parameter there is
    text), as the bound text on SQLite (whose CAST to DATETIME would make it a number)."""
    lit = sa.literal(value, type_)
    return lit if conn.dialect.name == "sqlite" else sa.cast(lit, type_)


def _agency_month(conn: sa.Connection, f: Filters, agents: list[str] | None, m0: dt.date, holder: str,
                  months_since: int | None, bounds: BucketBounds) -> sa.Select | None:
    """(case_id, events, amount) of the cases placed with `holder` in month m0 (None when none can be)."""
    end0 = _month_end(conn, m0)
    if end0 is None:
        return None
    prev = _month_end(conn, month_start(m0, -1))
    b, a, t, p = S.balance_snapshots, S.agents, S.teams, S.payments
    who = sa.case((t.c.channel == "agency", sa.func.coalesce(t.c.agency_name, t.c.team_id)), else_=t.c.team_id)
    placed = (sa.select(b.c.case_id).join(a, a.c.agent_id == b.c.agent_id).join(t, t.c.team_id == a.c.team_id)
              .where(b.c.snapshot_on == end0, who == holder))
    if prev is not None:
        placed = placed.where(~_held(holder, prev, b.c.case_id))
    if agents is not None:
        placed = placed.where(a.c.team_id.in_(sa.select(S.agents.c.team_id).where(S.agents.c.agent_id.in_(agents))))
    if f.buckets:
        placed = placed.where(bounds.sql_any(b.c.dpd, f.buckets))
    placed = placed.subquery(f"placed_{m0:%Y%m}")
    # the payment months 1…months_since after placement, each with the month-end before it (held at that day)
    ends, held_day, k = [], end0, 1
    while held_day is not None and (months_since is None or k <= int(months_since)):
        lo, hi = month_start(m0, k), month_start(m0, k + 1)
        ends.append(sa.select(_const(conn, dt.datetime.combine(lo, dt.time()), sa.DateTime()).label("lo"),
                              _const(conn, dt.datetime.combine(hi, dt.time()), sa.DateTime()).label("hi"),
                              _const(conn, held_day, sa.Date()).label("d")))
        held_day, k = _month_end(conn, lo), k + 1
    if not ends:
        return sa.select(placed.c.case_id.label("case_id"), sa.literal(0).label("events"),
                         sa.literal(0).label("amount"))
    e = (sa.union_all(*ends) if len(ends) > 1 else ends[0]).subquery(f"ends_{m0:%Y%m}")
    hb, ha, ht = S.balance_snapshots.alias("hb"), S.agents.alias("ha"), S.teams.alias("ht")
    held_by = sa.case((ht.c.channel == "agency", sa.func.coalesce(ht.c.agency_name, ht.c.team_id)),
                      else_=ht.c.team_id)
    pay = (sa.select(p.c.case_id, p.c.payment_id, p.c.amount)
           .join(e, sa.and_(p.c.paid_at >= e.c.lo, p.c.paid_at < e.c.hi))
           .join(hb, sa.and_(hb.c.case_id == p.c.case_id, hb.c.snapshot_on == e.c.d))
           .join(ha, ha.c.agent_id == hb.c.agent_id).join(ht, ht.c.team_id == ha.c.team_id)
           .where(held_by == holder, p.c.case_id.in_(sa.select(placed.c.case_id)))).subquery(f"pay_{m0:%Y%m}")
    return (sa.select(placed.c.case_id.label("case_id"), sa.func.count(pay.c.payment_id).label("events"),
                      sa.func.coalesce(sa.func.sum(pay.c.amount), 0).label("amount"))
            .select_from(placed).outerjoin(pay, pay.c.case_id == placed.c.case_id).group_by(placed.c.case_id))


def _agency_placement_cases(conn: sa.Connection, f: Filters, agents: list[str] | None, month: dt.date | None,
                            holder: str | None, months_since: int | None, bounds: BucketBounds) -> sa.Select | None:
    """Cases placed with a holder in a month (or in every month of the filters' period) — the agency vintages'
    cases (queries.metrics.agency): the month-end snapshot of the month puts the case with the holder and the
    previous month's does not (none in the first snapshot month) — each with its payments in the 1…`months_since`
    months after placement (all to date when None) made while the case was with the holder at the previous
    month-end (the figure's numerator; a case that leaves and comes back also shows its payments after the
    return). Team filters select by the placing team, buckets by the bucket at placement, as the metric does.
    None when nothing can match."""
    if not holder:
        raise DrillDownError("an agency placements drill-down needs the agency or team")
    first = conn.execute(sa.select(sa.func.min(S.balance_snapshots.c.snapshot_on))).scalar_one()
    if first is None:
        return None
    first_month = month_start(dt.date.fromisoformat(str(first)[:10]))
    months = [month_start(month)] if month is not None else month_starts(f.start, f.end)
    parts = [q for m in months if m > first_month
             and (q := _agency_month(conn, f, agents, m, holder, months_since, bounds)) is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    u = sa.union_all(*parts).subquery("months")
    return sa.select(u.c.case_id, sa.func.sum(u.c.events).label("events"),
                     sa.func.sum(u.c.amount).label("amount")).group_by(u.c.case_id)


def _agency_store_cases(store: Store, f: Filters, month: dt.date | None, holder: str | None,
                        months_since: int | None) -> pl.DataFrame:
    """(case_id, events, amount) of the cases behind an agency figure, from the placements the sync keeps
    (agency_placements, agency_case_paid): one row per case, its payments while held summed over its placements
    in the months asked (the figure's numerator), largest amount first. The selection is the figure's: the
    placing team among the visible agents' teams, the bucket at placement."""
    if not holder:
        raise DrillDownError("an agency placements drill-down needs the agency or team")
    if month is not None:
        f = f.with_dates(month_start(month), month_end(month_start(month)))
    keep = [pl.col("holder") == holder, *placement_filter(store, f)]  # holder, months, then teams and buckets
    placed = store.scan("agency_placements").filter(*keep).select("case_id", "start")
    # payments while held fall in the months after placement: the payment-month files from the first placement on
    paid = store.scan("agency_case_paid", start=f.start).filter(keep[0], keep[1])
    if months_since is not None:
        paid = paid.filter(pl.col("months_since") <= int(months_since))
    per = placed.join(paid.select("case_id", "start", "n", "cents"), on=["case_id", "start"], how="left")
    return (per.group_by("case_id").agg(pl.col("n").sum().cast(pl.Int64).alias("events"),
                                        pl.col("cents").sum().alias("cents"))
            .sort(["cents", "case_id"], descending=[True, False]).collect())


def _case_rows(conn: sa.Connection, per_case: pl.DataFrame) -> pl.DataFrame:
    """The case columns of the listed cases (by case_id, the indexed key), in the list's order, with events and
    amount; cases the case database does not have are left out, as the joined lists leave them."""
    c = S.cases
    if per_case.height == 0:
        return _empty_rows()
    ids = per_case.get_column("case_id").to_list()
    rows = conn.execute(sa.select(*[c.c[n] for n in CASE_COLUMNS]).where(c.c.case_id.in_(ids))).all()
    rows = _cast(pl.DataFrame([tuple(r) for r in rows], schema=[*CASE_COLUMNS], orient="row",
                              infer_schema_length=None).with_columns(pl.lit(0).alias("events")))
    amounts = per_case.select("case_id", "events", (pl.col("cents") / 100).alias("amount"))
    return amounts.join(rows.drop("events"), on="case_id", how="inner", maintain_order="left").select(
        *CASE_COLUMNS, "events", "amount")


def _check(event: str, filters: Filters, snapshot_on: dt.date | None, from_bucket: str | None,
           to_bucket: str | None, bounds: BucketBounds) -> None:
    if event not in EVENTS:
        raise DrillDownError(f"unknown drill-down '{event}': use one of {', '.join(EVENTS)}")
    if event == "snapshot" and snapshot_on is None:
        raise DrillDownError("a snapshot drill-down needs the snapshot date")
    for label in (from_bucket, to_bucket):
        if label is not None and label not in bounds.labels and label != CLOSED:
            raise DrillDownError(f"unknown bucket '{label}'")
    for label in filters.buckets:  # a link can ask for any text; the SQL is built from known buckets only
        if label not in bounds.labels:
            raise DrillDownError(f"unknown bucket '{label[:40]}': use one of {', '.join(bounds.labels)}")


def _per_case(conn: sa.Connection, f: Filters, event: str, day: dt.date | None, month: dt.date | None,
              snapshot_on: dt.date | None, from_bucket: str | None, to_bucket: str | None, category: str | None,
              source: str | None, months_since: int | None, bounds: BucketBounds,
              holder: str | None = None) -> sa.Subquery | None:
    """(case_id, events, amount) of every case behind the selection; None when nothing can match."""
    agents = _visible_agents(conn, f)
    if agents is not None and not agents:
        return None
    if event == "placements":
        return _placement_cases(f, agents, month, months_since, bounds).subquery("per_case")
    if event == "agency_placements":
        q = _agency_placement_cases(conn, f, agents, month, holder, months_since, bounds)
        return None if q is None else q.subquery("per_case")
    if event == "snapshot":
        rows = _snapshot_rows(conn, f, agents, snapshot_on, from_bucket, to_bucket, bounds)
    elif event == "cases":
        rows = _assigned_rows(f, agents, bounds)
    else:
        start, end = drill_period(f, day, month)
        if start > end:
            return None
        rows = _event_rows(event, f, agents, start, end, category, source, bounds)
    ev = rows.subquery("ev")
    return (sa.select(ev.c.case_id, sa.func.count().label("events"), sa.func.sum(ev.c.amount).label("amount"))
            .group_by(ev.c.case_id).subquery("per_case"))


def _ordered(per_case: sa.Subquery) -> sa.Select:
    """The case rows of a selection, largest amount first (the order of the page and of its export)."""
    c = S.cases
    return (sa.select(*[c.c[n] for n in CASE_COLUMNS], per_case.c.events, per_case.c.amount)
            .join_from(per_case, c, c.c.case_id == per_case.c.case_id)
            .order_by(per_case.c.amount.desc(), per_case.c.case_id))


def list_cases(engine: sa.Engine, filters: Filters, *, event: str = "cases", day: dt.date | None = None,
               month: dt.date | None = None, snapshot_on: dt.date | None = None, from_bucket: str | None = None,
               to_bucket: str | None = None, category: str | None = None, source: str | None = None,
               months_since: int | None = None, holder: str | None = None, page: int = 1, page_size: int = 50,
               reveal_pii: bool = False, scope: Scope = FULL_SCOPE, bounds: BucketBounds = DEFAULT_BUCKETS,
               store: Store | None = None) -> CasePage:
    """One page of the cases behind a selection, largest amount first (events: count, amount, per case).

    A `day` or `month` replaces the filters' dates (drill_period); `months_since` bounds a placements list's
    payments to that many months after placement; a `holder` (agency name or in-house team id) selects an
    agency_placements list — from the store's placements when a `store` is given (by case ids, fast at any
    scale), else from the case database's month-end snapshots.
    """
    _check(event, filters, snapshot_on, from_bucket, to_bucket, bounds)
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    f = apply(scope, filters)
    empty = CasePage(_empty_rows(), 0, page, page_size)
    if f.nothing:
        return empty
    with engine.connect() as conn:
        if event == "agency_placements" and store is not None:
            per = _agency_store_cases(store, f, month, holder, months_since)
            df = _case_rows(conn, per.slice((page - 1) * page_size, page_size))
            return CasePage(mask_frame(_typed(df), may_reveal(scope, reveal_pii)), per.height, page, page_size,
                            int(per.get_column("events").sum()), round(per.get_column("cents").sum() / 100, 2))
        per_case = _per_case(conn, f, event, day, month, snapshot_on, from_bucket, to_bucket, category, source,
                             months_since, bounds, holder)
        if per_case is None:
            return empty
        total, events, amount = conn.execute(sa.select(
            sa.func.count(), sa.func.sum(per_case.c.events), sa.func.sum(per_case.c.amount))).one()
        q = _ordered(per_case).limit(page_size).offset((page - 1) * page_size)
        df = pl.read_database(q, conn, schema_overrides=_SCHEMA)
    df = _typed(df)
    return CasePage(mask_frame(df, may_reveal(scope, reveal_pii)), int(total), page, page_size, int(events or 0),
                    round(float(amount or 0), 2))


def iter_cases(engine: sa.Engine, filters: Filters, *, event: str = "cases", day: dt.date | None = None,
               month: dt.date | None = None, snapshot_on: dt.date | None = None, from_bucket: str | None = None,
               to_bucket: str | None = None, category: str | None = None, source: str | None = None,
               months_since: int | None = None, holder: str | None = None, reveal_pii: bool = False,
               scope: Scope = FULL_SCOPE,
               bounds: BucketBounds = DEFAULT_BUCKETS, batch: int = EXPORT_BATCH,
               limit: int = EXPORT_MAX_ROWS, store: Store | None = None) -> Iterator[pl.DataFrame]:
    """Every case behind a selection (up to `limit`), in the page's order, as masked frames of `batch` rows.

    One ordered query, read through a server-side cursor a batch at a time: the case database aggregates the
    selection once (paging it by keyset or offset would aggregate it again for every page), and neither the
    driver nor this process ever holds more than a batch.
    """
    _check(event, filters, snapshot_on, from_bucket, to_bucket, bounds)
    f = apply(scope, filters)
    reveal = may_reveal(scope, reveal_pii)
    if f.nothing:
        return
    with engine.connect() as conn:
        if event == "agency_placements" and store is not None:
            per = _agency_store_cases(store, f, month, holder, months_since).head(max(0, int(limit)))
            for part in per.iter_slices(batch):
                yield mask_frame(_typed(_case_rows(conn, part)), reveal)
            return
        per_case = _per_case(conn, f, event, day, month, snapshot_on, from_bucket, to_bucket, category, source,
                             months_since, bounds, holder)
        if per_case is None:
            return
        names = [*CASE_COLUMNS, "events", "amount"]
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            _ordered(per_case).limit(max(0, int(limit))))
        for part in result.partitions(batch):
            df = pl.DataFrame([tuple(r) for r in part], schema=names, orient="row", infer_schema_length=None)
            yield mask_frame(_typed(_cast(df)), reveal)


def _cast(df: pl.DataFrame) -> pl.DataFrame:
    """Rows read through a cursor with the column types of pl.read_database's (text, ids and counts as such)."""
    text = [n for n in CASE_COLUMNS if n not in _SCHEMA and n != "current_balance"]
    return df.with_columns(pl.col(text).cast(pl.String), *[pl.col(k).cast(v) for k, v in _SCHEMA.items()])


_SCHEMA = {"case_id": pl.Int64, "current_dpd": pl.Int64, "events": pl.Int64}


def _typed(df: pl.DataFrame) -> pl.DataFrame:
    """Money as exact 2-decimal numbers whatever the backend returned (SQLite: floats)."""
    return df.with_columns(pl.col("current_balance", "amount").cast(pl.Float64).round(2))


def _empty_rows() -> pl.DataFrame:
    schema = {n: pl.String for n in CASE_COLUMNS} | {"case_id": pl.Int64, "current_dpd": pl.Int64,
                                                    "current_balance": pl.Float64, "events": pl.Int64,
                                                    "amount": pl.Float64}
    return pl.DataFrame(schema=schema)


def _case_visible(conn: sa.Connection, case_id: int, f: Filters) -> bool:
    agents = _visible_agents(conn, f)
    if agents is None:
        return True
    if not agents:
        return False
    owned = sa.select(S.cases.c.case_id).where(S.cases.c.case_id == case_id, S.cases.c.agent_id.in_(agents))
    worked = sa.select(S.payments.c.case_id).where(S.payments.c.case_id == case_id, S.payments.c.agent_id.in_(agents))
    touched = sa.select(S.contacts.c.case_id).where(S.contacts.c.case_id == case_id,
                                                    S.contacts.c.agent_id.in_(agents))
    return conn.execute(sa.select(sa.exists(owned) | sa.exists(worked) | sa.exists(touched))).scalar_one()


def case_timeline(engine: sa.Engine, case_id: int, *, filters: Filters | None = None, reveal_pii: bool = False,
                  scope: Scope = FULL_SCOPE) -> Timeline:
    """A case's header and every contact, promise, payment, complaint and month-end snapshot, newest first.

    The case is visible when it is assigned to, or was worked by, an agent the scope (and filters'
    teams/agents) allow; otherwise the header is None and there are no events.
    """
    today = dt.date.today()
    f = apply(scope, filters or Filters(start=today, end=today))
    events_schema = {"at": pl.Datetime("us"), "kind": pl.String, "agent_id": pl.String, "detail": pl.String,
                     "amount": pl.Float64, **TIMELINE_FIELDS}
    nothing = Timeline(None, pl.DataFrame(schema=events_schema))
    if f.nothing:
        return nothing
    reveal = may_reveal(scope, reveal_pii)
    with engine.connect() as conn:
        head = conn.execute(sa.select(S.cases).where(S.cases.c.case_id == case_id)).mappings().first()
        if head is None or not _case_visible(conn, case_id, f):
            return nothing
        parts = []
        k = S.contacts.c
        parts.append(pl.read_database(
            sa.select(k.contacted_at.label("at"), sa.literal("contact").label("kind"), k.agent_id,
                      k.channel, k.party, k.outcome, k.duration_s, k.phone_no)
            .where(k.case_id == case_id), conn))
        p = S.promises.c
        parts.append(pl.read_database(
            sa.select(p.promised_at.label("at"), sa.literal("promise").label("kind"), p.agent_id, p.due_on,
                      p.status, p.amount).where(p.case_id == case_id), conn))
        y = S.payments.c
        parts.append(pl.read_database(
            sa.select(y.paid_at.label("at"), sa.literal("payment").label("kind"), y.agent_id, y.method, y.amount)
            .where(y.case_id == case_id), conn))
        q = S.complaints.c
        parts.append(pl.read_database(
            sa.select(q.received_at.label("at"), sa.literal("complaint").label("kind"), q.agent_id, q.category,
                      q.source, q.severity, q.status).where(q.case_id == case_id), conn))
        b = S.balance_snapshots.c
        parts.append(pl.read_database(
            sa.select(b.snapshot_on.label("at"), sa.literal("snapshot").label("kind"), b.agent_id, b.dpd,
                      b.balance.label("amount")).where(b.case_id == case_id), conn))
    events = pl.concat([_timeline_part(df, reveal) for df in parts], how="vertical")
    header = mask_frame(pl.DataFrame([dict(head)]), reveal).with_columns(
        pl.col("placed_balance", "current_balance").cast(pl.Float64).round(2)).row(0, named=True)
    return Timeline(header, events.sort("at", descending=True))


#: The fields of a timeline event beside (at, kind, agent_id, detail, amount), null where a kind has none: what a
#: page needs to say the detail in its own language (`detail` joins the raw values).
TIMELINE_FIELDS = {"channel": pl.String, "party": pl.String, "outcome": pl.String, "duration_s": pl.Int64,
                   "phone_no": pl.String, "due_on": pl.Date, "status": pl.String, "method": pl.String,
                   "category": pl.String, "source": pl.String, "severity": pl.String, "dpd": pl.Int64}


def _timeline_part(df: pl.DataFrame, reveal: bool) -> pl.DataFrame:
    """One event kind's rows as (at, kind, agent_id, detail, amount) and the TIMELINE_FIELDS."""
    if "phone_no" in df.columns:
        df = mask_frame(df, reveal)
    at = pl.col("at").cast(pl.String).str.to_datetime(strict=False) if df.schema.get("at") == pl.String \
        else pl.col("at").cast(pl.Datetime("us"))
    detail_cols = [c for c in df.columns if c not in ("at", "kind", "agent_id", "amount")]
    detail = (pl.concat_str([pl.col(c).cast(pl.String).fill_null("–") for c in detail_cols], separator=" · ")
              if detail_cols else pl.lit(""))
    amount = pl.col("amount").cast(pl.Float64).round(2) if "amount" in df.columns else pl.lit(None, pl.Float64)
    fields = [(pl.col(c).cast(pl.String).str.to_date(strict=False) if dtype == pl.Date and df.schema[c] == pl.String
               else pl.col(c).cast(dtype, strict=False)).alias(c) if c in df.columns else pl.lit(None, dtype).alias(c)
              for c, dtype in TIMELINE_FIELDS.items()]
    return df.select(at.alias("at"), pl.col("kind").cast(pl.String), pl.col("agent_id").cast(pl.String),
                     detail.alias("detail"), amount.alias("amount"), *fields)
