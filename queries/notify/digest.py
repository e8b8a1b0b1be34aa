"""One recipient's daily digest (日报): every number read through the scoped facade, so each equals `report`'s.

The digest reports on `day` (yesterday, for a digest read in the morning) and on the promises due the day
after (`today`). Each number is recorded with the `report` arguments that give it (`Digest.sources`), so a
test can ask `report` for every one. Tables are masked (queries.governance.masking) whatever the role: a
digest is not the place to reveal personal data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import polars as pl

from dashboard.format import day as fmt_day
from dashboard.i18n import t
from queries.dates import CHINA_CALENDAR, month_end, month_start, shift_months
from queries.filters import Filters, Scope, apply
from queries.governance.access import Subscription
from queries.governance.masking import mask_frame
from queries.metrics import MetricError, MetricUnavailable
from queries.metrics.registry import METRICS
from queries.store import Store
from queries.views import scoped

#: Keys under which a compliance (rule breach) metric may be registered; the digest's breach section appears
#: when one of them is, and is left out otherwise.
BREACH_METRICS = ("breaches", "rule_breaches")
#: Dimensions a breach metric may be broken down by in the digest (the first one it has).
BREACH_DIMS = ("check", "rule")
#: How many agents the top and bottom tables show.
TOP_N = 5
REGULATOR = "regulator_12378"


@dataclass(frozen=True)
class Recipient:
    """Who a digest is for: user (None for a preview by role and team), scope, language and channels."""

    user: str | None
    scope: Scope
    lang: str = "zh"
    channels: tuple[str, ...] = ()
    #: True when the subscription narrows the user's scope to some teams (the link then names them)
    narrowed: bool = False


def recipient(user: str, scope: Scope, sub: Subscription | None) -> Recipient:
    """The recipient of a user's digest: their scope narrowed by the subscription's teams, never widened."""
    sub = sub or Subscription()
    if sub.teams is None:
        return Recipient(user, scope, sub.lang, sub.channels)
    teams = sub.teams if scope.teams is None else sub.teams & scope.teams
    return Recipient(user, replace(scope, teams=teams), sub.lang, sub.channels, narrowed=True)


@dataclass(frozen=True)
class Source:
    """Where one number comes from: the `report` arguments that give it, the row and the column."""

    metric: str
    start: dt.date
    end: dt.date
    teams: tuple[str, ...]
    by: tuple[str, ...]
    row: tuple[tuple[str, object], ...]  # (dimension, value) pairs picking the row when `by` is set
    column: str
    value: float | None


@dataclass
class Digest:
    """One recipient's daily report: headline numbers, tables (masked), chart data, notes and sources."""

    recipient: Recipient
    day: dt.date
    today: dt.date
    as_of: dt.date | None
    synced_at: dt.datetime
    notes: list[str]
    workday: tuple[int, int]
    headline: dict[str, float | None]
    teams: pl.DataFrame
    behind: pl.DataFrame
    top: pl.DataFrame
    bottom: pl.DataFrame
    ptp: dict[str, float | None]
    ptp_by_team: pl.DataFrame
    complaints: dict[str, float | None]
    complaints_by_category: pl.DataFrame
    regulator_agents: pl.DataFrame
    breach_metric: str | None
    breaches: pl.DataFrame | None
    series: pl.DataFrame
    link: str
    sources: list[Source] = field(default_factory=list)

    @property
    def team_ids(self) -> tuple[str, ...]:
        """The teams the digest covers (its scope's teams present in the store)."""
        return tuple(self.teams.get_column("team_id").to_list()) if self.teams.height else ()


class _Reader:
    """Scoped metric calls that remember each number's source."""

    def __init__(self, store: Store, scope: Scope) -> None:
        self.store, self.scope, self.sources = store, scope, []

    def frame(self, key: str, start: dt.date, end: dt.date, by: tuple[str, ...] = ()) -> pl.DataFrame:
        return scoped.metric(self.store, self.scope, key, Filters(start, end), by)

    def teams(self, start: dt.date, end: dt.date) -> tuple[str, ...]:
        f = apply(self.scope, Filters(start, end))
        return f.teams if self.scope.teams is not None else ()

    def note(self, key: str, start: dt.date, end: dt.date, column: str, value: object, by: tuple[str, ...] = (),
             row: dict | None = None) -> float | None:
        v = None if value is None else float(value)
        self.sources.append(Source(key, start, end, self.teams(start, end), by, tuple((row or {}).items()), column, v))
        return v

    def one(self, key: str, start: dt.date, end: dt.date, columns: tuple[str, ...]) -> dict[str, float | None]:
        df = self.frame(key, start, end)
        return {c: self.note(key, start, end, c, df.get_column(c)[0] if df.height else None) for c in columns}

    def rows(self, key: str, start: dt.date, end: dt.date, by: tuple[str, ...], columns: tuple[str, ...],
             df: pl.DataFrame | None = None) -> pl.DataFrame:
        df = self.frame(key, start, end, by) if df is None else df
        for r in df.iter_rows(named=True):
            for c in columns:
                self.note(key, start, end, c, r[c], by, {d: r[d] for d in by})
        return df


def _names(store: Store, df: pl.DataFrame, what: str) -> pl.DataFrame:
    if what == "team":
        names = store.frame("teams").select("team_id", "team_name")
        return df.join(names, on="team_id", how="left")
    names = store.frame("agents").select("agent_id", "agent_name")
    return df.join(names, on="agent_id", how="left")


def link(base: str, page: str, start: dt.date, end: dt.date, lang: str, teams: tuple[str, ...] = ()) -> str:
    """The dashboard view of these dates (and teams), as the dashboard reads its URL (dashboard/links.py)."""
    query: dict[str, object] = {"period": "custom", "dates": [start.isoformat(), end.isoformat()]}
    if teams:
        query["team"] = list(teams)
    if lang != "zh":
        query["lang"] = lang
    return f"{base}/{page}?{urlencode(query, doseq=True)}"


def breach_metric() -> str | None:
    """The registered compliance metric the breach section shows, or None while there is none."""
    return next((k for k in BREACH_METRICS if k in METRICS), None)


def _headline(r: _Reader, day: dt.date, series: pl.DataFrame) -> dict[str, float | None]:
    """Yesterday and month to date from the daily series (collected adds up over days), the same two for the same
    day last month from one call by day, then recovery rate and target achievement month to date."""
    m0, lm_day = month_start(day), shift_months(day, -1)
    by_day = dict(series.select("day", "collected").iter_rows())
    mtd = r.one("collected", m0, day, ("value", "payments"))
    out = {"yesterday": r.note("collected", day, day, "value", by_day.get(day)),
           "mtd": mtd["value"], "payments_mtd": mtd["payments"]}
    last = r.frame("collected", month_start(lm_day), lm_day, ("day",))
    out["yesterday_lm"] = r.note("collected", lm_day, lm_day, "value",
                                 last.filter(pl.col("day") == lm_day).get_column("value").sum() if last.height else None)
    out["mtd_lm"] = r.note("collected", month_start(lm_day), lm_day, "value",
                           last.get_column("value").sum() if last.height else None)
    out["recovery_rate_mtd"] = r.one("recovery_rate", m0, day, ("value",))["value"]
    try:
        ach = r.one("target_achievement", m0, day, ("denominator", "value", "pace"))
    except MetricUnavailable:
        ach = {"denominator": None, "value": None, "pace": None}
    out |= {"target": ach["denominator"], "achievement": ach["value"], "pace": ach["pace"]}
    try:  # where the month lands (80% interval, P(target)); absent with too little history
        land = r.one("landing", m0, day, ("value", "low", "high", "p_target"))
    except (MetricUnavailable, MetricError):
        land = {"value": None, "low": None, "high": None, "p_target": None}
    out |= {"landing": land["value"], "landing_low": land["low"], "landing_high": land["high"],
            "p_target": land["p_target"]}
    return out


def _teams(r: _Reader, store: Store, day: dt.date) -> pl.DataFrame:
    m0 = month_start(day)
    try:
        df = r.rows("target_achievement", m0, day, ("team_id",), ("numerator", "denominator", "value", "pace"))
    except MetricUnavailable:
        df = r.rows("collected", m0, day, ("team_id",), ("value",)).select(
            "team_id", pl.col("value").alias("numerator"), pl.lit(None, pl.Float64).alias("denominator"),
            pl.lit(None, pl.Float64).alias("value"), pl.lit(None, pl.Float64).alias("pace"))
    out = df.select("team_id", pl.col("numerator").alias("collected"), pl.col("denominator").alias("target"),
                    pl.col("value").alias("achievement"), "pace")
    return _names(store, out, "team").select("team_id", "team_name", "collected", "target", "achievement", "pace")


def _agents(r: _Reader, store: Store, day: dt.date, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The month's first and last `n` agents by collected, ranked as the leaderboard ranks (collected, then id),
    among the agents with a payment or an attempt this month."""
    m0, by = month_start(day), ("agent_id",)
    board = r.frame("collected", m0, day, by).select("agent_id", pl.col("value").alias("collected"),
                                                     pl.col("payments").alias("paid"))
    for key, col, name in (("contact_rate", "denominator", "attempts"), ("rpc_rate", "value", "rpc_rate")):
        board = board.join(r.frame(key, m0, day, by).select("agent_id", pl.col(col).alias(name)), on="agent_id",
                           how="full", coalesce=True)
    board = board.filter(pl.col("agent_id").is_not_null()).with_columns(
        pl.col("collected", "paid", "attempts").fill_null(0.0))
    board = board.join(store.frame("agents").select("agent_id", "agent_name", "team_id"), on="agent_id", how="left")
    board = board.sort(["collected", "agent_id"], descending=[True, False]).with_columns(
        pl.int_range(1, pl.len() + 1).cast(pl.Int64).alias("rank"))
    board = board.select("rank", "agent_id", "agent_name", "team_id", "collected", "paid", "attempts", "rpc_rate")
    top = board.head(n)
    bottom = board.tail(max(0, min(n, board.height - n))).reverse()
    for part in (top, bottom):
        for row in part.iter_rows(named=True):
            key = {"agent_id": row["agent_id"]}
            r.note("collected", m0, day, "value", row["collected"], by, key)
            r.note("collected", m0, day, "payments", row["paid"], by, key)
            r.note("contact_rate", m0, day, "denominator", row["attempts"], by, key)
            r.note("rpc_rate", m0, day, "value", row["rpc_rate"], by, key)
    return top, bottom


def _ptp(r: _Reader, store: Store, today: dt.date) -> tuple[dict, pl.DataFrame]:
    cols = ("denominator", "pending", "due_amount")
    tot = r.one("ptp_kept_rate", today, today, cols)
    by = r.rows("ptp_kept_rate", today, today, ("team_id",), cols)
    count = (tot["denominator"] or 0) + (tot["pending"] or 0)
    by = by.select("team_id", (pl.col("denominator").fill_null(0) + pl.col("pending").fill_null(0)).alias("due"),
                   pl.col("due_amount").alias("amount")).filter(pl.col("due") > 0)
    return {"count": count, "amount": tot["due_amount"]}, _names(store, by, "team").select(
        "team_id", "team_name", "due", "amount")


def _complaints(r: _Reader, store: Store, day: dt.date) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
    every = r.frame("complaint_rate", day, day, ("category",))  # each complaint has one category: totals add up
    tot = {c: r.note("complaint_rate", day, day, c, every.get_column(c).sum()) for c in ("numerator", REGULATOR)}
    cat = every.filter(pl.col("numerator") > 0).sort(["numerator", "category"], descending=[True, False])
    r.rows("complaint_rate", day, day, ("category",), ("numerator",), cat)
    by = ("agent_id", "source")
    reg = r.frame("complaint_rate", day, day, by).filter((pl.col("source") == REGULATOR) & (pl.col("numerator") > 0))
    r.rows("complaint_rate", day, day, by, ("numerator",), reg)
    reg = _names(store, reg.select("agent_id", "numerator"), "agent")
    agents = store.frame("agents").select("agent_id", "team_id")
    reg = reg.join(agents, on="agent_id", how="left").select("agent_id", "agent_name", "team_id", "numerator") \
        .sort(["numerator", "agent_id"], descending=[True, False])
    return ({"total": tot["numerator"] or 0, "regulator": tot[REGULATOR] or 0},
            cat.select("category", "numerator"), reg)


def _breaches(r: _Reader, day: dt.date) -> tuple[str | None, pl.DataFrame | None]:
    key = breach_metric()
    if key is None:
        return None, None
    dims = tuple(d for d in BREACH_DIMS if d in METRICS[key].dims)[:1]
    df = r.frame(key, day, day, dims)
    if dims:
        df = df.filter(pl.col("numerator") > 0).sort("numerator", descending=True)
    r.rows(key, day, day, dims, ("numerator",), df)
    return key, df.select(*dims, "numerator")


def stale_notes(store: Store, day: dt.date, lang: str, max_age_s: float) -> list[str]:
    """What the reader must know about the data's age: a store older than its maximum age, data behind `day`."""
    notes = []
    if store.age_seconds() > max_age_s:
        notes.append(t("n_stale", lang, at=f"{store.synced_at:%Y-%m-%d %H:%M}", minutes=f"{max_age_s / 60:g}"))
    if store.as_of is None or store.as_of < day:
        notes.append(t("n_data_behind", lang, as_of=fmt_day(store.as_of, lang), day=fmt_day(day, lang)))
    return notes


def build(store: Store, who: Recipient, day: dt.date, *, dashboard_url: str = "", max_age_s: float = 900.0,
          top_n: int = TOP_N) -> Digest:
    """The digest of `day` for one recipient, within their scope, masked."""
    r = _Reader(store, who.scope)
    today = day + dt.timedelta(days=1)
    m0 = month_start(day)
    series = scoped.compose(store, who.scope, "daily_series", Filters(m0, day))
    teams = _teams(r, store, day)
    behind = teams.filter(pl.col("pace") < 1).sort(["pace", "team_id"])
    top, bottom = _agents(r, store, day, top_n)
    ptp, ptp_by_team = _ptp(r, store, today)
    complaints, by_category, regulator = _complaints(r, store, day)
    breach_key, breaches = _breaches(r, day)
    narrowed = tuple(sorted(who.scope.teams)) if who.narrowed and who.scope.teams else ()
    return Digest(
        recipient=who, day=day, today=today, as_of=store.as_of, synced_at=store.synced_at,
        notes=stale_notes(store, day, who.lang, max_age_s),
        workday=(CHINA_CALENDAR.working_days(m0, day), CHINA_CALENDAR.working_days(m0, month_end(day))),
        headline=_headline(r, day, series), teams=mask_frame(teams), behind=mask_frame(behind), top=mask_frame(top),
        bottom=mask_frame(bottom), ptp=ptp, ptp_by_team=mask_frame(ptp_by_team), complaints=complaints,
        complaints_by_category=by_category, regulator_agents=mask_frame(regulator), breach_metric=breach_key,
        breaches=None if breaches is None else mask_frame(breaches), series=series,
        link=link(dashboard_url, "daily", m0, day, who.lang, narrowed), sources=r.sources)
