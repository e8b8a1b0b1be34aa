"""The sync's cost of building one month's case sets (a script, not a test), for this code and a baseline's.

    python bench/bench_caseset_build.py --store /work/bench-data/casesets/store --month 2026-10 \
        --baseline /work/wt/casesets-base --work /work/bench-data/casesets/build

The month's event rows (day, case_id, agent_id, bucket, product, region — what the sync hands to
`queries.store.casesets.month_sets`) are rebuilt from a store's day × agent and month × dimension sets and saved
once; then each code base (this worktree, and the baseline's via PYTHONPATH) builds and writes the month's sets
from them in a fresh process, --runs times, alternating, then redoes the month's last day over what it wrote (an
incremental sync). Prints the median wall and CPU seconds per family.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import load, machine


def export_rows(store_dir: str, family: str, month: dt.date, out: Path) -> None:
    """The month's event rows, rebuilt from the store's sets."""
    import numpy as np
    import polars as pl

    from queries.store import Store, casesets

    sets = casesets.open_month(Store.open(store_dir).path, family, month)
    rows = sets.frame(casesets.DAY_AGENT)
    bms = sets.bitmaps(rows)
    lens = np.array([len(b) for b in bms])
    df = pl.DataFrame({"day": np.repeat(rows.get_column("day").to_numpy(), lens),
                       "agent_id": pl.Series(np.repeat(rows.get_column("agent_id").to_numpy(), lens), dtype=pl.String),
                       "case_id": np.concatenate([np.asarray(b.to_array(), dtype=np.int64) for b in bms])})
    for dim in casesets.CASE_DIMS:
        part = sets.frame(casesets.MONTH_DIM).filter(pl.col("dim") == dim)
        values = [pl.DataFrame({"case_id": np.asarray(b.to_array(), dtype=np.int64), dim: v})
                  for v, b in zip(part.get_column("value").to_list(), sets.bitmaps(part), strict=True)]
        df = df.join(pl.concat(values), on="case_id", how="left")
    df.write_parquet(out)


def build_once(rows_file: str, family: str, month: str, target: str) -> dict:
    """Build and write the month's sets with whatever `queries` is on the path; wall and CPU seconds."""
    import polars as pl

    from queries.store import casesets

    rows = pl.read_parquet(rows_file)
    m = dt.date.fromisoformat(f"{month}-01")
    c, t = time.process_time(), time.perf_counter()
    casesets.write_month(Path(target), family, m, casesets.month_sets(rows))
    full = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}
    size = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    # an incremental sync: the month's last day redone over the month just written
    last = rows.get_column("day").max()
    c = time.process_time()
    prev = (casesets.open_month if hasattr(casesets, "open_month") else casesets.read_month)(Path(target), family, m)
    casesets.write_month(Path(target + "-next"), family, m,
                         casesets.month_sets(rows.filter(pl.col("day") == last), prev, {last}))
    return {**full, "day_cpu": time.process_time() - c, "rows": rows.height, "mb": size / 2**20,
            "code": casesets.__file__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="a store built by this code (the rows come from it)")
    ap.add_argument("--month", required=True, help="YYYY-MM")
    ap.add_argument("--baseline", required=True, help="a worktree of the baseline commit")
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print("machine:", machine())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    m = dt.date.fromisoformat(f"{args.month}-01")
    for family in ("paying", "worked"):
        rows = work / f"{family}-{args.month}.parquet"
        if not rows.is_file():
            sys.path.insert(0, str(ROOT))
            export_rows(args.store, family, m, rows)
        got: dict[str, list[dict]] = {"this": [], "baseline": []}
        for i in range(args.runs):
            for name, root in (("this", ROOT), ("baseline", Path(args.baseline))):
                target = work / f"out-{name}-{i}"
                subprocess.run(["rm", "-rf", str(target), f"{target}-next"], check=True)
                out = subprocess.run([sys.executable, __file__, "_build", str(rows), family, args.month, str(target)],
                                     capture_output=True, text=True, check=True, env={"PYTHONPATH": str(root),
                                                                                       "PATH": "/usr/bin:/bin"})
                got[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        for name, res in got.items():
            print(f"{family} {args.month} ({res[0]['rows']:,} case-days) {name:<9}: wall "
                  f"{statistics.median(r['wall'] for r in res):.2f} s, CPU {statistics.median(r['cpu'] for r in res):.2f} s"
                  f", {res[0]['mb']:.1f} MB written; last day redone: CPU "
                  f"{statistics.median(r['day_cpu'] for r in res):.2f} s ({res[0]['code']}); {load()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        print(json.dumps(build_once(*sys.argv[2:6])))
    else:
        main()
