"""Screenshots of every dashboard page in headless Chromium (also the browser helpers of the e2e test and bench).

    python bench/screenshots.py                      # demo database, writes docs/screenshots/*.png
    python bench/screenshots.py --url http://localhost:8501 --out /tmp/shots

Without --url it starts `streamlit run streamlit_app.py` on a free port (demo mode: data/demo.sqlite,
created by `collections-dashboard` on first start) with its own store dir, and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: url_path → (Chinese heading, English heading)
PAGES = {
    "daily": ("每日回收", "Daily recovery"),
    "agents": ("坐席绩效", "Agent performance"),
    "complaints": ("投诉监控", "Complaints"),
    "compliance": ("合规监控", "Compliance"),
    "aging": ("账龄与迁徙", "Aging & roll rates"),
    "trends": ("月度趋势", "Monthly trends"),
    "agencies": ("委外管理", "Agencies"),
    "cases": ("案件明细", "Cases"),
    "glossary": ("指标口径", "Glossary"),
    "data": ("数据概况", "Data"),
}


#: Query string per page for the screenshots (the demo's complaints are sparse within one month).
SHOT_QUERY = {"complaints": "period=ytd", "compliance": "period=ytd", "agencies": "period=ytd"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str], port: int | None = None, timeout: float = 120,
                     args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run `streamlit run streamlit_app.py [args]` in a subprocess; yield its base URL; stop it afterwards."""
    with streamlit_process(env, port, timeout, args=args) as (url, _proc):
        yield url


@contextmanager
def streamlit_process(env: dict[str, str], port: int | None = None, timeout: float = 120,
                      root: Path = ROOT, args: tuple[str, ...] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """As streamlit_server, yielding the server process too (for memory sampling); `root`: another checkout."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / "streamlit_app.py"), "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           *args]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - kept for the error
    env = {**os.environ, **env} | ({"PYTHONPATH": str(root)} if root != ROOT else {})  # its own packages first
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_listening(proc, port, Path(log.name), timeout)
        yield url, proc
    finally:
        stop(proc)
        log.close()


def wait_listening(proc: subprocess.Popen, port: int, log: Path, timeout: float, poll: float = 0.3,
                   name: str = "streamlit") -> None:
    """Return once the server accepts connections on `port`; RuntimeError (with its log) if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"{name} did not start listening in time")


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server process (killed when it has not gone in 10 s)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def chromium() -> Iterator[object]:
    """The system Chromium under Playwright (never downloads a browser); new_page() opens pages in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(b: object, width: int = 1280, height: int = 900) -> object:
    """A page of its own (own cookies, so its own Streamlit session) in a running Chromium."""
    ctx = b.new_context(viewport={"width": width, "height": height}, locale="zh-CN", device_scale_factor=1)
    return ctx.new_page()


@contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A Playwright page in the system Chromium (never downloads a browser)."""
    with chromium() as b:
        yield new_page(b, width, height)


#: Browser-side test that the page's script run has finished: the app's run state, no running indicator and no
#: stale element left from the run before.
SCRIPT_DONE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const running = document.querySelector('[data-testid="stStatusWidget"]');
    if (running && running.innerText.trim() !== '') return false;
    return !document.querySelectorAll('[data-stale="true"]').length;
}"""
#: ... and every Plotly chart has drawn, and no skeleton is left.
RENDERED = f"""() => {{
    if (!({SCRIPT_DONE})()) return false;
    const plots = document.querySelectorAll('[data-testid="stPlotlyChart"]');
    for (const p of plots) {{ if (!p.querySelector('.main-svg')) return false; }}
    return !document.querySelector('[data-testid="stSkeleton"]');
}}"""


def wait_rendered(page: object, heading: str, timeout_ms: int = 120_000) -> None:
    """Wait until the page's heading shows, the script has finished and every Plotly chart has drawn."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(RENDERED, timeout=timeout_ms, polling=100)


def open_page(page: object, base: str, path: str, lang: str = "zh", query: str = "",
              timeout_ms: int = 120_000) -> float:
    """Load one page and wait for it to be fully rendered; return the seconds it took."""
    sep = "&" if query else ""
    qs = f"?{query}{sep}lang=en" if lang == "en" else (f"?{query}" if query else "")
    t0 = time.perf_counter()
    page.goto(f"{base}/{'' if path == 'daily' else path}{qs}", wait_until="domcontentloaded")
    wait_rendered(page, PAGES[path][0 if lang == "zh" else 1], timeout_ms)
    return time.perf_counter() - t0


#: Screen sizes: a laptop (full page captured) and a phone (its first screen, what a supervisor sees on opening).
SIZES = {"1280": (1280, 900), "390": (390, 844)}


def shoot(base: str, out: Path, langs: dict[str, tuple[str, ...]] | None = None,
          sizes: tuple[str, ...] = ("1280", "390")) -> list[Path]:
    """Screenshot every page in the given languages at each size; return the files.

    1280 px: the whole page (docs/screenshots/<page>[_en].png). 390 px: the phone's first screen
    (<page>[_en]_390.png), and the daily page scrolled whole as well (daily[_en]_390_full.png).
    """
    out.mkdir(parents=True, exist_ok=True)
    langs = langs or {p: ("zh", "en") for p in PAGES}
    files = []
    for size in sizes:
        width, height0 = SIZES[size]
        with browser(width, height0) as page:
            for path, ls in langs.items():
                for lang in ls:
                    open_page(page, base, path, lang, SHOT_QUERY.get(path, ""))
                    page.wait_for_timeout(600)
                    wait_rendered(page, PAGES[path][0 if lang == "zh" else 1])
                    stem = f"{path}{'' if lang == 'zh' else '_en'}{'' if size == '1280' else '_' + size}"
                    if size != "1280":
                        page.wait_for_timeout(400)
                        files.append(out / f"{stem}.png")
                        page.screenshot(path=str(files[-1]))
                        if path != "daily":
                            continue
                        stem += "_full"
                    # Streamlit scrolls inside its main section: grow the viewport to the content to capture it all
                    height = page.evaluate("""() => {
                        const els = ['[data-testid="stMain"]', '[data-testid="stMainBlockContainer"]',
                                     '[data-testid="stSidebar"]'].map(s => document.querySelector(s)).filter(Boolean);
                        return Math.max(900, ...els.map(e => e.scrollHeight)); }""")
                    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 8000)})
                    page.wait_for_timeout(800)  # Plotly re-lays out to the new size
                    file = out / f"{stem}.png"
                    page.screenshot(path=str(file), full_page=True)
                    page.set_viewport_size({"width": width, "height": height0})
                    files.append(file)
    return files


def main() -> int:
    """Command line: start a server (or use --url), screenshot every page."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running dashboard; default: start one on the demo database")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES))
    ap.add_argument("--langs", nargs="+", choices=["zh", "en"], default=["zh", "en"])
    args = ap.parse_args()
    langs = {p: tuple(args.langs) for p in args.pages}
    if args.url:
        files = shoot(args.url, Path(args.out), langs, tuple(args.sizes))
    else:
        with tempfile.TemporaryDirectory() as store:
            env = {"CASES_DATA_DIR": str(ROOT / "data"), "CASES_STORE_DIR": store}
            env.pop("CASES_DB_URL", None)
            with streamlit_server(env) as base:
                files = shoot(base, Path(args.out), langs, tuple(args.sizes))
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
