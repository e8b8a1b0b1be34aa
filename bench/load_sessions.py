"""Load test (a script, not a test): N concurrent Streamlit sessions changing filters against one server.

Each simulated user opens a page with a random filter set over a real websocket session (the
protocol the browser speaks: BackMsg rerun_script in, ForwardMsgs out until script_finished), waits
for the script to finish, and repeats with another page and filters until the time is up. That is
a user following shared links; every view is a full script run on the server. It reports p50/p95
of the server's time from request to finished page, errors (exception elements or broken sessions),
the server's peak memory, and how many statements reached the case database (CASES_QUERY_LOG).

    python bench/load_sessions.py --source sqlite:////tmp/ui/bank.sqlite --store /tmp/ui/bank_store \
        --sessions 20 --seconds 60

With --replicas N (N > 1) it starts N servers on the same store behind HAProxy (the Debian package;
`apt-get install haproxy`), configured by docs/examples/haproxy.cfg (sticky per viewer, websockets passed
through), and drives the sessions through the balancer. Throughput per core is page views per CPU-second
of the servers (their user + system time during the load), so runs with 1 and N processes compare on a
shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from balancer import balanced  # noqa: E402
from machine import cpu_s, load, machine  # noqa: E402
from screenshots import streamlit_process  # noqa: E402
from streamlit_ws import view as _view  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("daily", "agents", "complaints", "aging", "trends")
PERIODS = ("today", "yesterday", "last7", "mtd", "last_month", "qtd", "ytd")


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _query(rng: random.Random, teams: list[str]) -> str:
    parts = [f"period={rng.choice(PERIODS)}", f"lang={rng.choice(['zh', 'en'])}"]
    if teams and rng.random() < 0.5:
        parts += [f"team={t}" for t in rng.sample(teams, k=rng.randint(1, min(3, len(teams))))]
    if rng.random() < 0.3:
        parts.append(f"bucket=M{rng.randint(1, 6)}")
    return "&".join(parts)


AUTH_HEADER = "X-Load-User"
ROLES = ("manager", "executive", "compliance", "team_lead")


def _access_file(users: int, teams: list[str]) -> Path:
    """An access file for the simulated users: mixed roles, team leads scoped to one or two teams."""
    lines = []
    for i in range(users):
        role = ROLES[i % len(ROLES)]
        lines += [f'[users."user{i}@load.test"]', f'role = "{role}"']
        if role == "team_lead":
            lines.append(f"teams = {teams[i % len(teams):i % len(teams) + 2] or teams[:1]!r}".replace("'", '"'))
        lines.append("")
    path = Path(tempfile.mkstemp(prefix="access-", suffix=".toml")[1])
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


TITLES = {"daily": "Daily recovery", "agents": "Agent performance", "complaints": "Complaints",
          "aging": "Aging", "trends": "Monthly trends"}
TITLES_ZH = {"daily": "每日回收", "agents": "坐席绩效", "complaints": "投诉监控", "aging": "账龄与迁徙", "trends": "月度趋势"}


async def _user(ws_url: str, seed: int, deadline: float, teams: list[str], out: list, timeout: float,
                think: float = 0.0) -> None:
    rng = random.Random(seed)
    user = f"user{seed}@load.test"
    while time.monotonic() < deadline:
        page, query = rng.choice(PAGES), _query(rng, teams)
        expect = TITLES[page] if "lang=en" in query else TITLES_ZH[page]
        try:
            # the default page answers at "/" (a browser asking for /daily is redirected there)
            secs, err = await _view(ws_url, "" if page == "daily" else page, query, timeout, user, expect)
        except Exception as exc:  # noqa: BLE001 - any failure of a session is an error to report
            secs, err = float("nan"), f"{type(exc).__name__}: {exc}"[:160]
        out.append((page, secs, err))
        if think:  # a person reading the page before the next change: uniform in [0.5, 1.5] × think
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))


async def _run(ws_url: str, sessions: int, seconds: float, teams: list[str], timeout: float,
               think: float = 0.0) -> list:
    out: list = []
    deadline = time.monotonic() + seconds
    await asyncio.gather(*[_user(ws_url, i, deadline, teams, out, timeout, think) for i in range(sessions)])
    return out


async def _load(ws_url: str, args: argparse.Namespace, teams: list[str], sample: object) -> list:
    """The sessions, with the server's memory sampled twice a second while they run."""

    async def sampler() -> None:
        while True:
            sample()
            await asyncio.sleep(0.5)

    task = asyncio.create_task(sampler())
    try:
        return await _run(ws_url, args.sessions, args.seconds, teams, args.timeout, args.think)
    finally:
        task.cancel()


def main() -> None:
    """Start a server on the given source and store, warm it, drive the sessions, print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="case database URL (read-only)")
    p.add_argument("--store", required=True, help="analytics store directory (synced beforehand)")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--timeout", type=float, default=120, help="seconds one view may take before it counts as failed")
    p.add_argument("--think", type=float, default=0.0,
                   help="mean seconds a user reads a page before the next change (default 0: back to back)")
    p.add_argument("--teams", default="T01,T02,T03,T05,T08,T12,T21,T33")
    p.add_argument("--replicas", type=int, default=1, help="servers on the same store behind HAProxy (default 1: "
                   "one server, no balancer)")
    args = p.parse_args()
    qlog = Path(tempfile.mkstemp(prefix="queries-", suffix=".log")[1])
    teams = [t for t in args.teams.split(",") if t]
    access = _access_file(args.sessions, teams)
    env = {**os.environ, "CASES_DB_URL": args.source, "CASES_STORE_DIR": args.store,
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_QUERY_LOG": str(qlog),
           "CASES_AUTH_HEADER": AUTH_HEADER, "CASES_ACCESS_FILE": str(access)}
    try:
        with ExitStack() as stack:
            servers = [stack.enter_context(streamlit_process(env, timeout=600)) for _ in range(args.replicas)]
            procs = [proc for _, proc in servers]
            base = servers[0][0]
            if args.replicas > 1:
                base = stack.enter_context(balanced("haproxy", [int(b.rsplit(":", 1)[1]) for b, _ in servers],
                                                    AUTH_HEADER))
            ws_url = base.replace("http://", "ws://") + "/_stcore/stream"
            print(f"machine: {machine()}; {args.replicas} server process(es)"
                  + (" behind HAProxy" if args.replicas > 1 else ""))
            t0 = time.perf_counter()
            # one view per replica (users 0..N-1 hash to different ones mostly): each loads the store
            warm = asyncio.run(_run(ws_url, args.replicas, 0.001, teams, args.timeout))
            print(f"first view(s) (store load): {time.perf_counter() - t0:.2f} s; {load()}"
                  + "".join(f" error {w[2]}" for w in warm if w[2]))
            before_q = len(qlog.read_text().splitlines())
            rss = lambda: sum(_rss_mb(p.pid) for p in procs)  # noqa: E731
            peak = [rss()]
            pids = [p.pid for p in procs]
            cpu0, load_before = cpu_s(pids), load()
            start = time.perf_counter()
            results = asyncio.run(_load(ws_url, args, teams, lambda: peak.append(rss())))
            wall = time.perf_counter() - start
            cpu = cpu_s(pids) - cpu0
            queries = len(qlog.read_text().splitlines()) - before_q
    finally:
        qlog.unlink(missing_ok=True)
        access.unlink(missing_ok=True)
    idle_rss = peak[0]
    ok = [s for _, s, e in results if e is None]
    errors = [(pg, e) for pg, _, e in results if e is not None]
    print(f"{args.sessions} sessions for {wall:.0f} s (think time {args.think:g} s): {len(results)} page views ({len(results) / wall:.1f}/s), "
          f"{len(errors)} errors")
    if ok:
        q = statistics.quantiles(ok, n=20)
        print(f"render time (request → script finished): p50 {statistics.median(ok):.2f} s, p95 {q[18]:.2f} s, "
              f"max {max(ok):.2f} s")
    for page in PAGES:
        xs = [s for pg, s, e in results if pg == page and e is None]
        if xs:
            print(f"  {page:<11} n={len(xs):<4} p50 {statistics.median(xs):.2f} s  "
                  f"p95 {statistics.quantiles(xs, n=20)[18] if len(xs) > 1 else xs[0]:.2f} s")
    print(f"server CPU: {cpu:.0f} s over {wall:.0f} s; page views per CPU-second (throughput per core): "
          f"{len(ok) / cpu if cpu else float('nan'):.2f}; {load_before} before, {load()} after")
    print(f"server memory (all replicas): {idle_rss:.0f} MB after the first view, peak {max(peak):.0f} MB under load")
    print(f"statements sent to the case database during the load: {queries}")
    for pg, e in errors[:10]:
        print(f"  error on {pg}: {e}")


if __name__ == "__main__":
    main()
