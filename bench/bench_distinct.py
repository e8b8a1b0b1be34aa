"""Distinct-case views side by side (a script, not a test): the store's case sets, the day × case scan they
replace, and DuckDB over Parquet of the raw tables, in one run, each figure with the machine's load.

    python bench/bench_distinct.py --source /work/bench-data/bank.sqlite --store /work/bench-data/scale/store \
        --parquet /work/bench-data/scale/parquet [--baseline /tmp/before --baseline-store /tmp/before-store]

Views (the period ends on the store's as-of day):
- paying accounts MTD (distinct cases with a payment since the 1st);
- one product over 13 months: paying accounts and worked cases per month for one product;
- custom-period agent leaderboard: paying accounts and worked cases per agent over 13 months starting on the
  15th (not month-aligned), with the extra peak memory it needs (measured in a fresh process).
With --baseline, the case sets of another checkout (on a store its own sync built) are timed in the same run.
The raw tables are exported to Parquet once (kept in --parquet). Every answer is checked equal across engines.
Needs DuckDB, which the project does not depend on: `pip install duckdb`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402
from machine import load, machine  # noqa: E402

TABLES = {"payments": "SELECT payment_id, case_id, agent_id, paid_at FROM payments",
          "contacts": "SELECT case_id, agent_id, contacted_at, channel FROM contacts",
          "cases": "SELECT case_id, product, region FROM cases"}


def export(source: str, out: Path) -> None:
    """The raw tables DuckDB reads, as Parquet (once)."""
    import sqlite3

    out.mkdir(parents=True, exist_ok=True)
    for name, sql in TABLES.items():
        target = out / f"{name}.parquet"
        if target.is_file():
            continue
        con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        frames = []
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        while rows := cur.fetchmany(2_000_000):
            frames.append(pl.DataFrame(rows, schema=cols, orient="row"))
        con.close()
        df = pl.concat(frames)
        for ts in ("paid_at", "contacted_at"):
            if ts in df.columns:
                df = df.with_columns(pl.col(ts).str.to_datetime(time_unit="us"))
        df.write_parquet(target.with_suffix(".tmp"), compression="zstd")
        target.with_suffix(".tmp").rename(target)


def periods(as_of: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """The views' periods."""
    year_ago = (as_of.replace(day=1) - dt.timedelta(days=365)).replace(day=1)
    return {"mtd": (as_of.replace(day=1), as_of), "13m": (year_ago, as_of),
            "custom": (year_ago.replace(day=15), as_of)}


CPU: list[float] = []  # CPU ms of each run of the last _timed call


def _timed(fn, runs: int) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    CPU.clear()
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
        CPU.append((time.process_time() - c) * 1000)
    return statistics.median(times), out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_views(store_dir: str, product: str, runs: int) -> dict:
    """The three views from the case sets (memo cleared between runs: every run is cold)."""
    from queries.filters import Filters
    from queries.metrics.distinct import distinct_cases
    from queries.store import Store

    store = Store.open(store_dir)
    p = periods(store.as_of)

    def run(name: str, fam_by: list[tuple[str, tuple]], f: Filters):  # noqa: ANN202
        def go() -> list:
            store.memo.clear()
            return [distinct_cases(store, fam, f, by, "n").to_dicts() for fam, by in fam_by]
        ms, answer = _timed(go, runs)
        return {"ms": ms, "cpu": statistics.median(CPU), "answer": answer}

    return {"mtd": run("mtd", [("paying", ())], Filters(*p["mtd"])),
            "13m": run("13m", [("paying", ("month",)), ("worked", ("month",))],
                       Filters(*p["13m"], products=(product,))),
            "custom": run("custom", [("paying", ("agent_id",)), ("worked", ("agent_id",))], Filters(*p["custom"]))}


def scan_views(store_dir: str, product: str, runs: int) -> dict:
    """The same from the day × case files the case sets replace (paying_case_days, worked_case_days: only in a
    store written by store format 4's sync or the first case-set commit), or {} when the store has none."""
    from queries.store import Store

    store = Store.open(store_dir)
    if not (store.path / "paying_case_days").is_dir():
        return {}
    p = periods(store.as_of)

    def q(table: str, lo: dt.date, hi: dt.date, by: list[str], prod: str | None = None) -> list:
        files = [f for f in sorted((store.path / table).glob("????-??-??.parquet")) if lo.isoformat() <= f.stem
                 <= hi.isoformat()]
        df = pl.scan_parquet(files)
        if prod:
            df = df.filter(pl.col("product") == prod)
        if "month" in by:
            df = df.with_columns(pl.col("day").dt.month_start().alias("month"))
        agg = pl.col("case_id").n_unique().alias("n")
        return (df.group_by(by).agg(agg).sort(by, nulls_last=True) if by else df.select(agg)).collect().to_dicts()

    return {
        "mtd": dict(zip(("ms", "answer"), _timed(lambda: [q("paying_case_days", *p["mtd"], [])], runs), strict=True)),
        "13m": dict(zip(("ms", "answer"), _timed(lambda: [q("paying_case_days", *p["13m"], ["month"], product),
                                                          q("worked_case_days", *p["13m"], ["month"], product)], runs),
                        strict=True)),
        "custom": dict(zip(("ms", "answer"), _timed(lambda: [q("paying_case_days", *p["custom"], ["agent_id"]),
                                                             q("worked_case_days", *p["custom"], ["agent_id"])], runs),
                           strict=True)),
    }


def duck_views(parquet: str, as_of: str, product: str, runs: int) -> dict:
    """The same in DuckDB over Parquet of the raw tables (all cores)."""
    import duckdb

    con = duckdb.connect()
    p = periods(dt.date.fromisoformat(as_of))
    pay, con_, cases = (f"read_parquet('{Path(parquet) / n}.parquet')" for n in ("payments", "contacts", "cases"))

    def rng(col: str, lo: dt.date, hi: dt.date) -> str:
        return f"{col} >= TIMESTAMP '{lo}' AND {col} < TIMESTAMP '{hi + dt.timedelta(days=1)}'"

    def q(sql: str) -> list:
        return [dict(zip(("key", "n"), r, strict=False)) if len(r) == 2 else {"n": r[0]}
                for r in con.execute(sql).fetchall()]

    attempt = "channel IN ('call', 'visit')"
    views = {
        "mtd": [f"SELECT count(DISTINCT case_id) FROM {pay} WHERE {rng('paid_at', *p['mtd'])}"],
        "13m": [f"SELECT date_trunc('month', paid_at)::DATE m, count(DISTINCT p.case_id) FROM {pay} p JOIN {cases} c "
                f"USING (case_id) WHERE c.product = '{product}' AND {rng('paid_at', *p['13m'])} GROUP BY m ORDER BY m",
                f"SELECT date_trunc('month', contacted_at)::DATE m, count(DISTINCT k.case_id) FROM {con_} k JOIN "
                f"{cases} c USING (case_id) WHERE c.product = '{product}' AND {attempt} AND "
                f"{rng('contacted_at', *p['13m'])} GROUP BY m ORDER BY m"],
        "custom": [f"SELECT agent_id, count(DISTINCT case_id) FROM {pay} WHERE {rng('paid_at', *p['custom'])} "
                   "GROUP BY agent_id ORDER BY agent_id",
                   f"SELECT agent_id, count(DISTINCT case_id) FROM {con_} WHERE {attempt} AND "
                   f"{rng('contacted_at', *p['custom'])} GROUP BY agent_id ORDER BY agent_id"],
    }
    return {k: dict(zip(("ms", "answer"), _timed(lambda s=sqls: [q(x) for x in s], runs), strict=True))
            for k, sqls in views.items()}


def leaderboard_memory(store_dir: str) -> dict:
    """Extra peak RSS of the custom-period leaderboard in a fresh process with the store open."""
    from queries.filters import Filters
    from queries.metrics.distinct import distinct_cases
    from queries.store import Store

    store = Store.open(store_dir)
    p = periods(store.as_of)
    before = _peak_mb()
    t = time.perf_counter()
    for fam in ("paying", "worked"):
        distinct_cases(store, fam, Filters(*p["custom"]), ("agent_id",), "n")
    return {"extra_mb": _peak_mb() - before, "base_mb": before, "ms": (time.perf_counter() - t) * 1000}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _counts(answer: list) -> list:
    """Just the numbers of an answer, in order (engines name their columns differently)."""
    return [[r["n"] for r in part] for part in answer]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="path of the SQLite case database")
    ap.add_argument("--store", required=True)
    ap.add_argument("--parquet", required=True, help="folder for the raw tables as Parquet (made once)")
    ap.add_argument("--product", default=None, help="the product of the one-product view (default: the first)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--baseline", type=Path, help="a worktree of the baseline commit: its case sets side by side")
    ap.add_argument("--baseline-store", help="a store built by the baseline's sync (its layout)")
    args = ap.parse_args()
    print("machine:", machine())
    export(args.source, Path(args.parquet))
    product = args.product or pl.read_parquet(Path(args.parquet) / "cases.parquet", columns=["product"]).get_column(
        "product").drop_nulls().min()
    from queries.store import read_manifest

    as_of = read_manifest(Path(args.store)).data_as_of
    print(f"as of {as_of}; product {product!r}; medians of {args.runs} runs; {load()} before the runs")
    sets = _child("_sets", args.store, product, str(args.runs))
    print(f"  case sets done, {load()}")
    base = {}
    if args.baseline:
        base = _child("_sets", args.baseline_store, product, str(args.runs), str(args.baseline.resolve()))
        print(f"  baseline case sets done, {load()}")
    scan = _child("_scan", args.store, product, str(args.runs))
    print(f"  day × case scan done, {load()}")
    duck = _child("_duck", args.parquet, as_of, product, str(args.runs))
    print(f"  DuckDB done, {load()}")
    mem = _child("_mem", args.store)
    if base:
        print(f"{'view':<34}{'baseline ms (CPU)':>20}{'case sets ms (CPU)':>20}{'baseline ÷ sets':>17}")
        for k in ("mtd", "13m", "custom"):
            same = _counts(base[k]["answer"]) == _counts(sets[k]["answer"])
            print(f"{k:<34}{base[k]['ms']:>11.1f} ({base[k].get('cpu', float('nan')):5.1f}){sets[k]['ms']:>11.1f} "
                  f"({sets[k]['cpu']:5.1f}){base[k]['ms'] / sets[k]['ms']:>16.1f}×  "
                  f"{'same answers' if same else 'ANSWERS DIFFER'}")
    print(f"{'view':<34}{'case sets ms':>14}{'day×case scan ms':>18}{'DuckDB ms':>11}{'DuckDB ÷ sets':>15}")
    names = {"mtd": "paying accounts MTD", "13m": "one product, 13 months (2 counts)",
             "custom": "leaderboard, custom 13 months"}
    for k, label in names.items():
        same = _counts(sets[k]["answer"]) == _counts(duck[k]["answer"]) and (
            not scan or _counts(scan[k]["answer"]) == _counts(sets[k]["answer"]))
        print(f"{label:<34}{sets[k]['ms']:>14.1f}{scan[k]['ms'] if scan else float('nan'):>18.1f}{duck[k]['ms']:>11.1f}"
              f"{duck[k]['ms'] / sets[k]['ms']:>14.1f}×  {'same answers' if same else 'ANSWERS DIFFER'}")
    print(f"leaderboard in a fresh process: {mem['ms']:.0f} ms, extra peak {mem['extra_mb']:.0f} MB over "
          f"{mem['base_mb']:.0f} MB with the store open; {load()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        cmd, rest = sys.argv[1], sys.argv[2:]
        if cmd == "_sets":
            if len(rest) > 3:  # another checkout's code (the baseline)
                sys.path.insert(0, rest[3])
            res = store_views(rest[0], rest[1], int(rest[2]))
        elif cmd == "_scan":
            res = scan_views(rest[0], rest[1], int(rest[2]))
        elif cmd == "_duck":
            res = duck_views(rest[0], rest[1], rest[2], int(rest[3]))
        else:
            res = leaderboard_memory(rest[0])
        print(json.dumps(res, default=str))
    else:
        main()
