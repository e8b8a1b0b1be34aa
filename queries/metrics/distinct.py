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

import numpy as np
import polars as pl

from queries.dates import month_end, month_starts
from queries.filters import Filters
from queries.metrics.base import CASE_DIMS, TIME_DIMS, agent_dim, allowed_agents, memoised
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
    return store.once(("casesets", family, m), lambda: casesets.open_month(store.path, family, m))


def _grain(store: Store, m: dt.date, lo: dt.date, hi: dt.date, by: tuple[str, ...],
           per_agent: bool) -> tuple[str, tuple[int, int] | None]:
    """Which sets of month `m` cover [lo, hi], and the cut days of an ordered grain: the month's own set when it
    is covered whole, the cases seen again from `lo` on (or first seen up to `hi`) when only one edge is cut,
    else the day sets."""
    to_end = hi >= month_end(m) or (store.as_of is not None and hi >= store.as_of)
    if {"day", "week"} & set(by) or (lo != m and not to_end):
        return (DAY_AGENT if per_agent else DAY_ALL), None
    if lo == m and to_end:
        return (MONTH_AGENT if per_agent else MONTH_ALL), None
    if lo != m:
        return (LAST_AGENT if per_agent else LAST_ALL), (lo.day, 31)
    return (FIRST_AGENT if per_agent else FIRST_ALL), (1, hi.day)


def _positions(sets: casesets.MonthSets, grain: str, lo: dt.date, hi: dt.date,
               agents: set[str] | None) -> tuple[np.ndarray, list[str | None]]:
    """The index positions of one grain of a month inside [lo, hi] and of the allowed agents, and their agents."""
    pos = sets.positions(grain)
    if grain in (DAY_AGENT, DAY_ALL):
        days = sets.days(pos)
        pos = pos[(days >= (lo - casesets.EPOCH).days) & (days <= (hi - casesets.EPOCH).days)]
    names = sets.text(sets.rec["agent"][pos])
    if agents is not None:
        keep = [i for i, a in enumerate(names) if a in agents]
        pos, names = pos[keep], [names[i] for i in keep]
    return pos, names


def _month_groups(sets: casesets.MonthSets, m: dt.date, grain: str, cut: tuple[int, int] | None, lo: dt.date,
                  hi: dt.date, agents: set[str] | None, by_time: list[str], by_org: list[str],
                  org: dict[str | None, tuple]) -> dict[tuple, list[AnyBitMap]]:
    """The sets of one grain of month `m` that cover [lo, hi], by breakdown key: a month cut at one edge as one
    bitmap per key (its agents' ordered ids sliced together), else the stored sets of each key."""
    pos, names = _positions(sets, grain, lo, hi, agents)
    heads = _heads(m, sets.days(pos), names, by_time, by_org, org)
    if cut is not None:
        return sets.ordered_groups(pos, *cut, heads)
    bitmaps = sets.month_bitmaps(grain, pos) if grain in (MONTH_AGENT, MONTH_ALL) else sets.bitmaps_at(pos)
    out: dict[tuple, list[AnyBitMap]] = defaultdict(list)
    for head, bm in zip(heads, bitmaps, strict=True):
        out[head].append(bm)
    return out


def _dim_sets(store: Store, family: str, sets: casesets.MonthSets, m: dt.date,
              wanted: dict[str, set[str] | None]) -> dict[str, dict]:
    """dimension → value → the month's cases with that value, for the wanted dimensions (None: every value);
    each set deserialized once per store version."""
    out: dict[str, dict[str, AnyBitMap]] = defaultdict(dict)
    pos = sets.positions(MONTH_DIM)
    r = sets.rec[pos]
    for p, d, v in zip(pos.tolist(), sets.text(r["dim"]), sets.text(r["value"]), strict=True):
        if d not in wanted or (wanted[d] is not None and v not in wanted[d]):
            continue
        out[d][v] = store.once(("casesets_dim", family, m, d, v), lambda p=p: sets.bitmaps_at(np.array([p]))[0])
    return out


def _org(store: Store, by_org: list[str]) -> dict[str | None, tuple]:
    """agent id → its values of the organisation dimensions in `by_org` (agent_id, team_id, channel …)."""
    dim = agent_dim(store).select("agent_id", *[pl.col(d).alias(f"_{d}") for d in by_org])
    return {r[0]: r[1:] for r in dim.iter_rows()}


def _heads(m: dt.date, days: np.ndarray, names: list[str | None], by_time: list[str], by_org: list[str],
           org: dict[str | None, tuple]) -> list[tuple]:
    """The breakdown key (time dimensions, then organisation dimensions) of each set of a month."""
    if not by_time and by_org == ["agent_id"]:  # the leaderboard: no lookups
        return [(a,) for a in names]
    out = []
    for day, agent in zip(days.tolist(), names, strict=True):
        d = casesets.EPOCH + dt.timedelta(days=day) if day != casesets.NULL else None
        t = {"day": d, "week": d - dt.timedelta(days=d.weekday()) if d else None, "month": m}
        o = org.get(agent) if by_org else ()
        if o is None:  # an agent missing from the agents table
            o = tuple(agent if k == "agent_id" else None for k in by_org)
        out.append((*[t[k] for k in by_time], *o))
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


#: groups (teams, agencies, channels …) up to which the union of a period's whole months is kept per group: an
#: agent breakdown (thousands of agents) is left to unite each time rather than kept
UNITED_GROUPS = 256


def distinct_cases(store: Store, family: str, f: Filters, by: tuple[str, ...], alias: str,
                   org: dict[str | None, tuple] | None = None) -> pl.DataFrame:
    """Distinct cases of the family ('paying' or 'worked') in the period, per row of `by` (column `alias`). `org`:
    agent id → its values of the organisation dimensions of `by`, for a grouping of agents the agents table does
    not hold (an agency's teams: every agency's union in one pass over the months); agents absent from it are left
    out."""
    by_time = [d for d in by if d in TIME_DIMS]
    by_case = [d for d in by if d in CASE_DIMS]
    by_org = [d for d in by if d not in TIME_DIMS and d not in CASE_DIMS]
    allowed = allowed_agents(store, f)
    agents = set(allowed) if allowed is not None else None
    passed = org
    if org is None:
        org = _org(store, by_org) if by_org else {}
    else:
        agents = set(org) if agents is None else agents & set(org)
    per_agent = agents is not None or bool(by_org)
    # a whole month's sets united per group (team, agency, channel …) are kept: a new period or filter over the
    # same months then unites one set per group and month instead of one per agent and month
    grouping = (tuple(by_time), tuple(by_org), None if agents is None else frozenset(agents),
                None if passed is None else frozenset(passed.items()))
    acc: dict[tuple, list[AnyBitMap]] = defaultdict(list)
    # the months read whole, when nothing is intersected: their union per group is kept (a new end day in the
    # period's last month then unites two sets per group, not one per month)
    whole: dict[tuple, list[AnyBitMap]] = defaultdict(list)
    whole_months: list[dt.date] = []
    plain = not by_case and not (f.buckets or f.products or f.regions)
    for m in month_starts(f.start, f.end):
        sets = _month(store, family, m)
        if sets is None:
            continue  # no events that month
        lo, hi = max(f.start, m), min(f.end, month_end(m))
        grain, cut = _grain(store, m, lo, hi, by, per_agent)
        args = (sets, m, grain, cut, lo, hi, agents, by_time, by_org, org)
        if grain == MONTH_AGENT and "agent_id" not in by_org:
            groups = memoised(store, ("casesets_united", family, m, grouping),
                              lambda a=args: {h: [casesets.union(b)] for h, b in _month_groups(*a).items()}, keep=64)
        else:
            groups = _month_groups(*args)
        if not groups:
            continue
        wanted: dict[str, set[str] | None] = {d: set(v) for d, v in (("bucket", f.buckets), ("product", f.products),
                                                                     ("region", f.regions)) if v}
        wanted |= {d: None for d in by_case}
        dims = _dim_sets(store, family, sets, m, wanted) if wanted else {}
        keep = _case_filter(dims, f)
        splits = [((), None)]
        if by_case:
            splits = []
            for values in itertools.product(*[sorted(dims.get(d, {})) for d in by_case]):
                parts = [dims[d][v] for d, v in zip(by_case, values, strict=True)]
                inter = parts[0]
                for s in parts[1:]:
                    inter = casesets.intersect(inter, s)
                if len(inter):
                    splits.append((values, inter))
        read_whole = grain in (MONTH_AGENT, MONTH_ALL)
        if plain and read_whole:
            whole_months.append(m)
        for head, loaded in groups.items():
            if plain:  # no intersection: the sets are united once, at the end
                (whole if read_whole else acc)[head].extend(loaded)
                continue
            bm = casesets.as_bitmap(casesets.union(loaded))  # once, not once per split below
            if keep is not None:
                bm = casesets.intersect(bm, keep)
            for values, part in splits:
                got = bm if part is None else casesets.intersect(bm, part)
                if len(got):
                    acc[(*head, *values)].append(got)
    if len(whole_months) > 1 and len(whole) <= UNITED_GROUPS:
        united = memoised(store, ("casesets_months", family, tuple(whole_months), grouping),
                          lambda: {h: casesets.union(v) for h, v in whole.items()}, keep=16)
        whole = {h: [u] for h, u in united.items()}
    for head, loaded in whole.items():
        acc[head].extend(loaded)
    names = [*by_time, *by_org, *by_case]
    schema = {d: (pl.Date if d in TIME_DIMS else pl.String) for d in names} | {alias: pl.Float64}
    counts = [(*k, float(len(casesets.union(v)))) for k, v in acc.items()]
    # a group whose sets are all empty (a period after the data's last day reads empty edge sets) is no row, as
    # in the other breakdowns: only groups with a case
    out = pl.DataFrame([c for c in counts if c[-1] > 0], schema=schema, orient="row")
    if not by:
        out = out if out.height else pl.DataFrame({alias: [0.0]})
        return out.select(alias)
    return out.select(*by, alias).sort(list(by), nulls_last=True)
