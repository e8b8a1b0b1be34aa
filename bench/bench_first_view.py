"""The first view after a server start, timed as a user meets it (a script, not a test).

    python bench/bench_first_view.py --source sqlite:////work/bench-data/bank.sqlite \
        --store /work/bench-data/day-sync/store [--baseline /work/wt/day-sync-base] [--runs 3]

Starts the real `collections-dashboard run` (each tree's own console script: `<tree>/.venv/bin/…`) on the given
store, and as soon as the port accepts connections (or --after seconds later) opens the default page in headless Chromium (already
running, so its launch is not counted) and waits until it is fully rendered (bench/screenshots.wait_rendered:
heading shown, script finished, every Plotly chart drawn). By default the browser is new to the dashboard (an
empty cache: it downloads and compiles Streamlit's 7.8 MB of scripts, Plotly's 4.7 MB among them); with
--returning it is a browser that opened the dashboard before, at the same address, in an earlier server start
(untimed), as a supervisor's browser does every morning: Streamlit's files are kept a year (`immutable`), so only
the page and the server's work remain. Prints, per start: seconds from process start to
the port listening, from the first request to the page rendered, the CPU seconds the server processes spent in
that time (what a warm-up takes off the first view, whatever the machine's load), and a second view. With
--baseline the two trees are started alternately, so a noisy shared machine affects both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import load, machine
from screenshots import chromium, free_port, new_page, open_page, stop, wait_listening


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants so far (Linux /proc)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def first_view(tree: Path, env: dict[str, str], page: object, port: int, after: float = 0.0) -> dict:
    """Start `collections-dashboard run` of one tree on `port`; time listening, the first and a second view in
    `page` (whose browser context holds what it cached before)."""
    cli = tree / ".venv" / "bin" / "collections-dashboard"
    data = Path(tempfile.mkdtemp(prefix="fv-data-"))  # its own audit log and logs per start
    cmd = [str(cli), "run", "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - read on failure
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tree, env={**os.environ, **env, "CASES_DATA_DIR": str(data)},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(proc, port, Path(log.name), 600, poll=0.05)
        listen = time.perf_counter() - t0
        time.sleep(after)
        cpu0 = server_cpu(proc.pid)
        first = open_page(page, f"http://127.0.0.1:{port}", "daily", timeout_ms=600_000)
        first_cpu = server_cpu(proc.pid) - cpu0
        second = open_page(page, f"http://127.0.0.1:{port}", "daily", timeout_ms=600_000)
    finally:
        stop(proc)
    return {"listen": listen, "first": first, "first_cpu": first_cpu, "second": second,
            "log": Path(log.name).read_text()}


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database")
    ap.add_argument("--store", required=True, help="an analytics store directory, already synced")
    ap.add_argument("--baseline", type=Path, help="another checkout (with its own .venv) to compare with")
    ap.add_argument("--baseline-store", help="the baseline's own store of the same data (default: --store)")
    ap.add_argument("--runs", type=int, default=3, help="server starts per tree")
    ap.add_argument("--after", type=float, default=0.0, help="seconds between the port opening and the first "
                    "request (0: at once, the worst case)")
    ap.add_argument("--returning", action="store_true", help="a browser that opened the dashboard at the same "
                    "address before (default: a browser new to it, with an empty cache)")
    args = ap.parse_args()
    # the store is not synced on the first view (that is timed by bench_sync_cli.py); demo roles allowed
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": args.store, "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    trees = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    print("machine:", machine(), f"; first request {args.after:g} s after the port opens;",
          "a returning browser" if args.returning else "a browser new to the dashboard")
    got: dict[str, list[dict]] = {k: [] for k in trees}
    stores = {name: args.baseline_store if name == "baseline" and args.baseline_store else args.store
              for name in trees}
    with chromium() as b:
        kept = {}  # tree → (its browser context's page, its port): a returning browser comes back to one address
        if args.returning:
            for name in trees:
                kept[name] = (new_page(b), free_port())
                first_view(trees[name], {**env, "CASES_STORE_DIR": stores[name]}, *kept[name], 15.0)  # untimed
                kept[name][0].goto("about:blank")  # not reconnecting to the timed server beside its request
        for i in range(args.runs):
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for name in order:
                before = load()
                page, port = kept[name] if args.returning else (new_page(b), free_port())
                r = first_view(trees[name], {**env, "CASES_STORE_DIR": stores[name]}, page, port, args.after)
                if not args.returning:
                    page.context.close()
                got[name].append(r)
                warm = next((ln.split(": ", 1)[1] for ln in r["log"].splitlines() if "warm-up done" in ln), "no warm-up")
                print(f"{name:<8} start {i + 1}: listening after {r['listen']:.2f} s, first view {r['first']:.2f} s, "
                      f"server CPU during it {r['first_cpu']:.2f} s, second view {r['second']:.2f} s ({warm}); {before} before, {load()} after", flush=True)
    print("\n| tree | listening after (median) | first view (median, max) | server CPU during the first view (median) "
          "| second view (median) |\n|---|---|---|---|---|")
    for name, rs in got.items():
        first = [r["first"] for r in rs]
        print(f"| {name} | {statistics.median(r['listen'] for r in rs):.2f} s | {statistics.median(first):.2f} s "
              f"({max(first):.2f}) | {statistics.median(r['first_cpu'] for r in rs):.2f} s "
              f"| {statistics.median(r['second'] for r in rs):.2f} s |")
    if args.baseline:
        ratio = statistics.median(r["first"] for r in got["baseline"]) / statistics.median(
            r["first"] for r in got["this"])
        print(f"\nfirst view: baseline ÷ this = {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
