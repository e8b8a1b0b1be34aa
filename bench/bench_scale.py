"""Growth with the data (a script, not a test): the real sync, every page's metric calls and a served dashboard's
memory at several sizes of the same centre, with each phase's growth fitted and extrapolated to 10× and 100×.

    python bench/bench_scale.py --work /work/bench-data/scale \\
        --source 1=/work/bench-data/bank.sqlite --source 5=/work/bench-data/stream-gen/bank5x.sqlite \\
        [--page-runs 7] [--serve] [--day] [--report-only]

For each `SCALE=PATH` (a SQLite case database; the scale is its size against bank scale, 1 = 1M cases), in this
order: `collections-dashboard sync --full` as a user runs it (process start to exit, its CPU seconds and peak
memory, the phases from the store's manifest) into <work>/s<SCALE>/store; every page's metric calls from that
store in a fresh process (bench/bench_store.py's page sets, medians); with --serve, a real Streamlit server on the
store and each page opened once in headless Chromium, the server's peak memory read from /proc; with --day (it
WRITES the source: one new day added by bench/apply_day.py), the plain `sync` command for that day. Results are
kept in <work>/results.json (a later run adds or replaces scales), then every figure is fitted as a power of the
scale, y = a × scale^b, by least squares on the logs, and extrapolated. The machine's load is printed beside
every step: compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_sync_cli import phases, timed_command  # noqa: E402
from machine import load, machine, rss_mb  # noqa: E402

SERVE_PAGES = ("daily", "agents", "complaints", "compliance", "aging", "trends", "agencies")
SERVE_QUERY = {"agencies": "period=ytd"}


def _cli(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def sync_full(source: Path, store: Path) -> dict:
    """`collections-dashboard sync --full` from process start to exit."""
    env = {**os.environ, "CASES_DB_URL": f"sqlite:///{source}", "CASES_STORE_DIR": str(store)}
    before = load()
    r = timed_command([_cli("collections-dashboard"), "sync", "--full"], env)
    out = {k: r[k] for k in ("seconds", "cpu_s", "peak_mb")} | {"phases": phases(store), "load": [before, load()]}
    print(f"  sync --full: {r['seconds']:.1f} s wall, CPU {r['cpu_s']:.0f} s, peak {r['peak_mb']:.0f} MB "
          f"({before} → {load()})", flush=True)
    print(f"  phases (s): {out['phases']}", flush=True)
    return out


def sync_day(source: Path, store: Path) -> dict:
    """One new day written into the source (apply_day), then the plain `sync` command."""
    from apply_day import apply_day

    day = apply_day(str(source))
    env = {**os.environ, "CASES_DB_URL": f"sqlite:///{source}", "CASES_STORE_DIR": str(store)}
    before = load()
    r = timed_command([_cli("collections-dashboard"), "sync"], env)
    print(f"  new day {day['day']} ({day['cases_updated']:,} cases updated): sync {r['seconds']:.2f} s wall, "
          f"CPU {r['cpu_s']:.1f} s, peak {r['peak_mb']:.0f} MB ({before} → {load()})", flush=True)
    return {k: r[k] for k in ("seconds", "cpu_s", "peak_mb")} | {"phases": phases(store), "load": [before, load()]}


def page_calls(store: Path, runs: int) -> dict:
    """Every page's metric calls in a fresh process (bench_store.py _pages): store load, medians per page, peak."""
    before = load()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_store.py"), "_pages", str(store), str(runs)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"page calls failed:\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    pages = {p: v["median_ms"] for p, v in r["pages"].items()}
    print(f"  store load {r['load_s']:.2f} s; page calls (median ms): "
          + ", ".join(f"{p} {ms:.0f}" for p, ms in pages.items()) + f"; peak {r['peak_mb']:.0f} MB "
          f"({before} → {load()})", flush=True)
    return {"load_s": r["load_s"], "pages_ms": pages, "peak_mb": r["peak_mb"], "load": [before, load()]}


def serve(source: Path, store: Path) -> dict:
    """A real server on the store: each page opened once in Chromium; render seconds and the server's memory."""
    from screenshots import browser, open_page, streamlit_process

    env = {"CASES_DB_URL": f"sqlite:///{source}", "CASES_STORE_DIR": str(store), "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    before = load()
    with streamlit_process(env, timeout=600) as (base, proc), browser() as page:
        idle = rss_mb(proc.pid)[0]
        first = open_page(page, base, "daily", timeout_ms=600_000)
        renders = {p: open_page(page, base, p, query=SERVE_QUERY.get(p, ""), timeout_ms=600_000)
                   for p in SERVE_PAGES}
        rss, hwm = rss_mb(proc.pid)
    print(f"  served: first view {first:.2f} s; renders (s): " + ", ".join(f"{p} {s:.2f}" for p, s in renders.items())
          + f"; server RSS idle {idle:.0f} MB, after every page {rss:.0f} MB, peak {hwm:.0f} MB "
          f"({before} → {load()})", flush=True)
    return {"first_s": first, "render_s": renders, "rss_idle_mb": idle, "rss_mb": rss, "rss_peak_mb": hwm,
            "load": [before, load()]}


def _flat(r: dict) -> dict[str, float]:
    """The figures of one scale, one name each."""
    out: dict[str, float] = {}
    if "sync" in r:
        s = r["sync"]
        out |= {"sync wall s": s["seconds"], "sync CPU s": s["cpu_s"], "sync peak MB": s["peak_mb"]}
        out |= {f"phase {k} s": v for k, v in s["phases"].items() if isinstance(v, int | float) and v > 0}
    if "pages" in r:
        out["store load s"] = r["pages"]["load_s"]
        out |= {f"page {p} ms": ms for p, ms in r["pages"]["pages_ms"].items()}
    if "serve" in r:
        out["server peak MB"] = r["serve"]["rss_peak_mb"]
        out |= {f"render {p} s": s for p, s in r["serve"]["render_s"].items()}
    if "day" in r:
        out |= {"new day wall s": r["day"]["seconds"], "new day CPU s": r["day"]["cpu_s"]}
    return out


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """y = a × x^b by least squares on log y against log x (None with fewer than two usable points)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    mx, my = statistics.fmean(p[0] for p in pts), statistics.fmean(p[1] for p in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return math.exp(my - b * mx), b


def report(results: dict) -> None:
    """Every figure per scale, its fitted exponent and the extrapolation to 10× and 100×, as a Markdown table."""
    scales = sorted(results, key=float)
    flat = {s: _flat(results[s]) for s in scales}
    names = list(dict.fromkeys(n for s in scales for n in flat[s]))
    head = " | ".join(f"{s}×" for s in scales)
    print(f"\n| figure | {head} | exponent b | 10× | 100× |\n|---|" + "---:|" * (len(scales) + 3))
    for n in names:
        pts = [(float(s), flat[s][n]) for s in scales if n in flat[s]]
        f = fit(pts)
        cells = " | ".join(f"{flat[s][n]:,.1f}" if n in flat[s] else "—" for s in scales)
        tail = (f"{f[1]:.2f} | {f[0] * 10 ** f[1]:,.0f} | {f[0] * 100 ** f[1]:,.0f}" if f else "— | — | —")
        print(f"| {n} | {cells} | {tail} |")


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the stores and results.json")
    ap.add_argument("--source", action="append", default=[], metavar="SCALE=PATH",
                    help="a SQLite case database and its size against bank scale (repeatable)")
    ap.add_argument("--page-runs", type=int, default=7)
    ap.add_argument("--no-sync", action="store_true", help="reuse the stores already in --work")
    ap.add_argument("--serve", action="store_true", help="also a real server and Chromium, for memory and renders")
    ap.add_argument("--day", action="store_true", help="also one new day (WRITES the source)")
    ap.add_argument("--report-only", action="store_true", help="print the table of results.json and stop")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    saved = args.work / "results.json"
    results = json.loads(saved.read_text()) if saved.is_file() else {}
    if not args.report_only:
        print("machine:", machine(), flush=True)
    for item in [] if args.report_only else args.source:
        scale, path = item.split("=", 1)
        source, store = Path(path).resolve(), args.work / f"s{scale}" / "store"
        print(f"{scale}× — {source} ({source.stat().st_size / 2**30:.1f} GiB), {time.strftime('%H:%M')}", flush=True)
        r = results.get(scale, {})
        if not args.no_sync or not (store / "CURRENT").is_file():
            r["sync"] = sync_full(source, store)
        r["pages"] = page_calls(store, args.page_runs)
        if args.serve:
            r["serve"] = serve(source, store)
        if args.day:
            r["day"] = sync_day(source, store)
        results[scale] = r
        saved.write_text(json.dumps(results, indent=1))
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
