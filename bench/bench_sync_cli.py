"""The real `collections-dashboard sync` command timed as a user runs it (a script, not a test): from process
start to exit, with the process's peak memory and the machine's load beside every figure.

    python bench/bench_sync_cli.py --source /work/bench-data/bank.sqlite --work /work/bench-data/scale/cli \
        [--full [--full-rounds 2]] [--days 3]

The source is copied once into --work (the copy is written to: each new day is added to it by
bench/apply_day.py with the nightly case and promise updates a real source has). --full times
`sync --full` first; then, --days times, one new day is applied and the plain `sync` command timed.

With --again N, the last new day is then synced N more times per tree from the version before it (the store's
CURRENT pointed back), alternating: more samples of the same day without changing the source.

With --baseline (another checkout with its own .venv, e.g. `git worktree add /tmp/base <commit>`), its
`collections-dashboard` syncs a store of its own (--work/store-base) from the same copy: each new day is applied
once and synced by both, in alternating order, so a noisy shared machine affects both alike. With
--baseline-source too, the baseline syncs its own copy of that file (the same data laid out another way, e.g. made
by an older generator); each new day is applied to both copies.
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


def sync_line(r: dict, before: str, store: Path) -> str:
    """One timed sync: wall, CPU, peak memory, load, phases."""
    return (f"sync {r['seconds']:.2f} s wall (CPU {r['cpu_s']:.1f} s), peak {r['peak_mb']:.0f} MB; {before} before, "
            f"{load()} after\n    phases (s): {phases(store)}")


def in_turn(trees: dict, i: int) -> list[str]:
    """The trees' names in round i's order: as given in even rounds, reversed in odd ones."""
    return list(trees) if i % 2 == 0 else list(reversed(trees))


def ratio(runs: dict[str, list[dict]], key: str) -> float:
    """Median of the baseline's runs ÷ median of this tree's, for one measure."""
    return statistics.median(r[key] for r in runs["baseline"]) / statistics.median(r[key] for r in runs["this"])


def evict(store: Path) -> None:
    """Drop every file of the store's current version from the page cache (posix_fadvise DONTNEED: clean pages
    only, no root needed)."""
    name = (store / "CURRENT").read_text().strip()
    for f in (store / name).rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def back_one(store: Path) -> None:
    """Point the store back at the version before the current one and drop the current: the next sync makes the
    last day again from the same source."""
    current = (store / "CURRENT").read_text().strip()
    older = sorted(p.name for p in store.glob("v-*") if p.is_dir() and p.name != current)
    if not older:
        raise SystemExit(f"{store}: no version before {current} to sync the day again from")
    tmp = store / ".CURRENT.again"
    tmp.write_text(older[-1])
    os.replace(tmp, store / "CURRENT")
    shutil.rmtree(store / current)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLite case database (copied, never written)")
    ap.add_argument("--work", required=True, help="folder for the copy and its store")
    ap.add_argument("--full", action="store_true", help="time `sync --full` first")
    ap.add_argument("--full-rounds", type=int, default=1,
                    help="with --full: this many full syncs per tree, the trees' order alternating each round")
    ap.add_argument("--days", type=int, default=3, help="new days to apply and sync, one at a time")
    ap.add_argument("--baseline", type=Path, help="another checkout (with .venv) syncing its own store, side by side")
    ap.add_argument("--baseline-source", help="the baseline's own SQLite source (default: --source's copy)")
    ap.add_argument("--cold", action="store_true",
                    help="before each sync of a new day, drop the store's files from the page cache (a nightly job "
                         "on a store nobody has read for hours, or on another host's share)")
    ap.add_argument("--again", type=int, default=0,
                    help="then sync the last new day again this many times per tree, each from the version before it "
                         "(CURRENT pointed back): many samples of one day without changing the source")
    args = ap.parse_args()
    if args.baseline_source and not args.baseline:
        ap.error("--baseline-source is the baseline's own source: give --baseline too")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "cases.sqlite"
    copies = {"this": copy, "baseline": work / "cases-base.sqlite" if args.baseline_source else copy}
    for name, source in (("this", args.source), ("baseline", args.baseline_source)):
        if source and not copies[name].is_file():
            print(f"copying {source} → {copies[name]} …", flush=True)
            shutil.copyfile(source, copies[name])
    trees = {"this": (Path(sys.executable).with_name("collections-dashboard"), work / "store")}
    if args.baseline:
        trees["baseline"] = (args.baseline.resolve() / ".venv" / "bin" / "collections-dashboard", work / "store-base")
    envs = {name: {**os.environ, "CASES_DB_URL": f"sqlite:///{copies[name]}",
                   "CASES_STORE_DIR": str(trees[name][1])} for name in trees}
    print("machine:", machine())
    full: dict[str, list[dict]] = {name: [] for name in trees}
    for i in range(args.full_rounds if args.full else 1):
        for name in in_turn(trees, i):
            cli, store = trees[name]
            if args.full or not (store / "CURRENT").is_file():
                before = load()
                r = timed_command([str(cli), "sync", "--full"], envs[name])
                full[name].append(r)
                print(f"{name}: sync --full: {r['seconds']:.1f} s wall (CPU {r['cpu_s']:.0f} s), peak "
                      f"{r['peak_mb']:.0f} MB; {before} before, {load()} after\n    phases (s): {phases(store)}",
                      flush=True)
    if args.full and args.full_rounds > 1:
        for name, rs in full.items():
            print(f"sync --full, {name}, median of {len(rs)}: {statistics.median(r['seconds'] for r in rs):.1f} s "
                  f"wall, CPU {statistics.median(r['cpu_s'] for r in rs):.0f} s, peak "
                  f"{max(r['peak_mb'] for r in rs):.0f} MB")
        if args.baseline:
            print(f"sync --full, baseline ÷ this, wall: {ratio(full, 'seconds'):.2f}×")
    got: dict[str, list[dict]] = {name: [] for name in trees}
    for i in range(args.days):
        day = apply_day(str(copy))
        if copies["baseline"] != copy:  # --baseline-source (which needs --baseline)
            apply_day(str(copies["baseline"]))
        print(f"new day {day['day']} ({day['payments']:,} payments, {day['contacts']:,} contacts, "
              f"{day['promises_new']:,} new + {day['promises_settled']:,} settled promises, "
              f"{day['cases_updated']:,} cases updated; applied in {day['seconds']} s):", flush=True)
        for name in in_turn(trees, i):
            cli, store = trees[name]
            if args.cold:
                evict(store)
            before = load()
            r = timed_command([str(cli), "sync"], envs[name])
            got[name].append(r)
            print(f"  {name}: {sync_line(r, before, store)}", flush=True)
    for i in range(args.again if args.days else 0):
        for name in in_turn(trees, i):
            cli, store = trees[name]
            back_one(store)
            if args.cold:
                evict(store)
            before = load()
            r = timed_command([str(cli), "sync"], envs[name])
            got[name].append(r)
            print(f"  again, {name}: {sync_line(r, before, store)}", flush=True)
    for name, rs in got.items():
        if rs:
            print(f"one new day, {name}, median of {len(rs)}: {statistics.median(r['seconds'] for r in rs):.2f} s wall, "
                  f"CPU {statistics.median(r['cpu_s'] for r in rs):.1f} s")
    if args.baseline and args.days:
        for key, label in (("seconds", "wall"), ("cpu_s", "CPU")):
            print(f"baseline ÷ this, {label}: {ratio(got, key):.2f}×")


if __name__ == "__main__":
    main()
