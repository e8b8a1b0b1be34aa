"""Distinct cases over any period and filter, from the store's case sets (queries.store.casesets).

Cost grows with the days × agents the period touches (one bitmap each, whole months read as one), not with
the cases: a 13-month agent leaderboard unites about agents × (12 + the edge months' days) bitmaps.
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
    MONTH_AGENT,
    MONTH_ALL,
    MONTH_DIM,
    AnyBitMap,
)


def _month_level(store: Store, family: str, m: dt.date) -> pl.DataFrame:
    """The month-grain rows of a month (month × agent, month, month × dimension value), kept per store version."""
    key = ("casesets", family, m)
    if key not in store.memo:
        store.memo[key] = pl.read_parquet(casesets.month_file(store.path, family, m),
                                          columns=["grain", "agent_id", "dim", "value", "wide", "bm"])
    return store.memo[key]


def _month_rows(store: Store, family: str, m: dt.date, lo: dt.date, hi: dt.date, by: tuple[str, ...],
                agents: list[str] | None, by_org: list[str]) -> pl.DataFrame:
    """The bitmap rows of month `m` that cover [lo, hi]: the month's own set when it is covered whole."""
    per_agent = agents is not None or bool(by_org)
    covered = lo == m and (hi >= month_end(m) or (store.as_of is not None and hi >= store.as_of))
    whole = covered and not {"day", "week"} & set(by)
    agent_pred = [pl.col("agent_id").is_in(agents)] if agents is not None else []
    if whole:
        df = _month_level(store, family, m).filter(pl.col("grain") == (MONTH_AGENT if per_agent else MONTH_ALL),
                                                   *agent_pred)
        return df.select(pl.lit(None, dtype=pl.Date).alias("day"), "agent_id", "wide", "bm")
    scan = pl.scan_parquet(casesets.month_file(store.path, family, m, days=True)).filter(
        pl.col("grain") == (DAY_AGENT if per_agent else DAY_ALL), pl.col("day").is_between(lo, hi), *agent_pred)
    return scan.select("day", "agent_id", "wide", "bm").collect()


def _dim_sets(store: Store, family: str, m: dt.date, wanted: dict[str, set[str] | None]) -> dict[str, dict]:
    """dimension → value → the month's cases with that value, for the wanted dimensions (None: every value);
    each set deserialized once per store version."""
    out: dict[str, dict[str, AnyBitMap]] = defaultdict(dict)
    level = _month_level(store, family, m)
    for d, values in wanted.items():
        rows = level.filter(pl.col("grain") == MONTH_DIM, pl.col("dim") == d)
        if values is not None:
            rows = rows.filter(pl.col("value").is_in(list(values)))
        for v, w, b in rows.select("value", "wide", "bm").iter_rows():
            key = ("casesets_dim", family, m, d, v)
            if key not in store.memo:
                store.memo[key] = casesets.load(b, w)
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
        if not casesets.month_file(store.path, family, m).is_file():
            continue  # no events that month
        lo, hi = max(f.start, m), min(f.end, month_end(m))
        rows = _month_rows(store, family, m, lo, hi, by, agents, by_org)
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
        groups = (rows.group_by(group_keys).agg("wide", "bm") if group_keys
                  else rows.select(pl.col("wide").implode(), pl.col("bm").implode()))
        wanted: dict[str, set[str] | None] = {d: set(v) for d, v in (("bucket", f.buckets), ("product", f.products),
                                                                     ("region", f.regions)) if v}
        wanted |= {d: None for d in by_case}
        dims = _dim_sets(store, family, m, wanted) if wanted else {}
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
            loaded = [casesets.load(b, w) for b, w in zip(row["bm"], row["wide"], strict=True)]
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
