"""Agencies (委外) judged on the same placement vintages: liquidation of the cases each holder took in a month.

A case's **holder** at a month-end is the team of the agent its month-end snapshot assigns it to — for a team
with channel `agency`, the agency (`teams.agency_name`; all its teams together), for an in-house team the team.
A case is **placed** with a holder in month m when its month-end snapshot of m puts it with that holder and the
one of m − 1 did not (another holder, or the case was not there); cases of the first snapshot month are not
placements (where they came from is unknown). The placement's balance and bucket are those of the snapshot.

A payment in month p counts for the placement when the case was still with the holder at the end of p − 1:
months_since = p − m (1, 2, …). The placement ends at the first month-end with another holder: **recalled**
when that is an in-house team (from an agency), **transferred** when it is another agency, closed when the
case is no longer in the snapshot.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.dates import month_index, month_index_expr, month_starts
from queries.filters import Filters
from queries.metrics.base import (
    MetricError,
    MetricUnavailable,
    allowed_agents,
    empty,
    memoised,
    money,
    ratio,
    require,
)
from queries.metrics.declare import metric
from queries.metrics.distinct import distinct_cases
from queries.rounding import halves_away
from queries.store import Store

VINTAGE_DIMS = ("holder", "placed_month", "months_since")
VINTAGE_EXTRA = ("kind", "placed", "recalled", "transferred", "immature")
IN_HOUSE, AGENCY = "in_house", "agency"


#: The agency cells the sync writes (queries.sync.agency, store table agency_cells): per holder, team, bucket and
#: placement month (start), months_since 0 holds the placements (placed cases, cents at placement), months_since
#: k ≥ 1 the payments while held in the k-th month (paid cents, fee: commission in FEE_UNITS) and the cases moved
#: then (rec: recalled to in-house, tra: transferred to another agency).
CELLS = {"holder": pl.String, "kind": pl.String, "team_id": pl.String, "bucket": pl.String, "start": pl.Date,
         "months_since": pl.Int32, "placed": pl.UInt32, "cents": pl.Int64, "paid": pl.Int64, "fee": pl.Int64,
         "rec": pl.UInt32, "tra": pl.UInt32}


def agency_teams(teams: pl.DataFrame) -> pl.DataFrame:
    """team_id → agency (its agency_name; the team id when the name is missing) for the teams with channel agency:
    the one place an agency is told from its teams (an agency's teams count together)."""
    teams = teams.filter(pl.col("channel") == AGENCY)
    name = pl.col("agency_name") if "agency_name" in teams.columns else pl.lit(None, pl.String)
    return teams.select("team_id", pl.coalesce(name, pl.col("team_id")).alias("agency"))


def agency_names(store: Store) -> pl.DataFrame:
    """agency_teams of the store's teams."""
    return agency_teams(store.frame("teams"))


def holders(teams: pl.DataFrame, agents: pl.DataFrame) -> pl.DataFrame:
    """agent_id → team_id, holder (agency name or team id) and kind (agency | in_house)."""
    who = teams.select("team_id", "channel").join(agency_teams(teams), on="team_id", how="left")
    who = who.select("team_id", pl.coalesce("agency", "team_id").alias("holder"),
                     pl.when(pl.col("channel") == AGENCY).then(pl.lit(AGENCY)).otherwise(pl.lit(IN_HOUSE))
                     .alias("kind"))
    return agents.select("agent_id", "team_id").join(who, on="team_id", how="left")


def _empty(by: tuple[str, ...]) -> pl.DataFrame:
    """No vintages, with the extras' types (kind text, immature a flag)."""
    return empty(by, VINTAGE_EXTRA).with_columns(pl.col("kind").cast(pl.String), pl.col("immature").cast(pl.Boolean))


def _cells(store: Store) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The placements (months_since 0) and the later months of the store's agency cells."""
    cells = store.frame("agency_cells")
    return cells.filter(pl.col("months_since") == 0), cells.filter(pl.col("months_since") > 0)


def has_fees(store: Store) -> bool:
    """Whether the store holds agency commission rates (the optional agency_fees table, with rows)."""
    return store.has("agency_fees") and store.frame("agency_fees").height > 0


#: Commission is kept exactly, in units of 1/10,000 of a cent: a payment's cents × its rate in the contract's four
#: decimals (NUMERIC(6,4)) as an integer. Summed as integers, a total is the same in every sync and on every machine;
#: it is rounded to the cent once, halves away from zero (四舍五入), where it is shown.
FEE_UNITS = 10_000


def rates(fees: pl.DataFrame) -> pl.DataFrame:
    """team_id, effective_from, rate, units: the usable commission rates (0–1; one per team and day, the higher),
    units being the rate in 1/10,000 (the contract's four decimals) as an integer."""
    return (fees.filter(pl.col("rate").is_between(0.0, 1.0))
            .group_by("team_id", "effective_from").agg(pl.col("rate").max()).sort("effective_from")
            .with_columns((pl.col("rate") * FEE_UNITS).round(0).cast(pl.Int64).alias("units")))


def fee_cents(units: pl.Expr) -> pl.Expr:
    """A commission total in FEE_UNITS as whole cents, halves away from zero (四舍五入: 2.5 fen is 3, −2.5 is −3:
    a total of reversals rounds as its opposite would)."""
    whole = halves_away(units, FEE_UNITS)
    return pl.when(units < 0).then(-whole).otherwise(whole)


def placement_filter(store: Store, filters: Filters) -> list[pl.Expr]:
    """The conditions on placements (team_id, bucket, start: cells or cases) that the filters ask for, the placement
    months first."""
    months = month_starts(filters.start, filters.end)
    keep = [pl.col("start").is_between(months[0], months[-1])]
    agents = allowed_agents(store, filters)
    if agents is not None:
        teams = store.frame("agents").filter(pl.col("agent_id").is_in(agents)).get_column("team_id").unique()
        keep.append(pl.col("team_id").is_in(teams.to_list()))
    if filters.buckets:
        keep.append(pl.col("bucket").is_in(list(filters.buckets)))
    return keep


@metric("agency_liquidation", name=("委外批次清收率", "Placement vintage liquidation"),
        definition=(("按委案批次（案件月末归属转入该机构或团队的月份）比较：委案后第 1…n 个月内、案件仍由其持有时的累计还款 ÷ "
                     "委案时余额；同一批次月份比较各委外机构与自营团队，未满月的单元格标记为未成熟"),
                    ("Placement vintages (the month a case's month-end assignment moves to the agency or team): "
                     "payments in the 1…n months after placement while the case is still with it ÷ balance at "
                     "placement; agencies and in-house teams compared on the same placement months, cells whose "
                     "month has not ended flagged immature")),
        numerator=("委案后仍持有期间的累计还款", "cumulative payments while still held"),
        denominator=("委案时余额", "balance at placement"), dims=VINTAGE_DIMS, unit="rate", money_numerator=True)
def agency_liquidation(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Liquidation of each holder's placement vintages by months since placement; extras: kind, placed (cases),
    recalled and transferred (cases moved by then), immature. Memoised per store version, placement months and
    filters (the last 32): the agency page asks for the vintages three times (the scorecard, the curves, the
    mature month)."""
    by = tuple(dict.fromkeys(("holder", "placed_month", "months_since", *by)))
    if set(by) - set(VINTAGE_DIMS):
        raise MetricError(f"agency_liquidation is by {', '.join(VINTAGE_DIMS)}")
    if filters.nothing:
        return _empty(by)
    if filters.products or filters.regions:
        raise MetricError("placement vintages are by holder and bucket; clear the product and region filters")
    months = month_starts(filters.start, filters.end)  # the vintages depend on the period's months only
    key = ("agency_liquidation", months[0], months[-1], filters.teams, filters.agents, filters.channel,
           filters.buckets, by)
    return memoised(store, key, lambda: _vintages(store, filters, by))


def _vintages(store: Store, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """agency_liquidation, computed."""
    placed, later = (df.filter(*placement_filter(store, filters)) for df in _cells(store))
    if placed.height == 0:
        return _empty(by)
    as_of = store.as_of or dt.date.today()
    den = placed.group_by("holder", "start").agg(pl.col("kind").first(), pl.col("placed").sum(),
                                                  pl.col("cents").sum().alias("den"))
    grid = den.with_columns((pl.lit(month_index(as_of)) - month_index_expr(pl.col("start"))).alias("_max")) \
        .filter(pl.col("_max") >= 1).with_columns(
        pl.int_ranges(1, pl.col("_max") + 1, dtype=pl.Int32).alias("months_since")).explode("months_since")
    later = later.group_by("holder", "start", "months_since").agg(pl.col("paid", "rec", "tra").sum())
    keys = ["holder", "start", "months_since"]
    out = grid.join(later, on=keys, how="left").with_columns(
        pl.col("paid").fill_null(0), pl.col("rec").fill_null(0), pl.col("tra").fill_null(0)).sort(keys)
    out = out.with_columns(pl.col("paid").cum_sum().over("holder", "start").alias("num"),
                           pl.col("rec").cum_sum().over("holder", "start").alias("recalled"),
                           pl.col("tra").cum_sum().over("holder", "start").alias("transferred"))
    cell_end = pl.col("start").dt.offset_by(pl.format("{}mo", pl.col("months_since") + 1)) - pl.duration(days=1)
    out = out.select(
        "holder", pl.col("start").alias("placed_month"), "months_since", money(pl.col("num")).alias("numerator"),
        money(pl.col("den")).alias("denominator"), ratio(pl.col("num"), pl.col("den")).alias("value"), "kind",
        pl.col("placed").cast(pl.Float64), pl.col("recalled").cast(pl.Float64),
        pl.col("transferred").cast(pl.Float64), (cell_end > pl.lit(as_of)).alias("immature"))
    return out.sort("holder", "placed_month", "months_since")


def _breaches_by_holder(store: Store, filters: Filters, teams: pl.DataFrame) -> pl.DataFrame:
    """holder, breaches_per_1k: breaching contacts ÷ attempts × 1,000 over the agency's teams (null without
    compliance figures in the store)."""
    from queries.metrics.compliance import breaches

    schema = {"holder": pl.String, "breaches_per_1k": pl.Float64}
    try:
        per_team = breaches(store, filters, ("team_id",))
    except (MetricError, MetricUnavailable):
        return pl.DataFrame(schema=schema)
    return (per_team.join(teams, on="team_id").group_by("holder")
            .agg(pl.col("numerator").sum(), pl.col("denominator").sum())
            .select("holder", ratio(pl.col("numerator"), pl.col("denominator"), 1000.0).alias("breaches_per_1k")))


def _complaints_by_holder(store: Store, filters: Filters, teams: pl.DataFrame) -> pl.DataFrame:
    """holder, complaints_per_10k (complaints ÷ the agency's distinct worked cases × 10,000, as complaint_rate with
    the agency's teams selected) and regulator_12378 (null without complaints in the store). The complaints are
    counted by team once and summed per agency; the distinct cases are each agency's own union, all agencies in
    one pass over the period's months (memoised per store version and filters, the last 32)."""
    from queries.metrics.complaints import complaint_counts

    schema = {"holder": pl.String, "complaints_per_10k": pl.Float64, "regulator_12378": pl.Float64}
    try:
        require(store, "complaints")
        counts = complaint_counts(store, filters, ("team_id",))
        def worked() -> dict:
            org = {a: (h,) for a, h in store.frame("agents").join(teams, on="team_id")
                   .select("agent_id", "holder").iter_rows()}
            return dict(distinct_cases(store, "worked", filters, ("holder",), "denominator", org).iter_rows())

        worked_by = memoised(store, ("worked_by_holder", filters), worked)  # the agent → agency map only when made
        out = []
        for holder, ids in teams.group_by("holder").agg(pl.col("team_id")).iter_rows():
            keep = set(ids) & set(filters.teams) if filters.teams else set(ids)
            if not keep:
                out.append((holder, None, None))
                continue
            mine = counts.filter(pl.col("team_id").is_in(list(keep)))
            n, regulator = (int(mine.get_column(c).sum() or 0) for c in ("numerator", "regulator_12378"))
            worked = int(worked_by.get(holder) or 0)
            out.append((holder, n / worked * 10_000 if worked > 0 else None, float(regulator)))
    except (MetricError, MetricUnavailable):
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(out, schema=schema, orient="row")


def _standing_by_holder(store: Store, filters: Filters, teams: pl.DataFrame) -> pl.DataFrame:
    """holder, status_ok: 1.0 when every team of the agency is whitelisted and evaluated within the rule pack's
    limit at the period's end, 0.0 when one is not, null when the source has neither team column."""
    from queries.compliance.rules import active_pack
    from queries.metrics.compliance import agency_status
    from queries.settings import load_settings

    status = agency_status(store, filters.end, active_pack(load_settings().rules_dir)[0])
    if filters.teams:
        status = status.filter(pl.col("team_id").is_in(list(filters.teams)))
    bad = pl.col("not_whitelisted").fill_null(False) | pl.col("evaluation_overdue").fill_null(False)
    known = pl.col("not_whitelisted").is_not_null() | pl.col("evaluation_overdue").is_not_null()
    return (status.join(teams, on="team_id").group_by("holder")
            .agg(pl.when(known.any()).then((~bad.any()).cast(pl.Float64)).alias("status_ok")))


#: The agency scorecard's parts and weights (the glossary states them): name → (weight, higher is better).
SCORE_WEIGHTS = {"liquidation_m3": (0.35, True), "recall_rate": (0.10, False), "complaints_per_10k": (0.20, False),
                 "breaches_per_1k": (0.25, False), "status_ok": (0.10, True)}
SCORE_AS_IS = frozenset({"status_ok"})  # parts weighted as they are (0 or 1), not scaled between the agencies
SCORE_MONTHS = 3  # the scorecard's liquidation: after this many months, on the vintages whose cell is mature


@metric("agency_score", name=("委外机构评分", "Agency scorecard"),
        definition=(("同一批次月份内各委外机构的综合评分（0–1，越高越好）：35% × 委案后 3 个月清收率（已成熟批次合计）"
                     " + 10% × 撤案率（越低越好）+ 20% × 每万件在催案件投诉数（越低越好）+ 25% × 每千次外呼/外访违规数"
                     "（越低越好，按合规规则判定）+ 10% × 准入状态（期末已入白名单且年度评估未超期为 1，否则为 0，不换算）；"
                     "其余各项按参评机构的最小值—最大值线性换算到 0–1，只有一家机构或各家相同时为 1，无数据的项为 0。"
                     "合规三项合计 55%，重于回收（监管要求不得仅以回收考核催收）。案件库有 agency_fees（佣金比例）表时，"
                     "另列佣金成本（机构持有期间的每笔还款 × 还款当日适用的佣金比例，精确累加后按机构四舍五入到分）"
                     "与净回收（回收 − 佣金），及每百元委案的净回收，"
                     "不计入评分"),
                    ("A score per agency on the same placement months (0–1, higher is better): 35% × liquidation 3 "
                     "months after placement (mature vintages pooled) + 10% × recall rate (lower is better) + 20% × "
                     "complaints per 10,000 worked cases (lower is better) + 25% × rule breaches per 1,000 attempts "
                     "(lower is better, judged by the compliance rules) + 10% × standing (1 when whitelisted and the "
                     "yearly evaluation not overdue at the period's end, else 0, as it is); the other parts scaled 0–1 "
                     "between the agencies' lowest and highest (1 when only one agency or all equal, 0 for a part "
                     "without data). "
                     "The three compliance parts weigh 55%, more than recovery (collectors may not be judged on "
                     "recovery alone). When the source has agency_fees (commission rates), commission cost (each payment "
                     "collected while the agency held the case × the rate in force on the payment's day, summed exactly "
                     "and rounded to the cent per agency, halves away from zero) and net recovery "
                     "(collected − commission), also per ¥100 placed, are shown beside the score, not in it")),
        numerator=("各项加权和", "weighted sum of the scaled parts"), denominator=None, dims=("holder",),
        unit="rate")
def agency_score(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per agency: value = score (0–1) and rank; extras placed (cases), placed_balance, liquidation_m3,
    per_100 (recovered per ¥100 placed to date), recall_rate, transfer_rate, complaints_per_10k, regulator_12378,
    breaches_per_1k, status_ok (1 whitelisted and evaluated in time, 0 not; null without those team columns),
    collected (while held, to date), and with agency_fees commission, net_recovery and net_per_100 (else null)."""
    if by not in ((), ("holder",)):
        raise MetricError("agency_score is by holder")
    cols = ("rank", "placed", "placed_balance", "liquidation_m3", "per_100", "recall_rate", "transfer_rate",
            "complaints_per_10k", "regulator_12378", "breaches_per_1k", "status_ok", "collected", "commission",
            "net_recovery", "net_per_100")
    vint = agency_liquidation(store, filters)
    vint = vint.filter(pl.col("kind") == AGENCY) if vint.height else vint
    if vint.height == 0:
        return empty(("holder",), cols)
    last = vint.sort("months_since").group_by("holder", "placed_month").agg(pl.all().last())
    # sums of yuan (whole cents) rounded to the cent: in whatever order the rows come, the same figure to the bit
    per = last.group_by("holder").agg(
        pl.col("placed").sum(), pl.col("denominator").sum().round(2).alias("placed_balance"),
        pl.col("numerator").sum().round(2).alias("paid"), pl.col("recalled").sum(), pl.col("transferred").sum())
    m3 = vint.filter(pl.col("months_since") == SCORE_MONTHS, ~pl.col("immature")).group_by("holder").agg(
        pl.col("numerator").sum().round(2).alias("m3_num"), pl.col("denominator").sum().round(2).alias("m3_den"))
    teams = agency_names(store).rename({"agency": "holder"})
    comp = _complaints_by_holder(store, filters, teams)
    if has_fees(store):  # commission and net recovery on the same placements; null for an agency without rates
        rated = rates(store.frame("agency_fees")).get_column("team_id").unique().to_list()
        fee = _cells(store)[1].filter(*placement_filter(store, filters), pl.col("kind") == AGENCY).group_by("holder").agg(
            pl.when(pl.col("team_id").is_in(rated).any()).then(money(fee_cents(pl.col("fee").sum())))
            .alias("commission"))
    else:
        fee = pl.DataFrame(schema={"holder": pl.String, "commission": pl.Float64})
    per = per.join(fee, on="holder", how="left").with_columns(
        pl.col("paid").alias("collected"), (pl.col("paid") - pl.col("commission")).round(2).alias("net_recovery"))
    out = (per.join(m3, on="holder", how="left").join(comp, on="holder", how="left")
           .join(_breaches_by_holder(store, filters, teams), on="holder", how="left")
           .join(_standing_by_holder(store, filters, teams), on="holder", how="left")).with_columns(
        ratio(pl.col("net_recovery"), pl.col("placed_balance"), 100.0).alias("net_per_100"),
        ratio(pl.col("m3_num"), pl.col("m3_den")).alias("liquidation_m3"),
        ratio(pl.col("paid"), pl.col("placed_balance"), 100.0).alias("per_100"),
        ratio(pl.col("recalled"), pl.col("placed")).alias("recall_rate"),
        ratio(pl.col("transferred"), pl.col("placed")).alias("transfer_rate"))
    parts = []
    for col, (w, higher) in SCORE_WEIGHTS.items():
        x = pl.col(col)
        span = x.max() - x.min()
        best = (x - x.min()) if higher else (x.max() - x)  # 0 for the worst agency, span for the best
        scaled = pl.when(x.is_null()).then(None).when(span > 0).then(best / span).otherwise(pl.lit(1.0))
        if col in SCORE_AS_IS:  # already 0 or 1: an agency in bad standing scores 0 even when all are
            scaled = x
        parts.append(pl.lit(w) * scaled.fill_null(0.0))
    out = out.with_columns(pl.sum_horizontal(parts).alias("value"))
    out = out.with_columns(pl.col("value").rank("min", descending=True).cast(pl.Float64).alias("rank"))
    return out.select("holder", pl.col("value").alias("numerator"), pl.lit(None, pl.Float64).alias("denominator"),
                      "value", *[pl.col(c).cast(pl.Float64) for c in cols]).sort("rank", "holder")


__all__ = ["CELLS", "FEE_UNITS", "agency_liquidation", "agency_names", "agency_score", "agency_teams", "fee_cents",
           "has_fees", "holders", "placement_filter", "rates"]
