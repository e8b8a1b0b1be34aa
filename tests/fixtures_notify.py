"""Fixtures for the digest and alert tests: the small demo centre's store (copied per test, so outbox, state and
audit start empty), a real SMTP server (aiosmtpd), a local HTTP server standing in for the WeCom, DingTalk and
Feishu robots, and helpers (run a command, ask `report`, read a workbook)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures_app import app_source  # noqa: F401

from queries.settings import Settings

ACCESS = """
[users."boss@bank.example"]
role = "executive"
[users."boss@bank.example".digest]
lang = "zh"
channels = ["email", "ops-wecom"]

[users."lead1@bank.example"]
role = "team_lead"
teams = ["T01"]
[users."lead1@bank.example".digest]
lang = "en"
channels = ["email", "t01-dingtalk"]

[users."lead2@bank.example"]
role = "team_lead"
teams = ["T02"]

[users."lead4@bank.example"]
role = "team_lead"
teams = ["T04"]
[users."lead4@bank.example".digest]
channels = ["t04-feishu"]

[users."audit@bank.example"]
role = "compliance"
[users."audit@bank.example".digest]
channels = ["email"]

[users."nosub@bank.example"]
role = "manager"
"""
DING_SECRET = "SECtest-dingtalk-secret"
FEISHU_SECRET = "feishu-test-secret"


@dataclass
class Robots:
    """A local HTTP server answering like the robots; `script` lists (status, json) answers to give first."""

    port: int
    requests: list[dict] = field(default_factory=list)
    script: list[tuple[int, dict]] = field(default_factory=list)

    def url(self, name: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{name}{query}"

    def bodies(self, name: str) -> list[dict]:
        return [r["json"] for r in self.requests if r["path"] == f"/{name}"]


def _handler(robots: Robots) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            u = urlsplit(self.path)
            status, answer = robots.script.pop(0) if robots.script else (200, None)
            if status == 200:
                robots.requests.append({"path": u.path, "query": parse_qs(u.query), "raw": body,
                                        "json": json.loads(body), "content_type": self.headers["Content-Type"]})
            if answer is None:
                answer = {"code": 0, "msg": "success"} if u.path.endswith("feishu") else {"errcode": 0,
                                                                                          "errmsg": "ok"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def robots() -> Iterator[Robots]:
    """The robot endpoints at /ops-wecom, /t01-dingtalk, /t04-feishu … on one local port."""
    robots = Robots(0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(robots))
    robots.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield robots
    server.shutdown()
    server.server_close()


def free_port() -> int:
    """A local TCP port nobody listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope sender, recipients, raw bytes) per message."""

    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    from aiosmtpd.controller import Controller

    box = Mailbox(0)

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's API
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            return "250 Message accepted for delivery"

    box.port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    ctl.start()
    yield box
    ctl.stop()


@pytest.fixture
def store_dir(app_source, tmp_path) -> Path:  # noqa: ANN001, F811
    """A copy of the small demo centre's store: this test's outbox, alert state and audit log start empty."""
    src = app_source[1]
    dst = tmp_path / "store"
    dst.mkdir()
    current = (src / "CURRENT").read_text().strip()
    shutil.copy(src / "CURRENT", dst / "CURRENT")
    shutil.copytree(src / current, dst / current)
    return dst


@pytest.fixture
def settings(app_source, store_dir, tmp_path, robots, mailbox) -> Settings:  # noqa: ANN001, F811
    """Settings on the store copy: the access file above, e-mail to the local server, robots on the local port."""
    access = tmp_path / "access.toml"
    access.write_text(ACCESS, encoding="utf-8")
    robot_conf = {"ops-wecom": {"kind": "wecom", "webhook": robots.url("ops-wecom", "?key=k1")},
                  "t01-dingtalk": {"kind": "dingtalk", "webhook": robots.url("t01-dingtalk", "?access_token=tok"),
                                   "secret": DING_SECRET},
                  "t04-feishu": {"kind": "feishu", "webhook": robots.url("t04-feishu"), "secret": FEISHU_SECRET},
                  "ops-feishu-plain": {"kind": "feishu", "webhook": robots.url("ops-feishu-plain")}}
    return Settings(db_url=app_source[0], store_dir=store_dir, data_dir=tmp_path, access_file=access,
                    store_max_age_s=1e12, dashboard_url="http://dash.example",
                    smtp_url=f"smtp://127.0.0.1:{mailbox.port}?tls=none&from=dash@bank.example",
                    notify_robots=json.dumps(robot_conf), notify_retries=3, notify_backoff_s=0.01)


def run_cli(command: str, argv: list[str], settings: Settings) -> tuple[int, str, str]:
    """`digest` or `alerts` in-process: (exit code, stdout, stderr)."""
    import io

    from queries.cli.notify import main

    out, err = io.StringIO(), io.StringIO()
    code = main(command, argv, settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def report(settings: Settings, metric: str, start, end, by=(), teams=(), user=None) -> list[dict]:  # noqa: ANN001
    """The rows `collections-dashboard report` prints for these arguments (JSON)."""
    import io

    from queries.cli.report import main

    argv = [metric, "--start", start.isoformat(), "--end", end.isoformat()]
    if by:
        argv += ["--by", ",".join(by)]
    for t in teams:
        argv += ["--team", t]
    if user:
        argv += ["--user", user]
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, settings, out=out, err=err) == 0, err.getvalue()
    return json.loads(out.getvalue())["rows"]


def read_xlsx(data: bytes) -> dict[str, list[list[object]]]:
    """Every sheet of a workbook as rows of cell values (strings, numbers), and '=formula' for any formula cell."""
    import io
    import re
    import zipfile
    from xml.etree import ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    z = zipfile.ZipFile(io.BytesIO(data))
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns):
            shared.append("".join(x.text or "" for x in si.iter(f"{{{ns['m']}}}t")))
    rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    out = {}
    for sh in ET.fromstring(z.read("xl/workbook.xml")).find("m:sheets", ns):
        target = rels[sh.get(f"{{{ns['r']}}}id")]
        rows = []
        for row in ET.fromstring(z.read(f"xl/{target}")).iter(f"{{{ns['m']}}}row"):
            cells = []
            for c in row.findall("m:c", ns):
                col = re.match(r"[A-Z]+", c.get("r")).group(0)
                idx = sum((ord(ch) - 64) * 26 ** i for i, ch in enumerate(reversed(col))) - 1
                while len(cells) < idx:
                    cells.append(None)
                f, v = c.find("m:f", ns), c.find("m:v", ns)
                if f is not None:
                    cells.append("=" + (f.text or ""))
                elif c.get("t") == "s":
                    cells.append(shared[int(v.text)])
                elif c.get("t") == "inlineStr":
                    cells.append("".join(x.text or "" for x in c.iter(f"{{{ns['m']}}}t")))
                else:
                    cells.append(None if v is None else float(v.text))
            rows.append(cells)
        out[sh.get("name")] = rows
    return out
