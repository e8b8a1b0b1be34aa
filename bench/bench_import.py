"""Time `collections-dashboard import-status` as users run it: the whole command, process start to exit, with its
peak memory (/usr/bin/time -v, else the child's ru_maxrss), on the public UCI file and on a synthetic long file.

    python bench/bench_import.py --uci PATH/UCI_Credit_Card.csv --runs 3
    python bench/bench_import.py --skip-uci --accounts 1000000 --months 13     # the bank-scale target

Targets (docs/benchmarks.md): UCI (30,000 accounts × 6 months) ≤ 10 s; 1,000,000 accounts × 13 months in a long
file ≤ 5 min with peak memory ≤ 4 GB. The synthetic file is written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
UCI_MAPPING = ROOT / "docs" / "examples" / "uci-mapping.toml"
LONG_MAPPING = """
layout = "long"
[file]
encoding = "utf-8"
[account]
key = "account_no"
outcome = "defaulted"
outcome_label = "charged off within 13 months"
[status]
encoding = "months"
current = [-2, -1, 0]
[long]
month = "month"
status = "status"
balance = "balance"
payment = "paid"
"""


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes)."""
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in GiB, output) of one run of the command, as a child process."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    t0 = time.perf_counter()
    p = subprocess.run([*timer, *cmd], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    peak_kb = int(m.group(1)) if m else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 2**20, p.stdout


def synthetic(path: Path, accounts: int, months: int, seed: int = 1) -> int:
    """A long month-end file: one row per account and month, statuses that roll and cure, bills and payments."""
    rng = np.random.default_rng(seed)
    status = rng.choice([-2, -1, 0, 1, 2], size=accounts, p=[0.15, 0.2, 0.55, 0.07, 0.03])
    bill = np.round(rng.gamma(1.5, 20_000, accounts), 2)
    ids = np.arange(1, accounts + 1)
    defaulted = np.zeros(accounts, dtype=np.int8)
    rows = 0
    with path.open("wb") as fh:
        for m in range(months):
            y, mo = 2025 + (m // 12), m % 12 + 1
            late = status > 0
            roll = rng.random(accounts)
            status = np.where(late & (roll < 0.35), status + 1,
                              np.where(late & (roll < 0.75), 0, np.where(~late & (roll < 0.04), 1, status)))
            status = np.where(~late & (status <= 0), rng.choice([-2, -1, 0], size=accounts, p=[0.2, 0.3, 0.5]), status)
            defaulted |= (status >= 6).astype(np.int8)
            paid = np.where(rng.random(accounts) < 0.6, np.round(np.maximum(bill, 0) * rng.uniform(0.02, 0.5, accounts), 2), 0.0)
            bill = np.round(np.maximum(bill - paid + rng.normal(500, 3_000, accounts), -500), 2)
            df = pl.DataFrame({"account_no": ids, "month": f"{y}-{mo:02d}", "status": status, "balance": bill,
                               "paid": paid, "defaulted": defaulted})
            df.write_csv(fh, include_header=m == 0, float_precision=2)
            rows += accounts
    return rows


def main() -> None:
    """Run the benchmark and print one line per case."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uci", default=None, help="path of UCI_Credit_Card.csv (default: beside the repository)")
    p.add_argument("--runs", type=int, default=3, help="runs on the UCI file")
    p.add_argument("--skip-uci", action="store_true")
    p.add_argument("--skip-big", action="store_true")
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=13)
    p.add_argument("--url", default=None, help="target database (default: a SQLite file in a temporary folder)")
    args = p.parse_args()
    exe = shutil.which("collections-dashboard") or sys.exit("install the project first: pip install -e .")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        url = args.url or f"sqlite:///{tmp}/imported.sqlite"
        if not args.skip_uci:
            uci = Path(args.uci) if args.uci else ROOT.parent / "shared" / "data" / "UCI_Credit_Card.csv"
            cmd = [exe, "import-status", str(uci), "--url", url, "--mapping", str(UCI_MAPPING), "--replace"]
            print(f"{load()} · {' '.join(cmd[1:]).replace(tmp, '$TMP')}")
            results = [run(cmd) for _ in range(args.runs)]
            secs = [r[0] for r in results]
            print(f"UCI 30,000 × 6: {statistics.median(secs):.2f} s median of {len(secs)} "
                  f"({min(secs):.2f}–{max(secs):.2f}), peak RSS {max(r[1] for r in results):.2f} GiB · {load()}")
        if not args.skip_big:
            f = Path(tmp) / "status_long.csv"
            t0 = time.perf_counter()
            rows = synthetic(f, args.accounts, args.months)
            print(f"synthetic long file: {rows:,} rows, {f.stat().st_size / 2**20:,.0f} MiB, made in "
                  f"{time.perf_counter() - t0:.0f} s")
            m = Path(tmp) / "long.toml"
            m.write_text(LONG_MAPPING, encoding="utf-8")
            cmd = [exe, "import-status", str(f), "--url", url, "--mapping", str(m), "--replace"]
            print(f"{load()} · {' '.join(cmd[1:]).replace(tmp, '$TMP')}")
            secs, peak, out = run(cmd)
            print(out.splitlines()[0])
            print(f"{args.accounts:,} × {args.months}: {secs:.1f} s, peak RSS {peak:.2f} GiB · {load()}")


if __name__ == "__main__":
    main()
