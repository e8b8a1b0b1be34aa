"""Time from request to a fully rendered page in headless Chromium, per page (a script, not a test).

    python bench/bench_pages.py --source sqlite:///data/demo.sqlite --store /tmp/demo-store
    python bench/bench_pages.py --source sqlite:///data/bank.sqlite --store /tmp/bank-store --runs 5
    git worktree add /tmp/before <commit> && python bench/bench_pages.py … --baseline /tmp/before --runs 11
    python bench/bench_pages.py … --pages agents --custom-from 2025-11-15     # a custom period, all agents

Starts `streamlit run` on the source with the given store (synced first if missing), then for each page
loads it `--runs` times: "new filter" loads use a different team each time (metric calls miss the cache,
the store is in memory), "repeat" loads reopen the default view (cached). Fully rendered = heading
shown, script finished, every Plotly chart drawn. Prints medians in seconds.

With --baseline (another checkout of this repository), both trees serve the same store at once and
the default view of each page is loaded alternately from each: medians side by side and their ratio,
so a noisy shared machine affects both alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import PAGES, browser, open_page, streamlit_process, streamlit_server  # noqa: E402

BENCH_PAGES = ("daily", "agents", "complaints", "compliance", "aging", "trends", "agencies")


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database")
    ap.add_argument("--store", required=True, help="analytics store directory (synced first when missing)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with, side by side")
    ap.add_argument("--pages", nargs="+", choices=BENCH_PAGES, default=list(BENCH_PAGES), help="pages to time")
    ap.add_argument("--first", choices=BENCH_PAGES, default="daily", help="the page a fresh server opens first")
    ap.add_argument("--query", default="", help="added to every load's query, e.g. period=ytd")
    ap.add_argument("--custom-from", type=dt.date.fromisoformat, help="a custom period from this day to the as-of "
                    "day instead of the default view: the new filter loads start it one day later each time")
    args = ap.parse_args()

    from queries.store import Store, StoreMissing
    from queries.sync import run_sync

    try:
        store = Store.open(args.store)
    except StoreMissing:
        print("syncing the store first …", file=sys.stderr)
        run_sync(args.source, args.store, full=True)
        store = Store.open(args.store)
    teams = store.frame("teams").get_column("team_id").to_list()
    extra = f"&{args.query}" if args.query else ""
    queries = [f"team={teams[i % len(teams)]}{extra}" for i in range(args.runs)]
    repeat_query = args.query
    if args.custom_from:  # every new load is another period over all agents: nothing cached
        queries = [f"dates={args.custom_from + dt.timedelta(days=i + 1)}&dates={store.as_of}" for i in range(args.runs)]
        repeat_query = f"dates={args.custom_from}&dates={store.as_of}"
    # Demo mode (role picker) on a configured database must be allowed explicitly.
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": str(args.store), "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    if args.baseline:
        return _side_by_side(env, args.baseline, args.pages, args.runs)
    rows = []
    with streamlit_server(env, timeout=600) as base, browser() as page:
        first = open_page(page, base, args.first, query=args.query, timeout_ms=600_000)  # loads the store
        print(f"first page of a fresh server ({args.first}: store load + sync check): {first:.2f} s", flush=True)
        for path in args.pages:
            new = [open_page(page, base, path, query=q, timeout_ms=600_000) for q in queries]
            repeat = [open_page(page, base, path, query=repeat_query, timeout_ms=600_000) for _ in range(args.runs)]
            rows.append((path, statistics.median(new), max(new), statistics.median(repeat)))
            print(f"{PAGES[path][1]:<20} new filter median {rows[-1][1]:.2f} s (max {rows[-1][2]:.2f}) · "
                  f"repeat median {rows[-1][3]:.2f} s", flush=True)
    print("\n| page | new filter: median (max) | repeat view: median |\n|---|---|---|")
    for path, med, mx, rep in rows:
        print(f"| {PAGES[path][1]} | {med:.2f} s ({mx:.2f}) | {rep:.2f} s |")
    return 0


def _side_by_side(env: dict[str, str], baseline: Path, pages: list[str], runs: int) -> int:
    """Default view of each page from the baseline tree and this one, loads alternated; medians and ratio."""
    with streamlit_process(env, timeout=600, root=baseline.resolve()) as (old, _), \
            streamlit_process(env, timeout=600) as (new, _), browser() as page:
        for base in (old, new):
            for path in pages:  # warm: store load, then each page's cache
                open_page(page, base, path, timeout_ms=600_000)
        times: dict[tuple[str, str], list[float]] = {(b, p): [] for b in (old, new) for p in pages}
        for i in range(runs):
            for path in pages:
                for base in ((old, new) if i % 2 else (new, old)):
                    times[(base, path)].append(open_page(page, base, path, timeout_ms=600_000))
    print(f"\n| page | baseline {baseline} | this tree | this ÷ baseline |\n|---|---|---|---|")
    for path in pages:
        before, after = statistics.median(times[(old, path)]), statistics.median(times[(new, path)])
        print(f"| {PAGES[path][1]} | {before:.2f} s | {after:.2f} s | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
