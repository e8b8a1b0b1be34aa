"""The month-end landing forecast (落地预测): where the month will land, with an 80% interval, and its backtest.

Two parts, added without counting a yuan twice:

- the **promise pipeline**: promises made by the forecast day and due later in the month, each times the kept rate
  (by amount) of similar promises — the same team (or agency) and bucket, due in the three months before;
- the **rest**, from the month's cumulative share by working day in the last 12 months: in each past month, at the
  same point of its working days (k of W working days ↔ round(k × W′ ÷ W) of W′), what was still collected beyond
  what that month's pipeline then held, per yuan already collected (pooled over the months).

landing = collected so far + pipeline + ρ × collected so far, ρ = Σ (month total − collected by then − pipeline
then) ÷ Σ collected by then over the past months. The 80% interval comes from the same past months' leave-one-out
errors (log actual ÷ forecast), widened for their small number; P(target) from the same spread. Working days are
the `chinesecalendar` package's (queries.dates), so a holiday week counts as no working days at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from queries.dates import CHINA_CALENDAR, WorkCalendar, month_end, month_start
from queries.filters import Filters
from queries.metrics.agency import agency_names
from queries.metrics.base import (
    MetricError,
    MetricUnavailable,
    allowed_agents,
    empty,
    money,
    require,
)
from queries.metrics.contact import RESOLVED_PROMISES
from queries.metrics.declare import metric
from queries.store import Store

LANDING_DIMS = ("team_id", "agency")
NO_AGENT = "\x00"  # the unit of payments without an agent (they count for the centre only, as in `collected`)
HISTORY_MONTHS = 12  # past months the shares and the interval come from
MIN_HISTORY = 3  # fewer past months with collections: no forecast
KEPT_WINDOW_MONTHS = 3  # promises due in this many months before the month give the kept rate
MIN_KEPT_PROMISES = 30  # a team's bucket with fewer resolved promises borrows the centre's kept rate
Z80 = 1.2815515655446004  # standard normal 90th percentile: an 80% two-sided interval
PIPELINE_SCHEMA = {"day": pl.Date, "made": pl.Date, "agent_id": pl.String, "bucket": pl.String, "n": pl.Int64,
                   "cents": pl.Int64}
EXTRA = ("low", "high", "naive", "pipeline", "target", "p_target", "elapsed_days", "working_days")


@dataclass(frozen=True)
class MonthDays:
    """One month's working days: their dates (ascending) and the position of every day of the month."""

    month: dt.date
    working: tuple[dt.date, ...]

    @property
    def count(self) -> int:
        """Working days in the month."""
        return len(self.working)

    def cut(self, k: int) -> dt.date:
        """The day a forecast after k working days is made: the k-th working day (k = 0: the month's eve)."""
        return self.working[k - 1] if k > 0 else self.month - dt.timedelta(days=1)

    def elapsed(self, day: dt.date) -> int:
        """Working days of the month up to and including `day`."""
        return sum(1 for w in self.working if w <= day)


@functools.lru_cache(maxsize=512)
def month_days(month: dt.date, calendar: WorkCalendar = CHINA_CALENDAR) -> MonthDays:
    """The working days of the month starting on `month`."""
    days = [month + dt.timedelta(days=i) for i in range((month_end(month) - month).days + 1)]
    return MonthDays(month, tuple(d for d in days if calendar.is_working(d)))


@functools.lru_cache(maxsize=64)
def _positions(months: tuple[MonthDays, ...]) -> dict[dt.date, int]:
    """Each day of the months → the first k whose cut day is on or after it (count + 1 after the last working day)."""
    lookup = {}
    for md in months:
        k = 1
        for i in range((month_end(md.month) - md.month).days + 1):
            d = md.month + dt.timedelta(days=i)
            while k <= md.count and md.working[k - 1] < d:
                k += 1
            lookup[d] = k
    return lookup


def _position(day: pl.Expr, months: dict[dt.date, MonthDays]) -> pl.Expr:
    """The working-day position of `day` in its month (see _positions)."""
    return day.replace_strict(_positions(tuple(months.values())), default=None, return_dtype=pl.Int32)


def _kept_window(months: list[dt.date]) -> tuple[dict[dt.date, int], np.ndarray]:
    """The due months the kept rates of `months` read (index), and which of them each month's window holds: the
    KEPT_WINDOW_MONTHS months before it (month × due month, 0/1)."""
    due = sorted({month_start(m, -i) for m in months for i in range(1, KEPT_WINDOW_MONTHS + 1)})
    d_ix = {d: i for i, d in enumerate(due)}
    window = np.zeros((len(months), len(due)))
    for j, m in enumerate(months):
        window[j, [d_ix[month_start(m, -i)] for i in range(1, KEPT_WINDOW_MONTHS + 1)]] = 1.0
    return d_ix, window


def kept_rates(kept: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(group, bucket, month) → kept rate by amount of the promises due in the KEPT_WINDOW_MONTHS months before the
    month, from resolved promises `kept` (cents kept, cents resolved, count) × group × bucket × due month: a group's
    bucket with fewer than MIN_KEPT_PROMISES resolved promises takes the rate of all the groups; none resolved, or
    no amount: 0."""
    own = np.einsum("sgbd,md->sgbm", kept, window)  # sums of whole cents and counts: exact in any order
    centre = own.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(own[2] >= MIN_KEPT_PROMISES, own[0] / own[1], centre[0] / centre[1])
    return np.where((own[2] > 0) & np.isfinite(rate), rate, 0.0)


@dataclass(frozen=True)
class Base:
    """Payments and promises of some months as dense arrays, unit (team, or agent when agents are selected) ×
    bucket × month × working-day position: `paid` collected by each position (cumulative), `total` the month's,
    `held` promise amounts made by the position's cut and due after it; `kept` the resolved promises (cents kept,
    cents resolved, count) × unit × bucket × due month, and `window` the due months of each month's kept rate.
    Built once per store version, calendar and months (store.memo), shared by the centre, teams and agencies."""

    units: tuple[str, ...]
    buckets: tuple[str, ...]
    days: dict[dt.date, MonthDays]
    paid: np.ndarray
    total: np.ndarray
    held: np.ndarray
    kept: np.ndarray
    window: np.ndarray


def held_cuts(pipeline: pl.DataFrame, months: list[dt.date], calendar: WorkCalendar = CHINA_CALENDAR,
              ) -> pl.DataFrame:
    """The promise pipeline (unit, bucket, day = due, made, cents) of the months as the working-day positions each
    amount is held over — unit, bucket, month, k_made, k_due, cents (held for k_made … k_due − 1), summed: a few
    rows per unit and month, whatever the days the promises were made on (one month file of the pipeline at a
    time keeps a server's first view small: 700,000 (day, made) rows at 2× bank scale)."""
    days = {m: month_days(m, calendar) for m in months}
    lo, hi = months[0], month_end(months[-1])
    due = pipeline.filter(pl.col("day").is_between(lo, hi)).with_columns(pl.col("day").dt.month_start().alias("month"))
    due = due.with_columns(
        _position(pl.col("day"), days).alias("k_due"),
        pl.when(pl.col("made") < pl.col("month")).then(0).otherwise(_position(pl.col("made"), days))
        .cast(pl.Int32).alias("k_made")).filter(pl.col("k_made") < pl.col("k_due"))
    return due.group_by("unit", "bucket", "month", "k_made", "k_due").agg(pl.col("cents").sum())


def build_base(pays: pl.DataFrame, due: pl.DataFrame, resolved: pl.DataFrame, months: list[dt.date],
               calendar: WorkCalendar = CHINA_CALENDAR) -> Base:
    """A Base from payments (unit, bucket, day, cents), the promise pipeline's held cuts (held_cuts) and resolved
    promises (unit, bucket, due_month, kept, res, n)."""
    days = {m: month_days(m, calendar) for m in months}
    lo, hi = months[0], month_end(months[-1])
    pays = pays.filter(pl.col("day").is_between(lo, hi)).group_by("unit", "bucket", "day").agg(pl.col("cents").sum())
    pays = pays.with_columns(pl.col("day").dt.month_start().alias("month"), _position(pl.col("day"), days).alias("k"))
    units = tuple(sorted({*pays.get_column("unit").unique().to_list(), *due.get_column("unit").unique().to_list(),
                          *resolved.get_column("unit").unique().to_list()}))
    buckets = tuple(sorted({*pays.get_column("bucket").unique().to_list(), *due.get_column("bucket").unique().to_list(),
                            *resolved.get_column("bucket").unique().to_list()}, key=str))
    u_ix, b_ix = {u: i for i, u in enumerate(units)}, {b: i for i, b in enumerate(buckets)}
    m_ix = {m: i for i, m in enumerate(months)}
    width = max(md.count for md in days.values()) + 3
    paid = np.zeros((len(units), len(buckets), len(months), width))
    held = np.zeros_like(paid)

    def index(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (df.get_column("unit").replace_strict(u_ix, return_dtype=pl.Int32).to_numpy(),
                df.get_column("bucket").replace_strict(b_ix, return_dtype=pl.Int32).to_numpy(),
                df.get_column("month").replace_strict(m_ix, return_dtype=pl.Int32).to_numpy())

    if pays.height:
        np.add.at(paid, (*index(pays), pays.get_column("k").to_numpy()), pays.get_column("cents").to_numpy())
    if due.height:
        ix, cents = index(due), due.get_column("cents").to_numpy().astype(float)
        np.add.at(held, (*ix, due.get_column("k_made").to_numpy()), cents)
        np.add.at(held, (*ix, due.get_column("k_due").to_numpy()), -cents)
    d_ix, window = _kept_window(months)
    kept = np.zeros((3, len(units), len(buckets), len(d_ix)))
    res = resolved.filter(pl.col("due_month").is_in(list(d_ix)))
    if res.height:
        at = (res.get_column("unit").replace_strict(u_ix, return_dtype=pl.Int32).to_numpy(),
              res.get_column("bucket").replace_strict(b_ix, return_dtype=pl.Int32).to_numpy(),
              res.get_column("due_month").replace_strict(d_ix, return_dtype=pl.Int32).to_numpy())
        for s, col in enumerate(("kept", "res", "n")):
            np.add.at(kept[s], at, res.get_column(col).to_numpy().astype(float))
    return Base(units, buckets, days, np.cumsum(paid, axis=3), paid.sum(axis=3), np.cumsum(held, axis=3),
                kept, window)


@dataclass
class Curves:
    """Per group (row `groups[name]`) and month (`months[m]`): collected by working-day position (`cum`), the promise
    pipeline's expected value at each position (`pipe`) and the month's `total`; positions 0…W (W = working days)
    are meaningful, the array's width is the longest month's."""

    days: dict[dt.date, MonthDays]
    groups: dict[str, int]
    months: dict[dt.date, int]
    cum: np.ndarray
    pipe: np.ndarray
    total: np.ndarray


def _group_sum(of: np.ndarray, n: int, x: np.ndarray) -> np.ndarray:
    """x's rows (one per unit) summed by group: `of` is each unit's group index, -1 for none. Sums of cents, so
    exact in any order; a sort and one reduceat, not a units × groups product (40 ms at 2,500 agents)."""
    out = np.zeros((n, *x.shape[1:]))
    keep = np.flatnonzero(of >= 0)
    if keep.size == 0:
        return out
    order = keep[np.argsort(of[keep], kind="stable")]
    g = of[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    out[g[starts]] = np.add.reduceat(x[order], starts, axis=0)
    return out


def curves(base: Base, groups: dict[str, str], buckets: tuple[str, ...] = ()) -> Curves:
    """The curves of each group (units mapped to groups by `groups`; units absent are left out), over the selected
    buckets (all when none): collected, and the pipeline valued at each group's kept rates."""
    months = list(base.days)
    names = sorted(set(groups.values()))
    g_ix = {g: i for i, g in enumerate(names)}
    of = np.array([g_ix[groups[u]] if u in groups else -1 for u in base.units], dtype=np.int64)
    sel = np.array([not buckets or b in buckets for b in base.buckets], dtype=bool)
    paid = _group_sum(of, len(names), base.paid[:, sel].sum(axis=1))
    total = _group_sum(of, len(names), base.total[:, sel].sum(axis=1))
    held = _group_sum(of, len(names), base.held[:, sel])
    kept = np.stack([_group_sum(of, len(names), x[:, sel]) for x in base.kept])
    rate = kept_rates(kept, base.window)
    m_ix = {m: i for i, m in enumerate(months)}
    return Curves(base.days, g_ix, m_ix, paid, np.einsum("gbm,gbmk->gmk", rate, held), total)


@dataclass(frozen=True)
class Landing:
    """One forecast: collected so far, the pipeline's expected value, landing with its 80% interval, the naive pace
    projection, and the spread (σ of log actual ÷ forecast) P(target) uses."""

    collected: float
    pipeline: float
    landing: float
    low: float
    high: float
    naive: float | None
    sigma: float
    history: int

    def p_reach(self, target: float | None) -> float | None:
        """Probability of collecting at least `target` in the month (lognormal around the landing)."""
        if target is None or target <= 0 or self.landing <= 0:
            return None
        if self.sigma <= 0:
            return 1.0 if self.landing >= target else 0.0
        z = math.log(target / self.landing) / self.sigma
        return 0.5 * math.erfc(z / math.sqrt(2))


def _at(c: Curves, key: tuple[str, dt.date], k: int) -> tuple[float, float]:
    g, m = c.groups.get(key[0]), c.months.get(key[1])
    return (0.0, 0.0) if g is None or m is None else (float(c.cum[g, m, k]), float(c.pipe[g, m, k]))


def _projections(cum: np.ndarray, pipe: np.ndarray, base: np.ndarray, rest: np.ndarray, n: int,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A month's landing after its cut, given collected so far (`cum`) and the pipeline (`pipe`), from n past months
    whose collected by the cut sum to `base` and whose rest (total − collected − pipeline) sums to `rest`: by share
    (the rest per yuan collected so far; the level's when nothing was collected) and by level (the rest as large as
    the months' mean). Element-wise: one month or many at once."""
    mean = np.maximum(rest / n, 0.0)
    ok = (cum > 0) & (base > 0)
    return cum + pipe + np.where(ok, rest / np.where(ok, base, 1.0) * cum, mean), cum + pipe + mean


def leave_one_out(arr: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Each past month (arr[..., month, :]: collected by the cut, pipeline at the cut, the month's total) forecast
    from the other months that count (`valid`, all when None) by _projections, neither below what was collected:
    [..., month, (share, level)]. The others' sums are the totals less the month's own, so all months (and groups,
    along the leading axes) at once (a loop per month and team was most of the landing by team at 5×)."""
    if valid is None:
        valid = np.ones(arr.shape[:-1], dtype=bool)
    cum, pipe, tot = (np.where(valid, arr[..., i], 0.0) for i in range(3))
    rest = tot - cum - pipe
    n = np.maximum(valid.sum(axis=-1, keepdims=True) - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share, level = _projections(cum, pipe, cum.sum(axis=-1, keepdims=True) - cum,
                                    rest.sum(axis=-1, keepdims=True) - rest, n)
    return np.stack([np.maximum(share, cum), np.maximum(level, cum)], axis=-1)


@dataclass(frozen=True)
class Landings:
    """The landings of many groups at once (arrays, one entry per group; `ok` False where there is no forecast:
    fewer than MIN_HISTORY past months that collected anything)."""

    ok: np.ndarray
    collected: np.ndarray
    pipeline: np.ndarray
    landing: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sigma: np.ndarray
    history: np.ndarray
    naive: np.ndarray | None  # the pace projection (None before a working day has passed)

    def one(self, i: int) -> Landing | None:
        """Group i's Landing (None without a forecast)."""
        if not self.ok[i]:
            return None
        return Landing(float(self.collected[i]), float(self.pipeline[i]), float(self.landing[i]), float(self.low[i]),
                       float(self.high[i]), None if self.naive is None else float(self.naive[i]),
                       float(self.sigma[i]), int(self.history[i]))


def forecast_rows(c: Curves, rows: np.ndarray, month: dt.date, k: int, collected: np.ndarray,
                  pipeline: np.ndarray, past: list[dt.date]) -> Landings:
    """The landings in `month` after k working days of the curves' groups `rows` (collected and pipeline now, one
    per row), each from those of the past months `past` in which it collected anything: every group at once, as
    arrays (a forecast per group in Python was most of the landing by team at 5× bank scale)."""
    w = c.days[month].count
    cols = np.array([c.months[h] for h in past], dtype=np.int64)
    kh = np.array([min(c.days[h].count, round(k * c.days[h].count / w)) if w else 0 for h in past], dtype=np.int64)
    cum, pipe = c.cum[rows][:, cols, kh], c.pipe[rows][:, cols, kh]  # (group, past month) at each month's cut
    tot = c.total[rows][:, cols]
    valid = tot > 0
    loo = leave_one_out(np.stack([cum, pipe, tot], axis=-1), valid)  # each month forecast from the others
    cum, pipe, tot = (np.where(valid, x, 0.0) for x in (cum, pipe, tot))
    n = valid.sum(axis=1)
    s_cum, s_rest = cum.sum(axis=1), (tot - cum - pipe).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the two weighed by their leave-one-out squared log errors (early in the month the level is steadier)
        ok = valid & (loo > 0).all(axis=2)
        n_ok = np.maximum(ok.sum(axis=1), 1)[:, None]
        err2 = np.where(ok[:, :, None], np.log(tot[:, :, None] / loo) ** 2, 0.0)
        mse = np.where(ok.any(axis=1)[:, None], err2.sum(axis=1) / n_ok, 1.0)
        inv = 1 / np.maximum(mse, 1e-12)
        weight = inv / inv.sum(axis=1, keepdims=True)
        share, level = _projections(collected, pipeline, s_cum, s_rest, np.maximum(n, 1))
        landing = np.maximum(weight[:, 0] * share + weight[:, 1] * level, collected)
        errors = np.where(ok, np.log(tot / (loo[:, :, 0] * weight[:, :1] + loo[:, :, 1] * weight[:, 1:])), 0.0)
        sigma = np.sqrt((errors ** 2).sum(axis=1) / n_ok[:, 0] * (1 + 1 / n_ok[:, 0]))
    low = np.maximum(landing * np.exp(-Z80 * sigma), collected)
    high = np.maximum(landing * np.exp(Z80 * sigma), low)
    return Landings(n >= MIN_HISTORY, collected, pipeline, landing, low, high, sigma, n,
                    collected / k * w if k > 0 else None)


def forecast(c: Curves, group: str, month: dt.date, k: int, collected: float, pipeline: float,
             past: list[dt.date]) -> Landing | None:
    """The landing of `group` in `month` after k working days, from the past months `past` (None with fewer than
    MIN_HISTORY past months that collected anything)."""
    if group not in c.groups:
        return None
    return forecast_rows(c, np.array([c.groups[group]]), month, k, np.array([collected], dtype=float),
                         np.array([pipeline], dtype=float), past).one(0)


def past_months(month: dt.date, first: dt.date, n: int = HISTORY_MONTHS) -> list[dt.date]:
    """Up to n complete months before `month`, not before `first` (the first month with data)."""
    return [month_start(month, -i) for i in range(1, n + 1) if month_start(month, -i) >= first]


# ---------------------------------------------------------------- reading the store


def _agency_of(store: Store) -> dict[str, str]:
    """team_id → agency name, for the teams with channel 'agency' (queries.metrics.agency.agency_names)."""
    return dict(agency_names(store).iter_rows())


def _base(store: Store, f: Filters, months: list[dt.date], calendar: WorkCalendar) -> tuple[Base, dict[str, str]]:
    """The Base of the months (by team; by agent when agents are selected) and each unit's team, from store.memo
    when this version already built it."""
    if f.products or f.regions:
        raise MetricError("the landing forecast is by team, agency and bucket; clear the product and region filters")
    agents = allowed_agents(store, f) if f.agents else None
    unit = "agent_id" if agents is not None else "team_id"
    key = ("landing_base", tuple(months), calendar, None if agents is None else tuple(sorted(agents)))

    def make() -> Base:
        who = store.frame("agents").select("agent_id", pl.col(unit).alias("unit"))
        if agents is not None:
            who = who.filter(pl.col("agent_id").is_in(agents))
        lo, hi = months[0], month_end(months[-1])
        # each month file reduced to (unit, bucket, day …) sums before the next is read: a server's first view
        # never holds the months' day × agent rows together (+210 MB at bank scale, ~1 GB at 5× as one frame)

        def paid(df: pl.DataFrame) -> pl.DataFrame:
            df = df.filter(pl.col("day").is_between(lo, hi))
            df = df.join(who, on="agent_id") if agents is not None else \
                df.join(who, on="agent_id", how="left").with_columns(pl.col("unit").fill_null(NO_AGENT))
            return df.group_by("unit", "bucket", "day").agg(pl.col("cents").sum())

        def due(df: pl.DataFrame) -> pl.DataFrame:
            return held_cuts(df.filter(pl.col("day").is_between(lo, hi)).join(who, on="agent_id"), months, calendar)

        kept_from = month_start(lo, -KEPT_WINDOW_MONTHS)  # the kept rate's window starts before the months

        def settled(df: pl.DataFrame) -> pl.DataFrame:
            return df.filter(pl.col("day").is_between(kept_from, hi),
                             pl.col("status").is_in(RESOLVED_PROMISES)).join(who, on="agent_id").group_by(
                "unit", "bucket", pl.col("day").dt.month_start().alias("due_month")).agg(
                pl.col("cents").filter(pl.col("status") == "kept").sum().alias("kept"),
                pl.col("cents").sum().alias("res"), pl.col("n").sum().alias("n"))

        pays = store.per_month("payments_agent", lo, hi, paid)
        pipe = store.per_month("promise_pipeline", lo, hi, due) if store.has("promise_pipeline") else \
            due(pl.DataFrame(schema=PIPELINE_SCHEMA))
        resolved = store.per_month("promises_agent", kept_from, hi, settled) if store.has("promises_agent") else \
            settled(pl.DataFrame(schema={"day": pl.Date, "status": pl.String, "agent_id": pl.String,
                                         "bucket": pl.String, "n": pl.Int64, "cents": pl.Int64}))
        return build_base(pays, pipe, resolved, months, calendar)

    base = store.once(key, make)
    team = dict(store.frame("agents").select("agent_id", "team_id").iter_rows()) if agents is not None else \
        {u: u for u in base.units}
    return base, team


def _groups(store: Store, f: Filters, by: tuple[str, ...], team: dict[str, str]) -> dict[str, str]:
    """unit → group (the centre '', the team or the agency) for the units the team and channel filters keep."""
    keep = None
    if f.teams or f.channel:
        keep = set(store.frame("agents").filter(pl.col("agent_id").is_in(allowed_agents(store, f) or []))
                   .get_column("team_id").to_list())
    out = {}
    agency = _agency_of(store) if by == ("agency",) else {}
    for u, t in team.items():
        if t == NO_AGENT:  # payments without an agent: the centre's, as in `collected`, when nothing narrows it
            if not by and keep is None:
                out[u] = ""
            continue
        if t is None or (keep is not None and t not in keep):
            continue
        if not by:
            out[u] = ""
        elif by == ("team_id",):
            out[u] = t
        elif t in agency:
            out[u] = agency[t]
    return out


def _targets(store: Store, by: tuple[str, ...], f: Filters, month: dt.date) -> dict[str, float]:
    """group → the month's target (yuan), from the optional targets table (team targets summed)."""
    if not store.manifest.get("has_targets") or not store.has("targets") or f.buckets:
        return {}
    t = store.frame("targets").filter(pl.col("month") == month)  # the teams and channel, as target_achievement
    if f.teams:
        t = t.filter(pl.col("team_id").is_in(list(f.teams)))
    if f.channel:
        t = t.join(store.frame("teams").select("team_id", "channel"), on="team_id").filter(
            pl.col("channel") == f.channel)
    if by == ("team_id",):
        t = t.select(pl.col("team_id").alias("group"), "target_cents")
    elif by:
        t = t.join(agency_names(store).rename({"agency": "group"}), on="team_id")
    else:
        t = t.select(pl.lit("").alias("group"), "target_cents")
    if t.height == 0:
        return {}
    return {g: v / 100 for g, v in t.group_by("group").agg(pl.col("target_cents").sum()).iter_rows()}


def _first_month(store: Store) -> dt.date | None:
    months = store.month_starts("payments_agent")
    return months[0] if months else None


@metric("landing", name=("月末落地预测", "Month-end landing"),
        definition=(("按过去 12 个月同一工作日进度的累计占比，加上月内剩余到期承诺 × 同类承诺兑现率，预测当月回收总额，"
                     "附 80% 区间与达成目标的概率"),
                    ("The month's collected at month end, forecast from the cumulative share by working day of the "
                     "last 12 months plus promises due in the rest of the month × the kept rate of similar promises, "
                     "with an 80% interval and the probability of reaching the target")),
        numerator=("截至当日的当月回收金额", "collected in the month so far"),
        denominator=("团队月度目标（如有）", "the month's target (when targets exist)"),
        dims=LANDING_DIMS, unit="money", money_numerator=True)
def landing(store: Store, filters: Filters, by: tuple[str, ...] = (),
            calendar: WorkCalendar = CHINA_CALENDAR) -> pl.DataFrame:
    """The landing of the month of the period's end (as of that day, or the data's last day if earlier): value =
    landing, numerator = collected so far, denominator = target; extras low/high (80%), naive pace projection,
    pipeline, target, p_target, elapsed and total working days. Once the month is over (its last day is in),
    landing = collected and low, high and p_target are null."""
    if len(by) > 1 or (by and by[0] not in LANDING_DIMS):
        raise MetricError(f"landing can be broken down by one of {', '.join(LANDING_DIMS)}")
    if filters.nothing:
        return empty(by, EXTRA)
    require(store, "payments")
    first = _first_month(store)
    day = min(filters.end, store.as_of) if store.as_of else filters.end
    month = month_start(day)
    if first is None or first > month:
        return empty(by, EXTRA)
    past = past_months(month, first)
    months = [*reversed(past), month]
    base, team = _base(store, filters, months, calendar)
    groups = _groups(store, filters, by, team)
    c = curves(base, groups, filters.buckets)
    k = c.days[month].elapsed(day)
    agents = allowed_agents(store, filters)
    pays = store.frame("payments_agent", month, day).filter(pl.col("day").is_between(month, day))
    if agents is not None:
        pays = pays.filter(pl.col("agent_id").is_in(agents))
    if filters.buckets:
        pays = pays.filter(pl.col("bucket").is_in(list(filters.buckets)))
    unit = pl.col("agent_id") if filters.agents else pl.col("agent_id").replace_strict(
        dict(store.frame("agents").select("agent_id", "team_id").iter_rows()), default=None).fill_null(NO_AGENT)
    pays = pays.with_columns(unit.replace_strict(groups, default=None, return_dtype=pl.String).alias("group"))
    now = dict(pays.drop_nulls("group").group_by("group").agg(pl.col("cents").sum()).iter_rows())
    targets = _targets(store, by, filters, month)
    names = sorted(c.groups, key=c.groups.__getitem__)  # every group the curves hold (`now`'s are among them)
    rows = np.arange(len(names))
    got = forecast_rows(c, rows, month, k, np.array([float(now.get(g, 0)) for g in names]),
                        c.pipe[rows, c.months[month], k], past)
    over = day >= month_end(month)  # the month is over: it landed where it is, no interval, no probability
    w = c.days[month].count
    out = []
    for i in np.flatnonzero(got.ok):
        g = names[i]
        result = got.one(i)
        if over:
            result = replace(result, pipeline=0.0, landing=result.collected)
        tgt = targets.get(g)
        out.append({"group": g, "numerator": result.collected, "denominator": tgt, "value": result.landing,
                    "low": None if over else result.low, "high": None if over else result.high,
                    "naive": result.naive, "pipeline": result.pipeline,
                    "target": tgt, "p_target": None if over else result.p_reach(tgt * 100 if tgt else None),
                    "elapsed_days": float(k), "working_days": float(w)})
    if not out:
        if not by:
            raise MetricUnavailable(f"the landing forecast needs at least {MIN_HISTORY} earlier months with "
                                    "payments", zh=f"落地预测至少需要此前 {MIN_HISTORY} 个月的还款数据")
        return empty(by, EXTRA)
    df = pl.DataFrame(out, schema={"group": pl.String, **{c: pl.Float64 for c in
                                                           ("numerator", "denominator", "value", *EXTRA)}})
    cents = ("numerator", "value", "low", "high", "naive", "pipeline")
    df = df.with_columns(money(pl.col(x)).alias(x) for x in cents)
    cols = [*(pl.col("group").alias(by[0]) for _ in by[:1]), "numerator", "denominator", "value", *EXTRA]
    return df.select(cols).sort(list(by) or "value")


# ---------------------------------------------------------------- backtest


def backtest(store: Store, filters: Filters, months: int = HISTORY_MONTHS,
             calendar: WorkCalendar = CHINA_CALENDAR) -> pl.DataFrame:
    """The forecast made on each working day of each of the last `months` complete months (from the data as it
    would have stood that day: payments up to the day, promises made by then) against the month's actual:
    month, k (working day), actual, landing, low, high, naive — all yuan. Centre level for the filters."""
    first = _first_month(store)
    if first is None or filters.nothing or store.as_of is None:
        return pl.DataFrame(schema=BACKTEST_SCHEMA)
    last = month_start(store.as_of, -1) if store.as_of < month_end(store.as_of) else month_start(store.as_of)
    tested = [m for m in (month_start(last, -i) for i in range(months)) if m >= first][::-1]
    span = sorted({*tested, *(p for m in tested for p in past_months(m, first))})
    if not tested:
        return pl.DataFrame(schema=BACKTEST_SCHEMA)
    base, team = _base(store, filters, span, calendar)
    c = curves(base, _groups(store, filters, (), team), filters.buckets)
    rows = []
    for m in tested:
        actual = float(c.total[c.groups[""], c.months[m]]) if "" in c.groups else 0.0
        if actual <= 0:
            continue
        for k in range(1, c.days[m].count + 1):
            cum, pipe = _at(c, ("", m), k)
            r = forecast(c, "", m, k, cum, pipe, past_months(m, first))
            if r is None:
                break
            rows.append((m, k, actual / 100, r.landing / 100, r.low / 100, r.high / 100,
                         r.naive / 100 if r.naive is not None else None))
    return pl.DataFrame(rows, schema=BACKTEST_SCHEMA, orient="row")


BACKTEST_SCHEMA = {"month": pl.Date, "k": pl.Int32, "actual": pl.Float64, "landing": pl.Float64,
                   "low": pl.Float64, "high": pl.Float64, "naive": pl.Float64}


def backtest_summary(bt: pl.DataFrame) -> pl.DataFrame:
    """MAPE of the landing and of the naive projection by working day, with the interval's coverage."""
    err = bt.with_columns(((pl.col("landing") - pl.col("actual")).abs() / pl.col("actual")).alias("ape"),
                          ((pl.col("naive") - pl.col("actual")).abs() / pl.col("actual")).alias("ape_naive"),
                          pl.col("actual").is_between(pl.col("low"), pl.col("high")).alias("covered"))
    return err.group_by("k").agg(pl.len().alias("months"), pl.col("ape").mean().alias("mape"),
                                 pl.col("ape_naive").mean().alias("mape_naive"),
                                 pl.col("covered").mean().alias("coverage")).sort("k")


def backtest_totals(bt: pl.DataFrame) -> dict[str, float | None]:
    """Over every forecast of the backtest: mean MAPE of landing and naive, and the interval's coverage."""
    if bt.height == 0:
        return {"mape": None, "mape_naive": None, "coverage": None, "forecasts": 0}
    s = bt.select(((pl.col("landing") - pl.col("actual")).abs() / pl.col("actual")).mean().alias("mape"),
                  ((pl.col("naive") - pl.col("actual")).abs() / pl.col("actual")).mean().alias("mape_naive"),
                  pl.col("actual").is_between(pl.col("low"), pl.col("high")).mean().alias("coverage"))
    return {**s.row(0, named=True), "forecasts": bt.height}


__all__ = ["backtest", "backtest_summary", "backtest_totals", "curves", "forecast", "landing", "month_days"]
