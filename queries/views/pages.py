"""What each dashboard page shows, composed from registry metric calls (no metric arithmetic here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from queries.dates import (
    CHINA_CALENDAR,
    month_end,
    month_start,
    same_weekday_last_month,
    shift_months,
)
from queries.filters import Filters
from queries.metrics import MetricError, MetricUnavailable
from queries.metrics.agency import SCORE_MONTHS
from queries.metrics.base import filter_frame, require
from queries.metrics.forecast import backtest, backtest_summary, backtest_totals
from queries.metrics.registry import compute
from queries.store import Store


@dataclass(frozen=True)
class Options:
    """Choices for the filter sidebar, read from the store's dimensions."""

    teams: tuple[tuple[str, str, str], ...]  # (team_id, team_name, channel)
    agents: tuple[tuple[str, str, str], ...]  # (agent_id, agent_name, team_id)
    buckets: tuple[str, ...]
    products: tuple[str, ...]
    regions: tuple[str, ...]
    snapshots: tuple[dt.date, ...]
    as_of: dt.date
    first_day: dt.date


def filter_options(store: Store) -> Options:
    """Teams, agents, buckets, products, regions and snapshot dates present in the store."""
    teams = store.frame("teams").sort("team_id")
    agents = store.frame("agents").sort("agent_id")
    cases = store.scan("placements").select("product", "region").unique().collect()
    as_of = store.as_of or dt.date.today()
    snaps = store.snapshots
    return Options(
        teams=tuple(teams.select("team_id", "team_name", "channel").iter_rows()),
        agents=tuple(agents.select("agent_id", "agent_name", "team_id").iter_rows()),
        buckets=store.bounds.labels,
        products=tuple(sorted(v for v in cases.get_column("product").unique().to_list() if v and v != "unknown")),
        regions=tuple(sorted(v for v in cases.get_column("region").unique().to_list() if v and v != "unknown")),
        snapshots=tuple(store.snapshots),
        as_of=as_of,
        first_day=min(snaps) if snaps else as_of,
    )


def _one(df: pl.DataFrame, col: str = "value") -> float | None:
    return df.get_column(col)[0] if df.height else None


def _kpis_for(store: Store, f: Filters, day: dt.date) -> dict:
    today = f.with_dates(day, day)
    mtd = f.with_dates(day.replace(day=1), day)
    out = {"day": day}
    out["collected_today"] = _one(compute("collected", store, today))
    col_mtd = compute("collected", store, mtd)
    out["collected_mtd"] = _one(col_mtd)
    out["payments_mtd"] = _one(col_mtd, "payments")
    out["recovery_rate_mtd"] = _one(compute("recovery_rate", store, mtd))
    out["paying_accounts_mtd"] = _one(compute("paying_accounts", store, mtd)) or 0
    try:
        ach = compute("target_achievement", store, mtd)
        out["achievement"], out["pace"], out["target"] = _one(ach), _one(ach, "pace"), _one(ach, "denominator")
    except MetricUnavailable:
        out["achievement"] = out["pace"] = out["target"] = None
    out["ptp_due_today"], out["ptp_due_amount"] = _ptp_due(store, today)
    return out


def _ptp_due(store: Store, day: Filters) -> tuple[float | None, float | None]:
    """Promises due on a day (resolved or pending) and their amount; None, None when the source has no promises
    at all (no count rather than a zero that looks real)."""
    try:
        due = compute("ptp_kept_rate", store, day)
    except MetricUnavailable:
        return None, None
    if not due.height:
        return 0, None
    return (_one(due, "denominator") or 0) + (_one(due, "pending") or 0), _one(due, "due_amount")


def daily_kpis(store: Store, f: Filters) -> dict:
    """KPI values for the period's last day and for the same day last month: {'now': …, 'last_month': …};
    'same_weekday': the day's collected and PTPs due on the same weekday last month (a Sunday against a Sunday:
    collections follow the week); 'calendar_unknown': the years whose working days the calendar does not know
    (pace assumes Monday–Friday)."""
    last_month = shift_months(f.end, -1)
    wd = same_weekday_last_month(f.end)
    day = f.with_dates(wd, wd)
    same = {"day": wd, "collected_today": _one(compute("collected", store, day)),
            "ptp_due_today": _ptp_due(store, day)[0]}
    return {"now": _kpis_for(store, f, f.end), "last_month": _kpis_for(store, f, last_month), "same_weekday": same,
            "calendar_unknown": CHINA_CALENDAR.unknown_years(month_start(last_month), month_end(f.end)),
            "landing": landing_now(store, f)}


def landing_now(store: Store, f: Filters) -> dict | None:
    """The month-end landing of the period's end month for the filters: value, low, high (80%), naive, target,
    p_target, pipeline; None when it cannot be forecast (too little history, a product or region filter)."""
    try:
        df = compute("landing", store, f.with_dates(month_start(f.end), f.end))
    except (MetricUnavailable, MetricError):
        return None
    return df.row(0, named=True) if df.height else None


def daily_series(store: Store, f: Filters) -> pl.DataFrame:
    """Per day of the period: collected, cumulative collected in its month, and the month's target."""
    col = compute("collected", store, f, ("day",)).select("day", pl.col("value").alias("collected"))
    days = pl.DataFrame({"day": pl.date_range(f.start, f.end, "1d", eager=True)})
    out = days.join(col, on="day", how="left").with_columns(pl.col("collected").fill_null(0.0))
    out = out.with_columns(pl.col("day").dt.month_start().alias("month"))
    out = out.with_columns(pl.col("collected").cum_sum().over("month").alias("cumulative"))
    try:
        tgt = compute("target_achievement", store, f, ("month",)).select("month", pl.col("denominator").alias("target"))
        out = out.join(tgt, on="month", how="left")
    except MetricUnavailable:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("target"))
    return out.drop("month") if col.height else out.clear().drop("month")


def by_team(store: Store, f: Filters) -> pl.DataFrame:
    """Per team: collected, target, what the working-day calendar expects by the period's end, achievement and
    pace (nulls without targets)."""
    col = compute("collected", store, f, ("team_id",)).select("team_id", pl.col("value").alias("collected"))
    try:
        ach = compute("target_achievement", store, f, ("team_id",)).select(
            "team_id", pl.col("denominator").alias("target"), "expected", pl.col("value").alias("achievement"),
            "pace")
        col = col.join(ach, on="team_id", how="left")
    except MetricUnavailable:
        col = col.with_columns(pl.lit(None, pl.Float64).alias(c) for c in ("target", "expected", "achievement",
                                                                            "pace"))
    return _team_names(store, _with_landing(store, f, col)).filter(pl.col("collected") > 0)


LANDING_COLUMNS = ("landing", "landing_low", "landing_high", "p_target")


def _with_landing(store: Store, f: Filters, teams: pl.DataFrame) -> pl.DataFrame:
    """Each team's month-end landing (80% interval, P(target)) for the period's end month (nulls when it cannot be
    forecast)."""
    try:
        land = compute("landing", store, f.with_dates(month_start(f.end), f.end), ("team_id",)).select(
            "team_id", pl.col("value").alias("landing"), pl.col("low").alias("landing_low"),
            pl.col("high").alias("landing_high"), "p_target")
    except (MetricUnavailable, MetricError):
        return teams.with_columns(pl.lit(None, pl.Float64).alias(c) for c in LANDING_COLUMNS)
    return teams.join(land, on="team_id", how="left")


def by_bucket(store: Store, f: Filters) -> pl.DataFrame:
    """Per opening bucket: collected and recovery rate."""
    col = compute("collected", store, f, ("bucket",)).select("bucket", pl.col("value").alias("collected"))
    rr = compute("recovery_rate", store, f, ("bucket",)).select(
        "bucket", pl.col("value").alias("recovery_rate"), pl.col("denominator").alias("opening_balance"))
    out = col.join(rr, on="bucket", how="full", coalesce=True).with_columns(pl.col("collected").fill_null(0.0))
    order = {b: i for i, b in enumerate(store.bounds.labels)}
    return out.filter((pl.col("collected") > 0) | (pl.col("opening_balance") > 0)).sort(
        pl.col("bucket").replace_strict(order, default=99))


def _team_names(store: Store, df: pl.DataFrame) -> pl.DataFrame:
    teams = store.frame("teams").select("team_id", "team_name", "channel")
    return df.join(teams, on="team_id", how="left")


def _optional(make: Callable[[], pl.DataFrame], columns: tuple[str, ...]) -> pl.DataFrame:
    """A metric's columns, or null columns (never zeros) when its source table holds no rows."""
    try:
        return make()
    except MetricUnavailable:
        return pl.DataFrame(schema={"agent_id": pl.String, **dict.fromkeys(columns, pl.Float64)})


#: Leaderboard columns where more is better, flagged when an agent is below their own team's median.
COACHING = ("collected", "recovery_rate", "attempts", "contact_rate", "rpc_rate", "ptp_rate", "ptp_kept_rate")


def leaderboard(store: Store, f: Filters) -> pl.DataFrame:
    """One row per agent with every per-agent metric, a daily-collected series, a rank by collected and
    `below_median`: the COACHING columns where the agent is below their own team's median.

    Needs contacts (MetricUnavailable without any); promise and complaint columns stay null without them."""
    by = ("agent_id",)
    col = compute("collected", store, f, by).select("agent_id", pl.col("value").alias("collected"),
                                                     pl.col("payments").alias("paid"))
    parts = [
        compute("recovery_rate", store, f, by).select("agent_id", pl.col("value").alias("recovery_rate")),
        compute("contact_rate", store, f, by).select("agent_id", pl.col("denominator").alias("attempts"),
                                                     pl.col("numerator").alias("contacts"),
                                                     pl.col("value").alias("contact_rate")),
        compute("rpc_rate", store, f, by).select("agent_id", pl.col("numerator").alias("rpc"),
                                                 pl.col("value").alias("rpc_rate")),
        compute("ptp_rate", store, f, by).select("agent_id", pl.col("numerator").alias("ptp"),
                                                 pl.col("value").alias("ptp_rate")),
        _optional(lambda: compute("ptp_kept_rate", store, f, by).select(
            "agent_id", pl.col("numerator").alias("kept"), pl.col("value").alias("ptp_kept_rate")),
            ("kept", "ptp_kept_rate")),
        _optional(lambda: compute("complaint_rate", store, f, by).select(
            "agent_id", pl.col("numerator").alias("complaints")), ("complaints",)),
        compute("after_hours_rate", store, f, by).select("agent_id", pl.col("numerator").alias("after_hours")),
        compute("over_frequency", store, f, by).select("agent_id", pl.col("numerator").alias("over_frequency")),
    ]
    out = col
    for p in parts:
        out = out.join(p, on="agent_id", how="full", coalesce=True)
    out = out.filter(pl.col("agent_id").is_not_null())
    if out.height == 0:
        return out
    counts = ["collected", "paid", "attempts", "contacts", "rpc", "ptp", "after_hours", "over_frequency"]
    counts += [c for c, table in (("kept", "promises"), ("complaints", "complaints")) if store.holds(table)]
    out = out.with_columns(pl.col(counts).fill_null(0.0))
    daily = compute("collected", store, f, ("agent_id", "day")).select("agent_id", "day", "value")
    grid = (out.select("agent_id").join(pl.DataFrame({"day": pl.date_range(f.start, f.end, "1d", eager=True)}),
                                        how="cross")
            .join(daily, on=["agent_id", "day"], how="left").with_columns(pl.col("value").fill_null(0.0)))
    spark = grid.sort("day").group_by("agent_id").agg(pl.col("value").alias("daily"))
    agents = store.frame("agents").select("agent_id", "agent_name", "team_id")
    out = out.join(spark, on="agent_id", how="left").join(agents, on="agent_id", how="left")
    out = _team_names(store, out).sort(["collected", "agent_id"], descending=[True, False])
    out = out.with_columns(pl.int_range(1, pl.len() + 1).alias("rank"))
    return out.join(_below_team_median(store, f, out), on="agent_id", how="left")


def _below_team_median(store: Store, f: Filters, board: pl.DataFrame) -> pl.DataFrame:
    """Per agent: the COACHING columns where the agent is below the median of every agent of their own team
    (same period and bucket, product, region filters: the agents picked in the sidebar do not narrow a team)."""
    teams = leaderboard(store, _whole_teams(f)) if f.agents else board
    medians = teams.group_by("team_id").agg(pl.col(c).median().alias(f"_m_{c}") for c in COACHING)
    flagged = board.select("agent_id", "team_id", *COACHING).join(medians, on="team_id", how="left")
    return flagged.select("agent_id", pl.concat_list(
        pl.when(pl.col(c) < pl.col(f"_m_{c}")).then(pl.lit(c)) for c in COACHING).list.drop_nulls()
        .alias("below_median"))




#: How much of the leaderboard to show: the top or bottom N by rank, or every agent.
LEADERBOARD_SHOWS = ("top", "bottom", "all")
#: The N of a large centre's leaderboard (the whole board of 500 agents is slow to draw and to read).
LEADERBOARD_TOP = 50
#: A board of up to this many agents is shown whole by default: hiding the weakest hides who needs coaching.
LEADERBOARD_FITS = 100


def leaderboard_rows(board: pl.DataFrame, show: str = "top", search: str = "", n: int = LEADERBOARD_TOP) -> pl.DataFrame:
    """The leaderboard rows to display: agents matching `search` (id or name), then the top/bottom `n` by rank."""
    if show not in LEADERBOARD_SHOWS:
        raise ValueError(f"show must be one of {LEADERBOARD_SHOWS}, not {show!r}")
    out = board
    needle = search.strip().lower()
    if needle:
        out = out.filter(pl.col("agent_id").str.to_lowercase().str.contains(needle, literal=True)
                         | pl.col("agent_name").fill_null("").str.to_lowercase().str.contains(needle, literal=True))
    out = out.sort("rank")
    if show == "top":
        return out.head(n)
    if show == "bottom":
        return out.tail(n).reverse()
    return out


FUNNEL = ("attempts", "contacts", "rpc", "ptp", "kept", "paid")


def _whole_teams(f: Filters) -> Filters:
    """The filters without an agent selection: a team median is over the whole team, not the agents picked."""
    return replace(f, agents=())


def funnel(store: Store, f: Filters, agent_id: str) -> pl.DataFrame:
    """Funnel stages for one agent and the median of every agent of that agent's team (same period and bucket,
    product and region filters, whichever agents the sidebar picks)."""
    board = leaderboard(store, _whole_teams(f))
    me = board.filter(pl.col("agent_id") == agent_id)
    if me.height == 0 or (f.agents and agent_id not in f.agents):
        return pl.DataFrame(schema={"stage": pl.String, "agent": pl.Float64, "team_median": pl.Float64})
    team = me.get_column("team_id")[0]
    mates = board.filter(pl.col("team_id") == team)
    stages = [s for s in FUNNEL if me.get_column(s)[0] is not None]  # kept is null without promises
    return pl.DataFrame({
        "stage": stages,
        "agent": [float(me.get_column(s)[0]) for s in stages],
        "team_median": [float(mates.get_column(s).median()) for s in stages],
    })


#: Attempts below which an hour's RPC rate is too noisy to colour (the heatmap greys it and shows the count).
MIN_HOUR_ATTEMPTS = 20


def hourly_rpc(store: Store, f: Filters, min_attempts: int = MIN_HOUR_ATTEMPTS) -> pl.DataFrame:
    """RPC rate by hour of day per team, or per agent once teams or agents are chosen; `thin` marks cells with
    fewer than `min_attempts` attempts."""
    if f.teams or f.agents:
        out = compute("rpc_rate", store, f, ("agent_id", "hour")).rename({"agent_id": "who_id"})
        names = store.frame("agents").select(pl.col("agent_id").alias("who_id"), pl.col("agent_name").alias("who_name"))
    else:
        out = compute("rpc_rate", store, f, ("team_id", "hour")).rename({"team_id": "who_id"})
        names = store.frame("teams").select(pl.col("team_id").alias("who_id"), pl.col("team_name").alias("who_name"))
    return out.join(names, on="who_id", how="left").with_columns(
        (pl.col("denominator") < min_attempts).alias("thin"))


def open_complaints(store: Store, f: Filters, sla_days: int) -> pl.DataFrame:
    """Complaints still open at the period's end (received any time before), with age against the SLA.

    MetricUnavailable when the source holds no complaints at all (an empty list would read as "none open")."""
    require(store, "complaints")
    df = store.frame("complaints")
    first = df.get_column("day").min() or f.end
    df = filter_frame(store, df, f, date_range=(first, f.end)).filter(pl.col("status") == "open")
    df = df.with_columns((pl.lit(f.end) - pl.col("day")).dt.total_days().alias("age_days"))
    agents = store.frame("agents").select("agent_id", "agent_name", "team_id")
    return (df.join(agents, on="agent_id", how="left")
            .with_columns((pl.col("age_days") > sla_days).alias("over_sla"))
            .select("complaint_id", "case_id", "received_at", "category", "source", "severity", "agent_id",
                    "agent_name", "team_id", "age_days", "over_sla")
            .sort("age_days", descending=True))


def snapshot_window(f: Filters, snapshot: dt.date, months: int = 12) -> Filters:
    """The period of the `months` month-end snapshots up to `snapshot` (roll and cure trends)."""
    return f.with_dates(shift_months(snapshot.replace(day=1), -(months - 1)), snapshot)


def trend_window(f: Filters, months: int = 13) -> Filters:
    """The period widened to at least `months` whole months ending with the period's last month."""
    start = min(f.start, shift_months(f.end.replace(day=1), -(months - 1)))
    return f.with_dates(start, f.end)


def monthly(store: Store, f: Filters) -> pl.DataFrame:
    """Per month: collected and recovery rate with MoM and YoY (reads a year back).

    `through` is set on a month still running: its changes compare the same days (see _like_for_like).
    """
    wide = f.with_dates(shift_months(f.start.replace(day=1), -12), f.end)
    col = compute("collected", store, wide, ("month",)).select("month", pl.col("value").alias("collected"))
    rr = compute("recovery_rate", store, wide, ("month",)).select(
        "month", pl.col("value").alias("recovery_rate"), pl.col("denominator").alias("opening_balance"))
    out = col.join(rr, on="month", how="full", coalesce=True).sort("month")
    # Months before the first with any payment are before the data's history (their opening balances come from
    # older cases): comparing with them would report a month's own rate as its change.
    first = col.get_column("month").min()
    out = out.filter(pl.col("month") >= first) if first is not None else out.clear()
    prev = out.select(pl.col("month").dt.offset_by("1mo").alias("month"),
                      pl.col("collected").alias("_prev"), pl.col("recovery_rate").alias("_prev_rr"))
    year = out.select(pl.col("month").dt.offset_by("12mo").alias("month"),
                      pl.col("collected").alias("_year"), pl.col("recovery_rate").alias("_year_rr"))
    out = out.join(prev, on="month", how="left").join(year, on="month", how="left").with_columns(
        (pl.col("collected") / pl.col("_prev") - 1).alias("mom"),
        (pl.col("collected") / pl.col("_year") - 1).alias("yoy"),
        (pl.col("recovery_rate") - pl.col("_prev_rr")).alias("mom_rr_pp"),
        (pl.col("recovery_rate") - pl.col("_year_rr")).alias("yoy_rr_pp"),
    ).drop("_prev", "_year", "_prev_rr", "_year_rr")
    out = out.filter(pl.col("month") >= f.start.replace(day=1)).with_columns(
        pl.lit(None, pl.Date).alias("through"))
    return _like_for_like(store, f, out, first)


def _same_days(m0: dt.date, through: dt.date, months_back: int) -> tuple[dt.date, dt.date]:
    """The first days of an earlier month matching m0 … through (clamped to that month's end)."""
    start = shift_months(m0, -months_back)
    last = shift_months(start, 1) - dt.timedelta(days=1)
    return start, min(start + (through - m0), last)


def _like_for_like(store: Store, f: Filters, out: pl.DataFrame, first: dt.date | None) -> pl.DataFrame:
    """A month still running is compared with the same days of the month before and a year before.

    Comparing 22 days of this month with whole earlier months would show a fall that is not there.
    """
    m0 = f.end.replace(day=1)
    if out.is_empty() or shift_months(m0, 1) - dt.timedelta(days=1) == f.end or out["month"][-1] != m0:
        return out
    cur = f.with_dates(m0, f.end)
    col_now = _one(compute("collected", store, cur))
    rr_now = _one(compute("recovery_rate", store, cur))
    change: dict[str, float | None] = {}
    for back, tag in ((1, "mom"), (12, "yoy")):
        then = f.with_dates(*_same_days(m0, f.end, back))
        if first is None or then.start < first:  # no history that far back
            change[tag] = change[f"{tag}_rr_pp"] = None
            continue
        col_then, rr_then = _one(compute("collected", store, then)), _one(compute("recovery_rate", store, then))
        change[tag] = col_now / col_then - 1 if col_now is not None and col_then else None
        change[f"{tag}_rr_pp"] = rr_now - rr_then if rr_now is not None and rr_then is not None else None
    last = out.height - 1
    return out.with_columns(
        *[pl.when(pl.int_range(pl.len()) == last).then(pl.lit(v, pl.Float64)).otherwise(pl.col(k)).alias(k)
          for k, v in change.items()],
        pl.when(pl.int_range(pl.len()) == last).then(pl.lit(f.end)).otherwise(pl.col("through")).alias("through"))


def by_channel_month(store: Store, f: Filters) -> pl.DataFrame:
    """Per month and channel (in-house / agency): collected, recovery rate, contact and PTP kept rates."""
    by = ("month", "channel")
    out = compute("collected", store, f, by).select(*by, pl.col("value").alias("collected"))
    for key in ("recovery_rate", "contact_rate", "ptp_kept_rate"):
        try:
            part = compute(key, store, f, by).select(*by, pl.col("value").alias(key))
        except MetricUnavailable:  # no contacts or promises at all: the rate stays null
            part = pl.DataFrame(schema={"month": pl.Date, "channel": pl.String, key: pl.Float64})
        out = out.join(part, on=list(by), how="full", coalesce=True)
    return out.filter(pl.col("channel").is_not_null()).sort(list(by))


def roll_trend(store: Store, f: Filters, basis: str = "balance") -> pl.DataFrame:
    """Roll rate of each bucket into the next one (k → k+1) per snapshot month."""
    out = compute("roll_rate", store, f, ("month",), basis=basis)
    labels = list(store.bounds.labels)
    nxt = {a: b for a, b in zip(labels, labels[1:], strict=False)}
    return out.filter(pl.col("to_bucket") == pl.col("from_bucket").replace_strict(nxt, default=None)).with_columns(
        pl.format("{}→{}", "from_bucket", "to_bucket").alias("pair")).sort("month", "from_bucket")


def landing_backtest(store: Store, f: Filters) -> pl.DataFrame:
    """The landing forecast's backtest over the last 12 complete months for the filters' teams and buckets, by
    working day: months, MAPE of the landing and of the naive pace projection, the 80% interval's coverage."""
    return backtest_summary(backtest(store, f))


def landing_backtest_total(store: Store, f: Filters) -> pl.DataFrame:
    """The same over every working day: forecasts, MAPE of the landing and of the naive projection, coverage."""
    totals = backtest_totals(backtest(store, f))
    return pl.DataFrame([totals] if totals["forecasts"] else [],
                        schema={"mape": pl.Float64, "mape_naive": pl.Float64, "coverage": pl.Float64,
                                "forecasts": pl.Int64})


def agency_vintages(store: Store, f: Filters) -> pl.DataFrame:
    """Placement vintages of the agencies and in-house teams placed in the period's months (agency_liquidation)."""
    return compute("agency_liquidation", store, f)


def agency_scorecard(store: Store, f: Filters) -> pl.DataFrame:
    """The agencies ranked on the period's placement months (agency_score) with their parts."""
    return compute("agency_score", store, f)


def agency_mature_month(store: Store, f: Filters) -> pl.DataFrame:
    """The latest placement month of the period whose third month after placement has ended (one row, or none)."""
    v = compute("agency_liquidation", store, f)
    return v.filter(pl.col("months_since") == SCORE_MONTHS, ~pl.col("immature")).select(
        pl.col("placed_month").max()).drop_nulls()
