"""Benchmark of the daily digest and the alerts (a script, not a test), on a synced bank-scale store.

    python bench/bench_notify.py --store /work/bench-data/notify-store --source sqlite:////work/bench-data/bank.sqlite

Writes an access file with one team lead per team (40 at bank scale) subscribed by e-mail, and a rules file of
50 rules over every metric family, in a temporary folder (the store is only read: the runs are dry runs, which
build every message and write nothing). Prints the machine and its load, then medians of:

- the whole `digest --role team_lead --dry-run` command (a fresh process: imports, store, browser start, all
  40 digests with their charts, HTML, markdown, workbook and e-mail built), target ≤ 30 s;
- the same 40 digests in one process, split: numbers only, charts (1 and 2 browser tabs side by side), renders;
- the whole `alerts --dry-run` command with 50 rules, and the rules' evaluation alone in one process, target ≤ 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import machine  # noqa: E402

TEMPLATES = [  # (metric, column, by, comparison, threshold, window, extra)
    ("complaint_rate", "regulator_12378", ["team_id"], ">", 0, "yesterday", {}),
    ("target_achievement", "pace", ["team_id"], "<", 0.9, "mtd", {"min_working_day": 10}),
    ("after_hours_rate", "numerator", ["agent_id"], ">", 0, "yesterday", {}),
    ("contact_rate", "value", ["team_id"], "<", 0.3, "last7", {}),
    ("rpc_rate", "value", ["agent_id"], "<", 0.05, "last7", {}),
    ("ptp_kept_rate", "value", ["team_id"], "<", 0.4, "last30", {}),
    ("over_frequency", "numerator", ["agent_id"], ">", 2, "yesterday", {}),
    ("collected", "value", ["team_id"], "<", 100000, "yesterday", {}),
    ("recovery_rate", "value", ["bucket"], "<", 0.01, "mtd", {}),
    ("complaint_rate", "value", ["team_id"], ">", 5, "last30", {}),
]


def write_inputs(folder: Path, store_dir: Path) -> tuple[Path, Path, int]:
    """An access file (a team lead per team, subscribed by e-mail, and a manager) and a 50-rule file."""
    from queries.store import Store

    teams = Store.open(store_dir).frame("teams").get_column("team_id").sort().to_list()
    lines = ['[users."manager@bank.example"]', 'role = "manager"',
             '[users."manager@bank.example".digest]', 'channels = ["email"]']
    for tid in teams:
        u = f"lead.{tid.lower()}@bank.example"
        lines += [f'[users."{u}"]', 'role = "team_lead"', f'teams = ["{tid}"]', f'[users."{u}".digest]',
                  'channels = ["email"]']
    access = folder / "access.toml"
    access.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = []
    for i in range(50):
        metric, column, by, op, thr, window, extra = TEMPLATES[i % len(TEMPLATES)]
        variant = i // len(TEMPLATES)
        body = [f"[rules.r{i:02d}_{metric}]", f'metric = "{metric}"', f'column = "{column}"',
                f"by = {by!r}".replace("'", '"'), f'comparison = "{op}"', f"threshold = {thr}",
                f'window = "{window}"', 'recipients = ["manager@bank.example"]']
        body += [f"{k} = {v}" for k, v in extra.items()]
        if variant % 2:
            body.append('filters = { channel = "agency" }' if variant == 1 else
                        f'filters = {{ teams = ["{teams[variant]}", "{teams[variant + 10]}"] }}')
        rules.append("\n".join(body))
    path = folder / "alerts.toml"
    path.write_text("\n\n".join(rules) + "\n", encoding="utf-8")
    return access, path, len(teams)


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and the processes it waited for: user + system) and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu, p.stdout


def in_process(store_dir: Path, access_path: Path, rules_path: Path, day: dt.date, runs: int) -> dict:
    """The digest's stages and the rules' evaluation timed in one process."""
    from queries.governance.access import load_access
    from queries.notify import images, render
    from queries.notify.alerts import evaluate, load_rules
    from queries.notify.config import Channels
    from queries.notify.digest import build, recipient
    from queries.store import Store

    store = Store.open(store_dir)
    access = load_access(access_path)
    leads = [recipient(u, s, access.subscriptions.get(u)) for u, s in access.users.items() if s.role == "team_lead"]
    out: dict[str, list[float]] = {k: [] for k in ("numbers", "charts_1tab", "charts_2tabs", "render", "rules")}
    images.png([images.go.Figure()])  # start the browser once, outside the timings (the command pays it once)
    for _ in range(runs):
        t0 = time.perf_counter()
        digests = [build(store, r, day, dashboard_url="http://dash") for r in leads]
        out["numbers"].append(time.perf_counter() - t0)
        figs = [f for d in digests for _, _, f in images.figures(d)]
        for tabs, key in ((1, "charts_1tab"), (2, "charts_2tabs")):
            if images._browser is not None:  # a browser with this many tabs, started outside the timing
                images._browser.close()
            images._browser, images.TABS = None, tabs
            images.png([figs[0]])
            t0 = time.perf_counter()
            images.png(figs)
            out[key].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for d in digests:
            render.html(d, []), render.markdown(d), render.xlsx(d)
        out["render"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rules = load_rules(rules_path, store, access, Channels())
        scope = access.scope_for("manager@bank.example")
        fired = sum(len(evaluate(store, r, scope, day)) for r in rules)
        out["rules"].append(time.perf_counter() - t0)
    out["charts_n"] = [len(figs)]
    out["fired"] = [fired]
    return out


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--source", required=True, help="the case database the store was synced from (never written)")
    ap.add_argument("--date", default=None, help="day reported on (default: the store's last day)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from queries.store import Store

    day = dt.date.fromisoformat(args.date) if args.date else Store.open(args.store).as_of
    print(f"machine: {machine()}")
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        access, rules, n_teams = write_inputs(Path(tmp), args.store)
        env = dict(os.environ, CASES_DB_URL=args.source, CASES_STORE_DIR=str(args.store),
                   CASES_ACCESS_FILE=str(access), CASES_STORE_MAX_AGE_S="1e12",
                   CASES_SMTP_URL="smtp://127.0.0.1:1?tls=none&from=bench@bank.example")
        exe = [sys.executable, "-m", "queries.cli"]
        digest_cmd = [*exe, "digest", "--role", "team_lead", "--dry-run", "--date", day.isoformat()]
        alerts_cmd = [*exe, "alerts", "--dry-run", "--rules", rules, "--date", day.isoformat()]
        whole_digest, whole_alerts, cpu_digest, cpu_alerts = [], [], [], []
        for _ in range(args.runs):
            took, cpu, out = timed(digest_cmd, env)
            whole_digest.append(took)
            cpu_digest.append(cpu)
            assert out.count("would send: digest") == n_teams, out[-500:]
            took, cpu, _ = timed([str(c) for c in alerts_cmd], env)
            whole_alerts.append(took)
            cpu_alerts.append(cpu)
        stages = in_process(args.store, access, rules, day, args.runs)
    med = {k: statistics.median(v) for k, v in stages.items()}
    print(f"day reported on: {day}; team leads: {n_teams}; charts: {int(med['charts_n'])}; "
          f"rows firing over 50 rules: {int(med['fired'])}")
    print(f"digest, whole command `{' '.join(digest_cmd[2:])}`: median {statistics.median(whole_digest):.1f} s "
          f"({', '.join(f'{x:.1f}' for x in whole_digest)}), CPU {statistics.median(cpu_digest):.1f} s — target ≤ 30 s")
    print(f"  in one process: numbers {med['numbers']:.2f} s; charts {med['charts_1tab']:.2f} s with 1 tab, "
          f"{med['charts_2tabs']:.2f} s with 2 tabs; HTML + markdown + xlsx {med['render']:.2f} s")
    print(f"alerts, whole command `alerts --dry-run` (50 rules): median {statistics.median(whole_alerts):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in whole_alerts)}), CPU {statistics.median(cpu_alerts):.1f} s")
    print(f"  rules parsed and evaluated in one process: median {med['rules']:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in stages['rules'])}) — target ≤ 2 s")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
