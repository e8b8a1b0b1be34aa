"""Where a page's load goes in headless Chromium (a script, not a test): DOMContentLoaded, the heading shown, the
script finished, every Plotly chart drawn — each load in a new browser context, as a first visit (or all in one with --same-browser).

    python bench/bench_render_phases.py --source sqlite:////work/bench-data/cli/cases.sqlite \
        --store /work/bench-data/cli/store [--pages daily agents trends] [--runs 2]

The first load of a page runs its metric calls; later loads of the same page are served from the server's caches,
so they show what the browser itself costs.

With --switch, the first page is loaded once and every later page is opened from the sidebar, as a viewer moves
between pages after the first view: Streamlit switches pages inside the loaded app, so the Streamlit and Plotly
bundles are not loaded again. A page's first switch still loads the code of its elements (the data grid, the
charts' chunks) when the browser is new to the dashboard; with --returning too, the browser opened every page
before, in an earlier, untimed server start at the same address (Streamlit's files are kept a year), so the timed
switches, on a new server, show the server's first work and the browser's drawing only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load  # noqa: E402
from screenshots import (  # noqa: E402
    PAGES,
    SCRIPT_DONE,
    chromium,
    free_port,
    new_page,
    open_page,
    streamlit_server,
    wait_rendered,
)


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database")
    ap.add_argument("--store", required=True, help="a synced store directory")
    ap.add_argument("--pages", nargs="+", choices=list(PAGES), default=["daily", "agents", "trends", "glossary"])
    ap.add_argument("--runs", type=int, default=2, help="loads of each page")
    ap.add_argument("--same-browser", action="store_true",
                    help="every load in one browser context (its HTTP cache kept: a viewer's later pages)")
    ap.add_argument("--switch", action="store_true",
                    help="load the first page, then open the others from the sidebar (an in-app page switch)")
    ap.add_argument("--returning", action="store_true", help="with --switch: a browser that opened every page "
                    "before, at the same address, in an earlier server start")
    args = ap.parse_args()
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": args.store, "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    print(f"load before: {load()}")
    if args.switch:
        return switch_pages(env, args.pages, args.runs, args.returning)
    with streamlit_server(env) as base, chromium() as b:
        shared = new_page(b).context if args.same_browser else None
        for run in range(args.runs):
            for path in args.pages:
                page = shared.new_page() if shared is not None else new_page(b)
                t0 = time.perf_counter()
                page.goto(f"{base}/{'' if path == 'daily' else path}", wait_until="domcontentloaded")
                dom = time.perf_counter() - t0
                page.get_by_role("heading", name=PAGES[path][0]).first.wait_for(timeout=120_000)
                head = time.perf_counter() - t0
                page.wait_for_function(SCRIPT_DONE, timeout=120_000, polling=50)
                done = time.perf_counter() - t0
                wait_rendered(page, PAGES[path][0])
                drawn = time.perf_counter() - t0
                charts = page.evaluate("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length")
                print(f"run {run + 1} {path:<10} DOMContentLoaded {dom:.2f} s · heading {head:.2f} s · script "
                      f"finished {done:.2f} s · charts drawn {drawn:.2f} s ({charts} charts)", flush=True)
                page.close() if shared is not None else page.context.close()
    print(f"load after: {load()}")


def switch_pages(env: dict[str, str], pages: list[str], runs: int, returning: bool = False) -> None:
    """Load the first page, then time each page opened from the sidebar: heading shown, every chart drawn."""
    port = free_port()
    with chromium() as b:
        page = new_page(b)
        if returning:  # the browser's visit of every page, on a server stopped before the timed one starts
            with streamlit_server(env, port=port) as base:
                for path in pages:
                    open_page(page, base, path)
                page.goto("about:blank")  # not reconnecting to the timed server when it starts
            print(f"a returning browser: {len(pages)} pages opened before, on another server start", flush=True)
        with streamlit_server(env, port=port) as base:
            _switches(page, base, pages, runs)
    print(f"load after: {load()}")


def _switches(page: object, base: str, pages: list[str], runs: int) -> None:
    """The first page loaded, then each page opened from the sidebar `runs` times, timed."""
    first = pages[0]
    t0 = time.perf_counter()
    page.goto(f"{base}/{'' if first == 'daily' else first}", wait_until="domcontentloaded")
    wait_rendered(page, PAGES[first][0])
    print(f"first load {first:<10} charts drawn {time.perf_counter() - t0:.2f} s", flush=True)
    for run in range(runs):
        for path in [*pages[1:], first]:
            link = page.locator('[data-testid="stSidebarNavLink"]', has_text=PAGES[path][0]).first
            t0 = time.perf_counter()
            link.click()
            page.get_by_role("heading", name=PAGES[path][0]).first.wait_for(timeout=120_000)
            head = time.perf_counter() - t0
            wait_rendered(page, PAGES[path][0])
            charts = page.evaluate("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length")
            print(f"run {run + 1} switch to {path:<10} heading {head:.2f} s · charts drawn "
                  f"{time.perf_counter() - t0:.2f} s ({charts} charts)", flush=True)


if __name__ == "__main__":
    main()
