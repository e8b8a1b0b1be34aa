"""The demo agencies' commission rates (the optional agency_fees table): each agency is paid a share of what it
collects, agreed per agency (all its teams alike) and changed now and then.

The agency drawing most complaints — the late-whitelisted one, whose calls break the rules most (queries.demo.
compliance) and which recovers more — charges more, and raised its rate half-way through the history; the others
keep one rate from the first month. Deterministic (no random stream): the other tables stay as they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

#: the commission rates: the other agencies', then the late-whitelisted agency's before and after its rise
RATES = ("0.1600", "0.2000", "0.2400")


def add_fees(sim: Any, out: Any) -> None:  # noqa: ANN401 - the simulation and its Portfolio
    """Add agency_fees: one rate per agency team from the first month; the dearest agency's rises mid-history."""
    teams = out.tables["teams"].filter(pl.col("channel") == "agency")
    agency = sorted(teams.get_column("team_id").to_list())
    dear = agency[-1] if agency else None  # the late-whitelisted agency of queries.demo.compliance
    name = dict(zip(teams.get_column("team_id"), teams.get_column("agency_name"), strict=True))
    months = list(sim.months)
    first, middle = months[0], months[len(months) // 2]
    rows: list[tuple[str, dt.date, str]] = []
    for t in agency:
        if name.get(t) == name.get(dear):
            rows += [(t, first, RATES[1]), (t, middle, RATES[2])]
        else:
            rows.append((t, first, RATES[0]))
    out.tables["agency_fees"] = pl.DataFrame(rows, schema={"team_id": pl.String, "effective_from": pl.Date,
                                                           "rate": pl.String}, orient="row")
