"""The full case-list export as a user runs it: click Excel (then CSV) on the cases page in Chromium, time the
click until the file is saved, and sample the server process's memory meanwhile (a script, not a test).

    python bench/bench_export.py --source sqlite:////work/bench-data/bank.sqlite --store /work/bench-data/ux-store \\
        --start 2026-11-01 --end 2026-11-16

The selection is the cases with payments between --start and --end (about 100,000 cases on the bank-scale demo
for the first half of November). Prints the rows in the file, seconds from click to saved file, the server's
resident memory before, at its peak during the export, and the growth, and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import machine  # noqa: E402
from screenshots import browser, streamlit_process, wait_rendered  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The peak resident memory of a process while a block runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def rows_in(path: Path, fmt: str) -> int:
    """Data rows of a downloaded file."""
    if fmt == "csv":
        return path.read_bytes().count(b"\n") - 1
    import zipfile

    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    return len(re.findall(rb"<row ", sheet)) - 1


def main() -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--start", default="2026-11-01")
    ap.add_argument("--end", default="2026-11-16")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    print(f"{machine()} · load {os.getloadavg()}", flush=True)
    env = {"CASES_DB_URL": args.source, "CASES_STORE_DIR": str(args.store), "CASES_STORE_MAX_AGE_S": "1e12",
           "CASES_ALLOW_DEMO_MODE": "1"}
    query = f"drill=payments&d_start={args.start}&d_end={args.end}"
    out = Path(tempfile.mkdtemp(prefix="export-bench-"))
    with streamlit_process(env, timeout=600) as (base, proc), browser(1280, 1000) as page:
        page.goto(f"{base}/cases?{query}", wait_until="domcontentloaded")
        wait_rendered(page, "案件明细", 600_000)
        page.get_by_text(re.compile(r"^共 [\d,]+ 件")).first.wait_for(timeout=600_000)
        total = page.get_by_text(re.compile(r"^共 [\d,]+ 件")).first.inner_text()
        print(f"selection: {total}", flush=True)
        for run in range(args.runs):
            for fmt, label in (("xlsx", "Excel"), ("csv", "CSV")):
                button = page.locator("[data-testid=stDownloadButton] button").filter(has_text=label).first
                before = rss_mb(proc.pid)
                with Sampler(proc.pid) as s:
                    t0 = time.perf_counter()
                    with page.expect_download(timeout=600_000) as info:
                        button.click()
                    path = out / f"{run}.{fmt}"
                    info.value.save_as(path)
                    seconds = time.perf_counter() - t0
                after = rss_mb(proc.pid)
                print(f"run {run + 1} {fmt}: {rows_in(path, fmt):,} rows, {path.stat().st_size / 1e6:.1f} MB, "
                      f"{seconds:.2f} s click → saved; server RSS {before:.0f} MB before, peak {s.peak:.0f} MB "
                      f"(+{s.peak - before:.0f} MB), {after:.0f} MB after · load {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
