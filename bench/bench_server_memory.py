"""A served dashboard's memory as a user meets it (a script, not a test): the server `collections-dashboard run`
starts (with its warm-up), every page opened once in headless Chromium, the server's resident memory sampled every
50 ms from /proc — the most it held in each step, and its peak.

    python bench/bench_server_memory.py --source /work/bench-data/bank2x.sqlite --store /work/bench-data/scale/s2/store \
        [--runs 2] [--baseline /work/wt/base]

With --baseline (another checkout with its own .venv, e.g. `git worktree add /tmp/base <commit>`), that tree serves
the same store in alternating order, so a noisy shared machine affects both alike (the store format must be one
both read). The machine's load is printed beside every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import SERVE_PAGES, SERVE_QUERY  # noqa: E402
from machine import load, machine, rss_mb  # noqa: E402
from screenshots import browser, free_port, open_page, stop, wait_listening  # noqa: E402

WARM_LINE = "warm-up done"


def serve_once(tree: Path, source: str, store: str, warm_timeout: float = 600) -> dict:
    """Start the tree's server on the store (its warm-up included), open every page once; the most RSS held in
    each step (warm-up, first view, each page), the peak, and the RSS at the end."""
    port = free_port()
    env = {**os.environ, "CASES_DB_URL": f"sqlite:///{source}", "CASES_STORE_DIR": store,
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1", "PYTHONPATH": str(tree)}
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - read while it runs
    cmd = [str(tree / ".venv" / "bin" / "python"), "-m", "dashboard.serve", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    samples: list[tuple[float, float, float]] = []
    marks: list[tuple[float, str]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append((time.monotonic(), *rss_mb(proc.pid)))
            except (OSError, KeyError):
                pass
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    renders = {}
    try:
        wait_listening(proc, port, Path(log.name), 120)
        marks.append((time.monotonic(), "start"))
        deadline = time.monotonic() + warm_timeout
        while WARM_LINE not in Path(log.name).read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        marks.append((time.monotonic(), "warm-up"))
        base = f"http://127.0.0.1:{port}"
        with browser() as page:
            renders["first view"] = open_page(page, base, "daily", timeout_ms=600_000)
            marks.append((time.monotonic(), "first view"))
            for p in SERVE_PAGES:
                renders[p] = open_page(page, base, p, query=SERVE_QUERY.get(p, ""), timeout_ms=600_000)
                marks.append((time.monotonic(), p))
        time.sleep(1)
        marks.append((time.monotonic(), "end"))
    finally:
        done.set()
        stop(proc)
        log.close()
    steps, prev = {}, marks[0][0]
    for t, name in marks[1:]:
        window = [s[1] for s in samples if prev <= s[0] <= t]
        steps[name] = max(window) if window else float("nan")
        prev = t
    return {"steps_mb": steps, "peak_mb": max(s[2] for s in samples), "end_mb": samples[-1][1], "render_s": renders}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="the SQLite case database the store was synced from")
    ap.add_argument("--store", required=True, help="a synced store directory (not written)")
    ap.add_argument("--runs", type=int, default=2, help="server starts per tree")
    ap.add_argument("--baseline", type=Path, help="another checkout (with .venv) serving the same store")
    args = ap.parse_args()
    trees = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    print("machine:", machine(), flush=True)
    got: dict[str, list[dict]] = {name: [] for name in trees}
    for i in range(args.runs):
        for name in (list(trees) if i % 2 == 0 else list(reversed(trees))):
            before = load()
            r = serve_once(trees[name], args.source, args.store)
            got[name].append(r)
            print(f"{name}: peak {r['peak_mb']:.0f} MB, at the end {r['end_mb']:.0f} MB; most held per step (MB): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in r["steps_mb"].items())
                  + "; renders (s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["render_s"].items())
                  + f"; {before} before, {load()} after", flush=True)
    for name, rs in got.items():
        print(f"{name}, median of {len(rs)}: peak {statistics.median(r['peak_mb'] for r in rs):.0f} MB, "
              f"at the end {statistics.median(r['end_mb'] for r in rs):.0f} MB")
    if args.baseline:
        ratio = statistics.median(r["peak_mb"] for r in got["baseline"]) / statistics.median(
            r["peak_mb"] for r in got["this"])
        print(f"baseline ÷ this, peak: {ratio:.2f}×")


if __name__ == "__main__":
    main()
