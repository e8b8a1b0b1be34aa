"""Time demo case database generation per backend (a script, not a test): median of several runs.

    python bench/bench_demo_db.py --scale demo --runs 3 \
        --url sqlite:////tmp/bench-demo.sqlite \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        --url mysql+pymysql://root@127.0.0.1:3306/bench
Each URL's case tables are replaced. Peak memory is this process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from queries.demo import build_demo_database  # noqa: E402


def main() -> None:
    """Run the benchmark and print one line per backend."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="demo")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--url", action="append", required=True)
    p.add_argument("--as-of", default="2026-11-22")
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"scale {args.scale}, as of {args.as_of}, {args.runs} runs each; seconds, median (min–max)")
    for url in args.url:
        results = [build_demo_database(url, args.scale, 7, dt.date.fromisoformat(args.as_of), replace=True)
                   for _ in range(args.runs)]
        cells = []
        for key in ("simulate_s", "load_s", "total_s"):
            xs = [r[key] for r in results]
            cells.append(f"{key[:-2]} {statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})")
        rows = results[0]["rows"]
        print(f"{results[0]['url'].split('://')[0]:<22} {'; '.join(cells)}; rows: cases {rows['cases']:,}, "
              f"contacts {rows['contacts']:,}, payments {rows['payments']:,}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
