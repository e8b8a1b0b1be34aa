"""The real `collections-dashboard sync` command timed as a user runs it (a script, not a test): from process
start to exit, with the process's peak memory and the machine's load beside every figure.

    python bench/bench_sync_cli.py --source /work/bench-data/bank.sqlite --work /work/bench-data/scale/cli \
        [--full] [--days 3]

The source is copied once into --work (the copy is written to: each new day is added to it by
bench/apply_day.py with the nightly case and promise updates a real source has). --full times
`sync --full` first; then, --days times, one new day is applied and the plain `sync` command timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apply_day import apply_day  # noqa: E402
from machine import load, machine  # noqa: E402


def timed_command(args: list[str], env: dict) -> dict:
    """Run a command; wall seconds from spawn to exit, its peak RSS (MB) and CPU seconds."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{out[-2000:]}")
    return {"seconds": seconds, "peak_mb": ru.ru_maxrss / 1024, "cpu_s": ru.ru_utime + ru.ru_stime, "out": out}


def phases(store: Path) -> dict:
    """The last sync's phase timings from its manifest."""
    name = (store / "CURRENT").read_text().strip()
    return json.loads((store / name / "manifest.json").read_text()).get("timings_s", {})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLite case database (copied, never written)")
    ap.add_argument("--work", required=True, help="folder for the copy and its store")
    ap.add_argument("--full", action="store_true", help="time `sync --full` first")
    ap.add_argument("--days", type=int, default=3, help="new days to apply and sync, one at a time")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    copy, store = work / "cases.sqlite", work / "store"
    if not copy.is_file():
        print(f"copying {args.source} → {copy} …", flush=True)
        shutil.copyfile(args.source, copy)
    env = {**os.environ, "CASES_DB_URL": f"sqlite:///{copy}", "CASES_STORE_DIR": str(store)}
    cli = [str(Path(sys.executable).with_name("collections-dashboard")), "sync"]
    print("machine:", machine())
    if args.full or not (store / "CURRENT").is_file():
        before = load()
        r = timed_command([*cli, "--full"], env)
        print(f"sync --full: {r['seconds']:.1f} s wall (CPU {r['cpu_s']:.0f} s), peak {r['peak_mb']:.0f} MB; "
              f"{before} before, {load()} after")
        print(f"  phases (s): {phases(store)}")
    times = []
    for _ in range(args.days):
        day = apply_day(str(copy))
        before = load()
        r = timed_command(cli, env)
        times.append(r["seconds"])
        print(f"new day {day['day']} ({day['payments']:,} payments, {day['contacts']:,} contacts, "
              f"{day['promises_new']:,} new + {day['promises_settled']:,} settled promises, "
              f"{day['cases_updated']:,} cases updated; applied in {day['seconds']} s): "
              f"sync {r['seconds']:.2f} s wall (CPU {r['cpu_s']:.1f} s), peak {r['peak_mb']:.0f} MB; "
              f"{before} before, {load()} after")
        print(f"  phases (s): {phases(store)}")
    if times:
        print(f"one new day, median of {len(times)}: {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
