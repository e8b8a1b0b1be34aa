"""The documented balancers (docs/examples/haproxy.cfg, docs/examples/nginx.conf; Debian's packages) in front of two
replicas sharing one store, driven by headless Chromium: the page works through them, a viewer stays on one
replica, and the scripts a new browser downloads come compressed."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from balancer import haproxy, nginx  # noqa: E402
from screenshots import CHROMIUM, free_port, open_page, streamlit_process  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]

#: per script and style response: (content-encoding, bytes on the wire, bytes decoded), from Resource Timing
SCRIPTS = """() => performance.getEntriesByType('resource')
    .filter(e => /\\.(js|css)$/.test(new URL(e.name).pathname))
    .map(e => [e.name, e.encodedBodySize, e.decodedBodySize])"""


def _require(program: str) -> None:
    """Skip without the program, unless the run must test everything (CASES_TEST_REQUIRE_SERVERS, as in CI)."""
    if shutil.which(program) is None:
        reason = f"{program} is not installed (Debian: apt-get install {program}-light)" if program == "nginx" \
            else f"{program} is not installed (Debian: apt-get install {program})"
        if os.environ.get("CASES_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"{reason}, but CASES_TEST_REQUIRE_SERVERS is set: the balancer tests must run")
        pytest.skip(reason)


@pytest.fixture(scope="module", params=["haproxy", "nginx"])
def balanced(request: pytest.FixtureRequest, app_source: tuple[str, Path],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path, list[int]]]:
    """Two replicas (`streamlit run`) on one store directory behind a balancer started from its documented file:
    (balancer name, its URL, the store directory, the replicas' process ids in the balancer's server order)."""
    _require(request.param)
    url, store = app_source
    own = tmp_path_factory.mktemp("balanced") / "store"
    shutil.copytree(store, own)
    env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(own.parent),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}
    with ExitStack() as stack:
        replicas = [stack.enter_context(streamlit_process(env)) for _ in range(2)]
        port = free_port()
        start = haproxy if request.param == "haproxy" else nginx
        proc = start(port, [int(base.rsplit(":", 1)[1]) for base, _ in replicas])
        stack.callback(proc.wait)
        stack.callback(proc.terminate)
        yield request.param, f"http://127.0.0.1:{port}", own, [p.pid for _, p in replicas]


def _serving(store: Path, pids: list[int]) -> set[int]:
    """The replicas (process ids) that have run a page: each leases the version it serves on its first run."""
    holders = {p.name.split("@", 1)[1] for p in (store / "leases").glob("*@*")}
    return {pid for pid in pids if f"{socket.gethostname()}-{pid}" in holders}


def test_a_viewer_works_and_stays_on_one_replica_through_the_balancer(balanced, chrome) -> None:  # noqa: ANN001
    name, base, store, pids = balanced
    assert _serving(store, pids) == set()
    # behind a login proxy every request carries the viewer's identity; nginx hashes on it, HAProxy's cookie pins
    ctx = chrome.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                             extra_http_headers={"X-Forwarded-User": "lead-t01"})
    try:
        page = ctx.new_page()
        for _ in range(4):  # each view a new page load: a new websocket, balanced again
            open_page(page, base, "daily")
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1  # the session's websocket worked
        first = _serving(store, pids)
        assert len(first) == 1, f"{name}: one viewer's four views reached {len(first)} replicas"
        if name == "haproxy":  # the balancer's cookie names the replica that served the viewer
            cookie = {c["name"]: c["value"] for c in ctx.cookies()}.get("CASES_REPLICA")
            assert cookie == f"r{pids.index(first.pop()) + 1}"
    finally:
        ctx.close()
    if name == "haproxy":  # a viewer pinned to the other replica is served there
        other = next(i for i, pid in enumerate(pids) if pid not in _serving(store, pids))
        ctx = chrome.new_context(locale="zh-CN")
        ctx.add_cookies([{"name": "CASES_REPLICA", "value": f"r{other + 1}", "url": base}])
        try:
            open_page(ctx.new_page(), base, "daily")
        finally:
            ctx.close()
        assert _serving(store, pids) == set(pids)


def test_a_new_browser_gets_the_scripts_compressed_through_the_balancer(balanced, chrome) -> None:  # noqa: ANN001
    name, base, _store, pids = balanced
    ctx = chrome.new_context(locale="zh-CN")  # a new browser: an empty cache
    try:
        page = ctx.new_page()
        encodings: dict[str, str] = {}
        page.on("response", lambda r: encodings.__setitem__(r.url, r.headers.get("content-encoding", "")))
        open_page(page, base, "daily")
        files = page.evaluate(SCRIPTS)
    finally:
        ctx.close()
    big = [(url, wire, size) for url, wire, size in files if size > 10_000]
    assert len(big) >= 5, f"{name}: expected Streamlit's scripts, got {files}"
    plain = [url for url, _, _ in big if encodings.get(url) != "gzip"]
    assert plain == [], f"{name} sent these uncompressed: {plain}"
    wire, size = sum(w for _, w, _ in big), sum(s for _, _, s in big)
    assert wire < 0.6 * size, f"{name}: {wire:,} bytes on the wire for {size:,} of scripts"
