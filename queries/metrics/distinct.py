"""Distinct cases over any period and filter, from the store's case sets (queries.store.casesets).

Cost grows with the months × agents the period touches, not with the cases: one set per agent and month (a
month cut at one edge reads the cases seen again from, or first seen up to, the cut day), so a 13-month agent
leaderboard over any custom period unites about agents × 13 bitmaps; only a period inside one month or a
breakdown by day or week reads day sets.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import polars as pl

from queries.dates import month_end, month_starts
from queries.filters import Filters
from queries.metrics.base import CASE_DIMS, TIME_DIMS, agent_dim, allowed_agents
from queries.store import Store, casesets
from queries.store.casesets import (
    DAY_AGENT,
    DAY_ALL,
    FIRST_AGENT,
    FIRST_ALL,
    LAST_AGENT,
    LAST_ALL,
    MONTH_AGENT,
    MONTH_ALL,
    MONTH_DIM,
    AnyBitMap,
)


def _month(store: Store, family: str, m: dt.date) -> casesets.MonthSets | None:
    """A month's sets (index read, blob file mapped), kept per store version."""
    key = ("casesets", family, m)
    if key not in store.memo:
        store.memo[key] = casesets.open_month(store.path, family, m)
    return store.memo[key]


def _month_rows(store: Store, sets: casesets.MonthSets, m: dt.date, lo: dt.date, hi: dt.date, by: tuple[str, ...],
                agents: list[str] | None, by_org: list[str]) -> tuple[pl.DataFrame, list[AnyBitMap]]:
    """The sets of month `m` that cover [lo, hi] (day, agent_id; one bitmap each): the month's own set when it is
    covered whole, the cases seen again from `lo` on (or first seen up to `hi`) when only one edge is cut."""
    per_agent = agents is not None or bool(by_org)
    to_end = hi >= month_end(m) or (store.as_of is not None and hi >= store.as_of)
    by_day = bool({"day", "week"} & set(by))
    if by_day or (lo != m and not to_end):
        grain, cut = (DAY_AGENT if per_agent else DAY_ALL), None
    elif lo == m and to_end:
        grain, cut = (MONTH_AGENT if per_agent else MONTH_ALL), None
    elif lo != m:
        grain, cut = (LAST_AGENT if per_agent else LAST_ALL), (lo.day, 31)
    else:
        grain, cut = (FIRST_AGENT if per_agent else FIRST_ALL), (1, hi.day)
    rows = sets.grain(grain)
    if agents is not None:
        rows = rows.filter(pl.col("agent_id").is_in(agents))
    if grain in (DAY_AGENT, DAY_ALL):
        rows = rows.filter(pl.col("day").is_between(lo, hi))
    keys = rows.select("day", "agent_id")
    return keys, (sets.bitmaps(rows) if cut is None else sets.ordered(rows, *cut))


def _dim_sets(store: Store, family: str, sets: casesets.MonthSets, m: dt.date,
              wanted: dict[str, set[str] | None]) -> dict[str, dict]:
    """dimension → value → the month's cases with that value, for the wanted dimensions (None: every value);
    each set deserialized once per store version."""
    out: dict[str, dict[str, AnyBitMap]] = defaultdict(dict)
    level = sets.grain(MONTH_DIM)
    for d, values in wanted.items():
        rows = level.filter(pl.col("dim") == d)
        if values is not None:
            rows = rows.filter(pl.col("value").is_in(list(values)))
        for v, w, o, n in rows.select("value", "wide", "offset", "length").iter_rows():
            key = ("casesets_dim", family, m, d, v)
            if key not in store.memo:
                store.memo[key] = casesets.load(sets.blob(o, n), w)
            out[d][v] = store.memo[key]
    return out


def _case_filter(dims: dict[str, dict[str, AnyBitMap]], f: Filters) -> AnyBitMap | None:
    """The month's cases whose bucket, product and region pass the filters; None when none is set."""
    out = None
    for d, chosen in (("bucket", f.buckets), ("product", f.products), ("region", f.regions)):
        if not chosen:
            continue
        sel = casesets.union([dims.get(d, {})[v] for v in chosen if v in dims.get(d, {})])
        out = sel if out is None else casesets.intersect(out, sel)
    return out


def distinct_cases(store: Store, family: str, f: Filters, by: tuple[str, ...], alias: str) -> pl.DataFrame:
    """Distinct cases of the family ('paying' or 'worked') in the period, per row of `by` (column `alias`)."""
    by_time = [d for d in by if d in TIME_DIMS]
    by_case = [d for d in by if d in CASE_DIMS]
    by_org = [d for d in by if d not in TIME_DIMS and d not in CASE_DIMS]
    agents = allowed_agents(store, f)
    org = agent_dim(store).select("agent_id", *[d for d in by_org if d != "agent_id"]) if by_org else None
    acc: dict[tuple, list[AnyBitMap]] = defaultdict(list)
    for m in month_starts(f.start, f.end):
        sets = _month(store, family, m)
        if sets is None:
            continue  # no events that month
        lo, hi = max(f.start, m), min(f.end, month_end(m))
        rows, bitmaps = _month_rows(store, sets, m, lo, hi, by, agents, by_org)
        if rows.height == 0:
            continue
        keys = []
        if "day" in by_time:
            keys.append(pl.col("day"))
        if "week" in by_time:
            keys.append(pl.col("day").dt.truncate("1w").alias("week"))
        if "month" in by_time:
            keys.append(pl.lit(m).alias("month"))
        if keys:
            rows = rows.with_columns(keys)
        if org is not None and org.width > 1:
            rows = rows.join(org, on="agent_id", how="left")
        group_keys = [*by_time, *by_org]
        rows = rows.with_row_index("_i")
        groups = (rows.group_by(group_keys).agg("_i") if group_keys else rows.select(pl.col("_i").implode()))
        wanted: dict[str, set[str] | None] = {d: set(v) for d, v in (("bucket", f.buckets), ("product", f.products),
                                                                     ("region", f.regions)) if v}
        wanted |= {d: None for d in by_case}
        dims = _dim_sets(store, family, sets, m, wanted) if wanted else {}
        keep = _case_filter(dims, f)
        splits = [((), None)]
        if by_case:
            splits = []
            for values in itertools.product(*[sorted(dims.get(d, {})) for d in by_case]):
                sets = [dims[d][v] for d, v in zip(by_case, values, strict=True)]
                inter = sets[0]
                for s in sets[1:]:
                    inter = casesets.intersect(inter, s)
                if len(inter):
                    splits.append((values, inter))
        plain = keep is None and not by_case  # no intersection: the sets are united once, at the end
        for row in groups.iter_rows(named=True):
            loaded = [bitmaps[i] for i in row["_i"]]
            head = tuple(row[k] for k in group_keys)
            if plain:
                acc[head].extend(loaded)
                continue
            bm = casesets.union(loaded)
            if keep is not None:
                bm = casesets.intersect(bm, keep)
            for values, part in splits:
                got = bm if part is None else casesets.intersect(bm, part)
                if len(got):
                    acc[(*head, *values)].append(got)
    names = [*by_time, *by_org, *by_case]
    schema = {d: (pl.Date if d in TIME_DIMS else pl.String) for d in names} | {alias: pl.Float64}
    out = pl.DataFrame([(*k, float(len(casesets.union(v)))) for k, v in acc.items()], schema=schema, orient="row")
    if not by:
        out = out if out.height else pl.DataFrame({alias: [0.0]})
        return out.select(alias)
    return out.select(*by, alias).sort(list(by), nulls_last=True)
