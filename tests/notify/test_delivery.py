"""Delivery: the e-mail a real SMTP server receives, each robot's JSON and signature, splitting, retries, the outbox."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
import hashlib
import hmac
import json
import struct
from email import policy

import polars as pl
import pytest
from fixtures_notify import (
    DING_SECRET,
    FEISHU_SECRET,
    free_port,
    read_xlsx,
    report,
    run_cli,
)

from dashboard.format import cny, pct
from queries.governance import audit
from queries.notify.channels import wecom
from queries.notify.outbox import Outbox
from queries.notify.render import split

DAY = dt.date(2026, 11, 21)
SEND = ["--send", "--date", DAY.isoformat()]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_email_body_images_and_attachment_match_report(settings, mailbox) -> None:  # noqa: ANN001
    code, out, err = run_cli("digest", [*SEND, "--user", "boss@bank.example"], settings)
    assert code == 0, err
    assert len(mailbox.messages) == 1
    sender, rcpts, raw = mailbox.messages[0]
    assert sender == "dash@bank.example" and rcpts == ["boss@bank.example"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "催收日报 · 2026年11月21日"
    html = msg.get_body(("html",)).get_content()
    # the headline against report, formatted as the digest formats it
    yesterday = report(settings, "collected", DAY, DAY, user="boss@bank.example")[0]["value"]
    mtd = report(settings, "collected", DAY.replace(day=1), DAY, user="boss@bank.example")[0]["value"]
    ach = report(settings, "target_achievement", DAY.replace(day=1), DAY, user="boss@bank.example")[0]
    for text in (cny(yesterday, "zh"), cny(mtd, "zh"), pct(ach["value"]), pct(ach["pace"])):
        assert text in html
    by_team = report(settings, "target_achievement", DAY.replace(day=1), DAY, by=("team_id",),
                     user="boss@bank.example")
    behind = [r for r in by_team if r["pace"] < 1]
    assert behind and all(f">{pct(r['pace'])}<" in html for r in behind)
    # inline images: every cid: in the HTML is an image/png part of the related body
    images = {p["Content-ID"].strip("<>"): p.get_content() for p in msg.walk() if p.get_content_type() == "image/png"}
    assert len(images) == 3  # daily vs target, by team, agents
    for cid, png in images.items():
        assert f'src="cid:{cid}"' in html
        w, h = _png_size(png)
        assert w == 1140 and h >= 390  # 760 px wide at scale 1.5
    # the workbook attached: the headline sheet holds the same numbers
    att = [p for p in msg.iter_attachments() if p.get_filename()]
    assert [p.get_filename() for p in att] == ["digest_2026-11-21_boss_bank.example.xlsx"]
    book = read_xlsx(att[0].get_content())
    head = {r[0]: r[1] for r in book["回收与目标"] if len(r) > 1}
    assert head["昨日回收"] == pytest.approx(yesterday) and head["本月回收"] == pytest.approx(mtd)
    assert head["目标达成率"] == pytest.approx(ach["value"], abs=1e-6)
    teams = book["落后进度的团队"]
    assert teams[0][0] == "团队" and {r[0] for r in teams[1:]} == {r["team_id"] for r in by_team}
    # audit: the digest and its delivery, chain intact
    log = audit.read(settings.store_dir)
    # the test's own `report` calls are audited too (as every report run is)
    assert set(log["action"]) - {"report"} == {"digest", "delivery"} and audit.verify(settings.store_dir) == []


def test_wecom_markdown_and_images(settings, robots) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", [*SEND, "--user", "boss@bank.example"], settings)
    assert code == 0, err
    bodies = robots.bodies("ops-wecom")
    assert [b["msgtype"] for b in bodies] == ["markdown", "image", "image", "image"]
    text = bodies[0]["markdown"]["content"]
    assert text.startswith("## 催收日报 · 2026年11月21日") and len(text.encode()) <= 4096
    assert "[在看板中打开](http://dash.example/daily?period=custom&dates=2026-11-01&dates=2026-11-21)" in text
    for b in bodies[1:]:
        png = base64.b64decode(b["image"]["base64"])
        assert hashlib.md5(png).hexdigest() == b["image"]["md5"] and len(png) <= 2 * 1024 * 1024
        _png_size(png)
    assert all(r["query"] == {"key": ["k1"]} for r in robots.requests if r["path"] == "/ops-wecom")


def test_dingtalk_signed_markdown(settings, robots) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", [*SEND, "--user", "lead1@bank.example"], settings)
    assert code == 0, err
    [req] = [r for r in robots.requests if r["path"] == "/t01-dingtalk"]
    ts, sign = req["query"]["timestamp"][0], req["query"]["sign"][0]  # parse_qs undid the URL encoding
    assert req["query"]["access_token"] == ["tok"]
    assert abs(int(ts) / 1000 - dt.datetime.now().timestamp()) < 120  # milliseconds, now
    # DingTalk's documented algorithm: HmacSHA256(key=secret, message=timestamp + "\n" + secret), Base64
    expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert sign == expected
    body = req["json"]
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "Collections daily digest · 21 Nov 2026"
    text = body["markdown"]["text"]
    assert "Teams behind pace" in text and "Charts: open the dashboard" in text and "T02" not in text


def test_feishu_signed_card(settings, robots) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", [*SEND, "--user", "lead4@bank.example"], settings)
    assert code == 0, err
    [req] = [r for r in robots.requests if r["path"] == "/t04-feishu"]
    body = req["json"]
    ts = body["timestamp"]
    assert abs(int(ts) - dt.datetime.now().timestamp()) < 120  # seconds
    # Feishu's documented algorithm: HmacSHA256 keyed with timestamp + "\n" + secret over an empty message, Base64
    expected = base64.b64encode(hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "interactive" and len(req["raw"]) <= 20 * 1024
    card = body["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "催收日报 · 2026年11月21日"}
    [element] = card["elements"]
    assert element["tag"] == "markdown" and element["content"].startswith("**催收日报")
    assert "#" not in element["content"].split("](")[0].split("\n")[0]  # headings became bold lines


def test_split_keeps_everything_within_the_limit() -> None:
    text = "\n".join(f"- 坐席 A{i:04d} 回收 ¥{i * 1000:,}" for i in range(400)) + "\n" + "长" * 3000
    parts = split(text, 1000)
    assert len(parts) > 10 and all(len(p.encode()) <= 1000 for p in parts)
    assert parts[0].endswith(f"(第 1/{len(parts)} 部分)")
    joined = "".join(p.rsplit("\n\n(", 1)[0].replace("\n", "") for p in parts)
    assert joined == text.replace("\n", "")
    assert split("short", 1000) == ["short"]


def test_a_long_digest_goes_out_in_parts(settings, robots, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(wecom, "MARKDOWN_LIMIT", 700)
    code, _, err = run_cli("digest", [*SEND, "--user", "boss@bank.example"], settings)
    assert code == 0, err
    parts = [b["markdown"]["content"] for b in robots.bodies("ops-wecom") if b["msgtype"] == "markdown"]
    assert len(parts) >= 4 and all(len(p.encode()) <= 700 for p in parts)
    assert [p.rsplit("(", 1)[1] for p in parts] == [f"第 {i}/{len(parts)} 部分)" for i in range(1, len(parts) + 1)]
    assert "在看板中打开" in parts[-1]


def test_retry_on_500_sends_once(settings, robots) -> None:  # noqa: ANN001
    robots.script = [(500, None), (502, None)]  # the first two attempts fail, the third is accepted
    code, out, err = run_cli("digest", [*SEND, "--user", "lead4@bank.example"], settings)
    assert code == 0, err
    assert len(robots.bodies("t04-feishu")) == 1


def test_refused_by_the_robot_waits_in_the_outbox(settings, robots) -> None:  # noqa: ANN001
    robots.script = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})] * 3
    code, _, err = run_cli("digest", [*SEND, "--user", "lead1@bank.example"], settings)
    assert code == 1 and "45009" in err
    assert [g.channel for g in Outbox(settings.store_dir).pending()] == ["t01-dingtalk"]


def test_closed_port_then_next_run_delivers_once(settings, robots, mailbox) -> None:  # noqa: ANN001
    conf = json.loads(settings.notify_robots)
    good = conf["ops-wecom"]["webhook"]
    conf["ops-wecom"]["webhook"] = f"http://127.0.0.1:{free_port()}/ops-wecom?key=k1"  # nobody listens
    down = dataclasses.replace(settings, notify_robots=json.dumps(conf))
    code, out, err = run_cli("digest", [*SEND, "--user", "boss@bank.example"], down)
    assert code == 1 and "unreachable" in err and err.count("\n") == 1
    assert len(mailbox.messages) == 1  # the e-mail went; the robot's messages wait
    [waiting] = Outbox(settings.store_dir).pending()
    assert waiting.channel == "ops-wecom" and waiting.next == 0 and "unreachable" in waiting.last_error
    deliveries = audit.read(settings.store_dir).filter(pl.col("action") == "delivery")["detail"].to_list()
    assert any('"channel":"ops-wecom"' in x and '"status":"failed"' in x for x in deliveries)
    # the robot is back: the next run sends what waited (once), and builds nothing twice
    conf["ops-wecom"]["webhook"] = good
    up = dataclasses.replace(settings, notify_robots=json.dumps(conf))
    code, out, err = run_cli("digest", [*SEND, "--user", "boss@bank.example"], up)
    assert code == 0, err
    assert "not sent again" in out
    assert [b["msgtype"] for b in robots.bodies("ops-wecom")] == ["markdown", "image", "image", "image"]
    assert len(mailbox.messages) == 1 and Outbox(settings.store_dir).pending() == []
    # a third run: nothing new, nothing twice
    assert run_cli("digest", [*SEND, "--user", "boss@bank.example"], up)[0] == 0
    assert len(robots.requests) == 4 and len(mailbox.messages) == 1


def test_every_subscriber_once_and_rerun_sends_nothing(settings, robots, mailbox) -> None:  # noqa: ANN001
    code, out, err = run_cli("digest", SEND, settings)
    assert code == 0, err
    assert sorted(r for _, rs, _ in mailbox.messages for r in rs) == [
        "audit@bank.example", "boss@bank.example", "lead1@bank.example"]
    first = len(robots.requests)
    assert {r["path"] for r in robots.requests} == {"/ops-wecom", "/t01-dingtalk", "/t04-feishu"}
    code, out, _ = run_cli("digest", SEND, settings)
    assert code == 0 and len(robots.requests) == first and len(mailbox.messages) == 3
    assert "already sent or waiting: 6 group(s)" in out


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("password, delivered", [("s3cret", True), ("wrong", False), ("busy", False)])
def test_smtp_login_from_the_configuration(settings, password, delivered) -> None:  # noqa: ANN001
    """The right login delivers; a refused one (535) is tried once in the run; a temporary failure (454, the
    server's authentication backend down) is retried like any other temporary error."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's API
            got.append((session.auth_data.login, envelope.rcpt_tos))
            return "250 OK"

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        logins.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"dash", b"s3cret")
        busy = isinstance(auth_data, LoginPassword) and auth_data.password == b"busy"
        # handled=False: aiosmtpd answers 535 (or the message) itself; handled=True would leave the client waiting
        return AuthResult(success=ok, handled=False, auth_data=auth_data,
                          message="454 4.7.0 Temporary authentication failure" if busy else None)

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True,
                     auth_require_tls=False)
    ctl.start()
    try:
        s = dataclasses.replace(settings, smtp_url=f"smtp://dash:{password}@127.0.0.1:{port}?tls=none&from=d@b.example",
                                notify_robots=None, notify_retries=3, notify_backoff_s=0.0)
        code, _, err = run_cli("digest", [*SEND, "--user", "audit@bank.example"], s)
    finally:
        ctl.stop()
    if delivered:
        assert code == 0 and got == [(b"dash", ["audit@bank.example"])]
    elif password == "busy":  # temporary: each of the three tries logs in again
        assert code == 1 and got == [] and "454" in err and password not in err
        assert logins == ["PLAIN", "LOGIN"] * 3, logins
        assert [g.channel for g in Outbox(settings.store_dir).pending()] == ["email"]
    else:
        assert code == 1 and got == [] and "mail server 127.0.0.1" in err and password not in err
        # one login (smtplib tries each mechanism the server offers): not again in the run, which a mailbox would
        # count towards its lockout (nor other addresses': test_a_refused_login_holds_every_address_of_the_run)
        assert logins == ["PLAIN", "LOGIN"], logins
        assert [g.channel for g in Outbox(settings.store_dir).pending()] == ["email"]


@pytest.mark.parametrize("permanent", [True, False])
def test_a_refused_login_holds_every_address_of_the_run(tmp_path, permanent) -> None:  # noqa: ANN001
    """A mail server's refused login (permanent) is the server's, not one address's: the run tries no other
    address's message after it (each try would log in again); a temporary failure holds only its own address."""
    from queries.notify.channels.base import DeliveryError
    from queries.notify.outbox import Group

    users = ["a@bank.example", "b@bank.example", "c@bank.example"]
    calls = []

    def send(channel: str, body: dict) -> None:
        calls.append(body["to"])
        raise DeliveryError("mail server: (535, b'5.7.8 refused')", permanent=permanent)

    with Outbox(tmp_path).locked() as box:
        box.add([Group(group=f"digest:d:email:{u}", kind="digest", channel="email", user=u, role="manager",
                       bodies=[{"to": u}], ids=[f"m-{u}"]) for u in users])
        out = box.deliver(send, retries=3, backoff_s=0.0)
    assert calls == (["a@bank.example"] if permanent else [u for u in users for _ in range(3)])
    assert len(out.waiting) == 3 and [g.user for g in box.pending()] == users
    if permanent:
        assert all("not tried in this run" in w for w in list(out.waiting.values())[1:])
