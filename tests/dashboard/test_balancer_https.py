"""The documented balancers (docs/examples/haproxy.cfg, docs/examples/nginx.conf; Debian's packages) send plain HTTP
to HTTPS and tell browsers to come back over HTTPS only (HSTS), in front of a stand-in replica."""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fixtures_demo import unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from balancer import KINDS, balanced, program  # noqa: E402
from screenshots import free_port  # noqa: E402


class _Ok(BaseHTTPRequestHandler):
    """A replica's stand-in: 200 "ok" for every GET (the balancers' health checks included)."""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def replica() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str, host: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


@pytest.mark.parametrize("kind", KINDS)
def test_plain_http_goes_to_https_and_browsers_are_told_to_stay_there(kind: str, replica: int) -> None:
    if program(kind) is None:
        unavailable(f"{kind} is not installed (Debian: apt-get install {kind})", "balancer")
    plain = free_port()
    with balanced(kind, [replica], plain=plain) as base:
        moved = _get(plain, "/daily?period=ytd&team=T01", "dash.bank.example")
        assert moved.status == 301, (kind, moved.status)
        assert moved.getheader("Location") == "https://dash.bank.example/daily?period=ytd&team=T01"
        port = int(base.rsplit(":", 1)[1])
        for _ in range(50):  # the balancer's first health check may still be on its way
            served = _get(port, "/", "dash.bank.example")
            if served.status == 200:
                break
            time.sleep(0.1)
        assert served.status == 200, (kind, served.status)
        assert served.getheader("Strict-Transport-Security") == "max-age=31536000", kind
