"""Seeded generator of a realistic demo case database (docs/design.md §3), for any SQLAlchemy URL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from queries.demo.simulate import Portfolio, Scale, simulate
from queries.errors import UserError
from queries.source.write import open_target

SCALES: dict[str, Scale] = {
    "demo": Scale("demo", cases=20_000, teams=8, agency_teams=2, agents=60),
    "bank": Scale("bank", cases=1_000_000, teams=40, agency_teams=10, agents=500),
}

__all__ = ["SCALES", "DemoError", "Scale", "build_demo_database", "generate"]


class DemoError(UserError):
    """A demo database cannot be written; the message says what is wrong and what to do."""


def _resolve_scale(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    try:
        return SCALES[scale]
    except KeyError:
        raise DemoError(f"unknown scale '{scale}': use one of {', '.join(SCALES)}") from None


def generate(scale: str | Scale = "demo", seed: int = 7, as_of: dt.date | None = None) -> Portfolio:
    """Simulate the centre in memory and return every contract table as a Polars frame."""
    return simulate(_resolve_scale(scale), seed, as_of or dt.date.today())


def build_demo_database(url: str, scale: str | Scale = "demo", seed: int = 7, as_of: dt.date | None = None,
                        replace: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Write a complete, deterministic demo case database to `url`; return row counts and timings.

    Refuses a database that already holds case tables unless `replace`; on failure leaves nothing
    half-written (queries.source.write).
    """
    say = progress or (lambda _msg: None)
    sc = _resolve_scale(scale)
    as_of = as_of or dt.date.today()
    with open_target(url, replace, DemoError) as target:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        say(f"simulating {sc.name} scale: {sc.cases:,} cases, {sc.agents} agents, {sc.months} months to {as_of}")
        portfolio = simulate(sc, seed, as_of)
        timings["simulate_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        target.write(portfolio.tables, say)
        timings["load_s"] = time.perf_counter() - t1
        timings["total_s"] = time.perf_counter() - t0
    rows = {name: df.height for name, df in portfolio.tables.items()}
    say(f"done in {timings['total_s']:.1f} s")
    return {"url": target.label, "scale": sc.name, "seed": seed,
            "as_of": as_of.isoformat(), "rows": rows, **timings}
