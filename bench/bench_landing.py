"""The month-end landing forecast on a synced store: time of the centre + every team, and the 12-month backtest.

    python bench/bench_landing.py /work/bench-data/<you>/bank-store [--repeat 7]

Prints the machine and its load, the first call (which builds the arrays kept in store.memo for the store version)
and the median (and all) later times of `landing` for the centre and by team, the backtest
by working day (MAPE of the landing and of the naive pace projection, coverage of the 80% interval) and its totals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

from queries.dates import month_start
from queries.filters import Filters
from queries.metrics import forecast as F
from queries.metrics.registry import compute
from queries.store import Store


def main() -> None:
    """Time the landing forecast and print its backtest."""
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    print(machine(), "· load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    store = Store.open(a.store)
    f = Filters(month_start(store.as_of), store.as_of)
    teams = store.frame("teams").height
    t0 = time.perf_counter()
    compute("landing", store, f)
    compute("landing", store, f, ("team_id",))
    cold = (time.perf_counter() - t0) * 1000  # builds the working-day arrays once per store version (store.memo)
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        compute("landing", store, f)
        by_team = compute("landing", store, f, ("team_id",))
        times.append((time.perf_counter() - t0) * 1000)
    print(f"as of {store.as_of}; {teams} teams ({by_team.height} forecast); landing centre + by team: first call "
          f"{cold:.0f} ms, then median {statistics.median(times):.0f} ms (runs: {', '.join(f'{x:.0f}' for x in times)})")
    t0 = time.perf_counter()
    bt = F.backtest(store, f)
    print(f"backtest: {bt.height} forecasts over {bt.get_column('month').n_unique()} months in "
          f"{time.perf_counter() - t0:.2f} s")
    with pl.Config(tbl_rows=40, tbl_hide_dataframe_shape=True, float_precision=3):
        print(F.backtest_summary(bt))
    tot = F.backtest_totals(bt)
    print(f"MAPE landing {tot['mape']:.1%} · naive {tot['mape_naive']:.1%} · 80% interval coverage "
          f"{tot['coverage']:.1%} ({tot['forecasts']} forecasts) · {dt.datetime.now():%Y-%m-%d %H:%M}")


if __name__ == "__main__":
    main()
