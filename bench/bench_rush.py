"""The morning rush (a script, not a test): N viewers open the default page at the same moment on a server that has
not computed anything yet, as when a fresh store version is served and the managers open the dashboard together.

    python bench/bench_rush.py --source sqlite:////work/bench-data/cli/cases.sqlite \
        --store /work/bench-data/cli/store [--viewers 4] [--rounds 3] [--baseline /work/wt/base]

Each round starts a new `streamlit run` (no warm-up: nothing is computed before the viewers arrive), opens N
websocket sessions on the daily page together (the same view, or with --teams one team's view each) (the protocol the browser speaks, bench/streamlit_ws.py) and times
each until its script has finished. Prints the slowest and the median viewer, the server's CPU seconds for the
rush, and the machine's load; with --baseline another checkout is started alternately on the same store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_s, load, machine  # noqa: E402
from screenshots import PAGES, ROOT, streamlit_process  # noqa: E402
from streamlit_ws import view  # noqa: E402


async def _rush(ws: str, queries: list[str], timeout: float) -> list[tuple[float, str | None]]:
    return await asyncio.gather(*[view(ws, "", q, timeout, expect=PAGES["daily"][0]) for q in queries])


def one_round(env: dict[str, str], root: Path, queries: list[str], timeout: float) -> dict:
    """Start a server, send the viewers together, return their times and the server's CPU."""
    with streamlit_process(env, root=root) as (url, proc):
        ws = url.replace("http://", "ws://") + "/_stcore/stream"
        time.sleep(0.5)  # the port is open: let the runtime settle, as a real start before the first viewers
        cpu0 = cpu_s([proc.pid])
        got = asyncio.run(_rush(ws, queries, timeout))
        cpu = cpu_s([proc.pid]) - cpu0
    errors = [e for _, e in got if e]
    times = sorted(t for t, _ in got)
    return {"slowest": times[-1], "median": statistics.median(times), "cpu": cpu, "errors": errors}


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database")
    ap.add_argument("--store", required=True, help="a synced store directory")
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="server starts per tree")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--teams", nargs="*", default=None,
                    help="one team per viewer (a team lead's view each: team=T01 …); default: all see the whole centre")
    ap.add_argument("--baseline", type=Path, help="another checkout, started alternately on the same store")
    args = ap.parse_args()
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": args.store, "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    queries = [f"team={args.teams[i % len(args.teams)]}" for i in range(args.viewers)] if args.teams else \
        [""] * args.viewers
    print(f"machine: {machine()}; {args.viewers} viewers at once: {queries}")
    results: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, root in trees.items():
            before = load()
            res = one_round(env, root, queries, args.timeout)
            results[name].append(res)
            print(f"round {r + 1} {name:<8} slowest {res['slowest']:.2f} s, median {res['median']:.2f} s, server CPU "
                  f"{res['cpu']:.2f} s, errors {len(res['errors'])} {res['errors'][:1]}; {before} before, {load()} "
                  f"after", flush=True)
    print("\n| tree | slowest viewer (median of rounds) | median viewer | server CPU for the rush |\n|---|---|---|---|")
    for name, rs in results.items():
        print(f"| {name} | {statistics.median(x['slowest'] for x in rs):.2f} s | "
              f"{statistics.median(x['median'] for x in rs):.2f} s | {statistics.median(x['cpu'] for x in rs):.2f} s |")


if __name__ == "__main__":
    main()
