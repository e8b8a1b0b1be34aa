"""A viewer's first visit on a phone's network, straight to a replica and through the documented balancers (a
script, not a test).

    python bench/bench_network.py --source sqlite:////work/bench-data/bank.sqlite \
        --store /work/bench-data/s1/store [--network 4g --network slow4g] [--runs 3]

Starts one dashboard server on the store, and in front of it HAProxy with docs/examples/haproxy.cfg and nginx
with docs/examples/nginx.conf (each gzips scripts and styles; Debian's packages, where installed), warms the
server with one untimed view, then, per run and network, for each route in turn (direct, then each balancer;
the order reversed every other run): the default page opened by a browser new to the dashboard (empty cache),
then by the same browser again in a new tab (its cache kept: Streamlit's files are `immutable` for a year). The
network is Chromium's own emulation (DevTools protocol: latency, download and upload rates) on every request and
the websocket. Prints seconds until the page is fully rendered and the bytes that crossed the network (HTTP
responses with their headers, and the websocket's frames), medians per route and network.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from balancer import KINDS, balanced, program  # noqa: E402
from machine import load, machine  # noqa: E402
from screenshots import chromium, open_page, streamlit_process  # noqa: E402

#: name → (latency ms, download bytes/s, upload bytes/s): Chrome DevTools' "Fast 4G" and "Slow 4G" presets, and an
#: office Wi-Fi
NETWORKS = {
    "4g": (60, 9_000_000 / 8, 1_500_000 / 8),
    "slow4g": (150, 1_600_000 / 8, 750_000 / 8),
    "wifi": (10, 30_000_000 / 8, 15_000_000 / 8),
}

#: a phone's browser: its screen (390 px wide, three pixels a point) and language
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "locale": "zh-CN"}

#: the bytes each HTTP response took on the wire (headers and encoded body; same-origin, so Resource Timing tells)
WIRE_BYTES = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .reduce((n, e) => n + e.transferSize, 0)"""


def visit(page: object, base: str, network: str) -> tuple[float, int]:
    """Open the default page in `page` on the emulated network; seconds until rendered and bytes on the wire."""
    latency, down, up = NETWORKS[network]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency,
                                                  "downloadThroughput": down, "uploadThroughput": up})
    frames = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.__setitem__(0, frames[0] + len(f))))
    seconds = open_page(page, base, "daily", timeout_ms=900_000)
    return seconds, int(page.evaluate(WIRE_BYTES)) + frames[0]


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="SQLAlchemy URL of the case database")
    ap.add_argument("--store", required=True, help="an analytics store directory, already synced")
    ap.add_argument("--network", action="append", choices=sorted(NETWORKS), help="emulated network (repeatable; "
                    "default 4g)")
    ap.add_argument("--runs", type=int, default=3, help="visits per route, network and browser state")
    args = ap.parse_args()
    networks = args.network or ["4g"]
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": args.store, "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    print("machine:", machine(), "; networks:", ", ".join(f"{n} {NETWORKS[n][0]} ms, {NETWORKS[n][1] * 8 / 1e6:g}/"
                                                           f"{NETWORKS[n][2] * 8 / 1e6:g} Mbit/s" for n in networks))
    got: dict[tuple[str, str, str], list[tuple[float, int]]] = {}
    with ExitStack() as stack:
        direct, _proc = stack.enter_context(streamlit_process(env, timeout=600))
        port = int(direct.rsplit(":", 1)[1])
        routes = {"direct": direct, **{kind: stack.enter_context(balanced(kind, [port]))
                                       for kind in KINDS if program(kind)}}
        b = stack.enter_context(chromium())
        ctx = b.new_context(**PHONE)
        open_page(ctx.new_page(), direct, "daily", timeout_ms=600_000)  # the server's caches, untimed
        ctx.close()
        for i in range(args.runs):
            for network in networks:
                for route in (list(routes) if i % 2 == 0 else list(reversed(routes))):
                    before = load()
                    ctx = b.new_context(**PHONE)
                    try:
                        for state in ("new browser", "returning"):
                            page = ctx.new_page()
                            r = visit(page, routes[route], network)
                            page.close()
                            got.setdefault((network, route, state), []).append(r)
                            print(f"run {i + 1} {network:<6} {route:<8} {state:<11} {r[0]:6.2f} s "
                                  f"{r[1] / 1e6:6.2f} MB; {before} before, {load()} after", flush=True)
                    finally:
                        ctx.close()
    print("\n| network | browser | route | rendered (median, max) | on the wire (median) |\n|---|---|---|---|---|")
    for (network, route, state), rs in got.items():
        s = [r[0] for r in rs]
        print(f"| {network} | {state} | {route} | {statistics.median(s):.2f} s ({max(s):.2f}) "
              f"| {statistics.median(r[1] for r in rs) / 1e6:.2f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
