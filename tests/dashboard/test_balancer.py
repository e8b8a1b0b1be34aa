"""The documented balancers (docs/examples/haproxy.cfg, docs/examples/nginx.conf; Debian's packages) in front of two
replicas sharing one store, driven by headless Chromium: the page works through them, a viewer stays on one
replica, with or without the login proxy's identity header, and the scripts a new browser downloads come
compressed."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fixtures_demo import unavailable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from balancer import KINDS, balanced, program  # noqa: E402
from screenshots import CHROMIUM, open_page, streamlit_process  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]

#: per script and style response: (address, bytes of its body on the wire, bytes decoded), from Resource Timing
SCRIPTS = """() => performance.getEntriesByType('resource')
    .filter(e => /\\.(js|css)$/.test(new URL(e.name).pathname))
    .map(e => [e.name, e.encodedBodySize, e.decodedBodySize])"""


@pytest.fixture(params=KINDS)
def replicas(request: pytest.FixtureRequest, app_source: tuple[str, Path],
             tmp_path: Path) -> Iterator[tuple[str, str, Path, list[int]]]:
    """Two new replicas (`streamlit run`) on one store directory behind a balancer started from its documented file:
    (balancer kind, its URL, the store directory, the replicas' process ids in the balancer's server order)."""
    kind = request.param
    if program(kind) is None:
        unavailable(f"{kind} is not installed (Debian: apt-get install {kind})", "balancer")
    url, store = app_source
    own = tmp_path / "store"
    shutil.copytree(store, own, ignore=shutil.ignore_patterns("leases"))
    env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(tmp_path),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}
    with ExitStack() as stack:
        started = [stack.enter_context(streamlit_process(env)) for _ in range(2)]
        base = stack.enter_context(balanced(kind, [int(u.rsplit(":", 1)[1]) for u, _ in started]))
        yield kind, base, own, [p.pid for _, p in started]


def _serving(store: Path, pids: list[int]) -> set[int]:
    """The replicas (process ids) that have run a page: each leases the version it serves on its first run."""
    holders = {p.name.split("@", 1)[1] for p in (store / "leases").glob("*@*")}
    return {pid for pid in pids if f"{socket.gethostname()}-{pid}" in holders}


def _assert_compressed(kind: str, files: list, encodings: dict[str, str]) -> None:
    """Streamlit's scripts and styles (`files`: the SCRIPTS entries of a new browser's first view) came gzipped."""
    big = [(url, wire, size) for url, wire, size in files if size > 10_000]
    assert len(big) >= 5, f"{kind}: expected Streamlit's scripts, got {files}"
    plain = [url for url, _, _ in big if encodings.get(url) != "gzip"]
    assert plain == [], f"{kind} sent these uncompressed: {plain}"
    wire, size = sum(w for _, w, _ in big), sum(s for _, _, s in big)
    assert wire < 0.6 * size, f"{kind}: {wire:,} bytes on the wire for {size:,} of scripts"


@pytest.mark.parametrize("identity", ["lead-t01", None], ids=["login-proxy-header", "no-header"])
def test_a_viewer_works_and_stays_on_one_replica(replicas, chrome, identity: str | None) -> None:  # noqa: ANN001
    """A new browser's first view gets the scripts compressed; its four views reach one replica; with HAProxy, its
    cookie names that replica and a browser holding the other's cookie is served there."""
    kind, base, store, pids = replicas
    assert _serving(store, pids) == set()
    headers = {"X-Forwarded-User": identity} if identity else {}
    ctx = chrome.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", extra_http_headers=headers)
    try:
        page = ctx.new_page()
        encodings: dict[str, str] = {}
        page.on("response", lambda r: encodings.__setitem__(r.url, r.headers.get("content-encoding", "")))
        for i in range(4):  # each view a new page load: a new websocket, balanced again
            open_page(page, base, "daily")
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1  # the session's websocket worked
            if i == 0:  # a new browser: an empty cache, so every script came over the wire
                _assert_compressed(kind, page.evaluate(SCRIPTS), encodings)
        served = _serving(store, pids)
        assert len(served) == 1, f"{kind}: one viewer's four views reached {len(served)} replicas"
        if kind == "haproxy":  # the balancer's cookie names the replica that served the viewer
            cookie = {c["name"]: c["value"] for c in ctx.cookies()}.get("CASES_REPLICA")
            assert cookie == f"r{pids.index(served.pop()) + 1}"
    finally:
        ctx.close()
    if kind == "haproxy":  # a browser pinned to the other replica by its cookie is served there
        other = next(i for i, pid in enumerate(pids) if pid not in _serving(store, pids))
        ctx = chrome.new_context(locale="zh-CN", extra_http_headers=headers)
        ctx.add_cookies([{"name": "CASES_REPLICA", "value": f"r{other + 1}", "url": base}])
        try:
            open_page(ctx.new_page(), base, "daily")
        finally:
            ctx.close()
        assert _serving(store, pids) == set(pids)
