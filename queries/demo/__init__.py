"""Seeded generator of a realistic demo case database (docs/design.md §3), for any SQLAlchemy URL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from queries.demo.simulate import Portfolio, Scale, simulate, stream
from queries.errors import UserError
from queries.source.write import open_target

SCALES: dict[str, Scale] = {
    "demo": Scale("demo", cases=20_000, teams=8, agency_teams=2, agents=60),
    "bank": Scale("bank", cases=1_000_000, teams=40, agency_teams=10, agents=500),
}

__all__ = ["SCALES", "DemoError", "Scale", "build_demo_database", "generate", "scale_for_cases"]
#: the fewest cases `scale_for_cases` takes (below it some teams would get no cases)
MIN_CASES = 1_000


class DemoError(UserError):
    """A demo database cannot be written; the message says what is wrong and what to do."""


def scale_for_cases(cases: int) -> Scale:
    """A centre of `cases` cases: teams, agency teams and agents in the bank scale's ratios (2,000 cases per
    agent, 25,000 per team, a quarter of the teams agencies), never fewer than the demo scale's."""
    if cases < MIN_CASES:
        raise DemoError(f"--cases must be at least {MIN_CASES:,}, not {cases:,}")
    teams = max(SCALES["demo"].teams, round(cases / 25_000))
    return Scale(f"{cases:,} cases", cases=cases, teams=teams, agency_teams=max(SCALES["demo"].agency_teams, teams // 4),
                 agents=max(SCALES["demo"].agents, round(cases / 2_000)))


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

    Streams month by month (memory holds the per-case state and one month's events). Refuses a database that
    already holds case tables unless `replace`; on failure leaves nothing half-written (queries.source.write).
    """
    say = progress or (lambda _msg: None)
    sc = _resolve_scale(scale)
    as_of = as_of or dt.date.today()
    with open_target(url, replace, DemoError) as target:
        t0 = time.perf_counter()
        say(f"simulating {sc.name} scale: {sc.cases:,} cases, {sc.teams} teams, {sc.agents} agents, "
            f"{sc.months} months to {as_of}")
        with target.writer(say) as sink:
            for name, df in stream(sc, seed, as_of, say):
                sink.append(name, df)
        total = time.perf_counter() - t0
    say(f"done in {total:.1f} s")
    return {"url": target.label, "scale": sc.name, "seed": seed,
            "as_of": as_of.isoformat(), "rows": sink.rows, "total_s": total}
