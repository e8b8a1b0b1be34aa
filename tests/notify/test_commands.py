"""The commands as a scheduler runs them: what they print, their exit codes, subscriptions, sync --alerts."""

from __future__ import annotations

import dataclasses
import email
import json
from email import policy

import pytest
from fixtures_notify import ACCESS, read_xlsx, run_cli

from queries.governance.access import AccessError, Subscription, parse_access
from queries.notify.outbox import Outbox, OutboxBusy, Pacer

DAY = "2026-11-21"


def test_markdown_preview_of_a_role_and_team(settings) -> None:  # noqa: ANN001
    no_access = dataclasses.replace(settings, access_file=None)
    code, out, err = run_cli("digest", ["--role", "team_lead", "--team", "T02", "--date", DAY, "--format",
                                        "markdown", "--lang", "en"], no_access)
    assert code == 0, err
    assert out.startswith("## Collections daily digest · 21 Nov 2026") and "T02" in out and "T01" not in out
    assert "Charts: open the dashboard" in out


def test_html_preview_holds_its_charts(settings, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "d.html"
    code, _, err = run_cli("digest", ["--user", "lead1@bank.example", "--date", DAY, "--out", str(path)], settings)
    assert code == 0, err
    html = path.read_text()
    assert html.count('src="data:image/png;base64,') == 2 and "cid:" not in html  # one team: daily and agents
    assert "Collected against target" in html  # lead1 subscribed in English


def test_xlsx_needs_out_and_writes_a_workbook(settings, tmp_path) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", ["--user", "boss@bank.example", "--date", DAY, "--format", "xlsx"], settings)
    assert code == 2 and "--out" in err and err.count("\n") == 1
    path = tmp_path / "d.xlsx"
    assert run_cli("digest", ["--user", "boss@bank.example", "--date", DAY, "--format", "xlsx", "--out",
                              str(path)], settings)[0] == 0
    assert "回收与目标" in read_xlsx(path.read_bytes())


def test_several_recipients_write_a_folder(settings, tmp_path) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", ["--role", "team_lead", "--date", DAY, "--format", "markdown", "--out",
                                      str(tmp_path / "out")], settings)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "digest_2026-11-21_lead1_bank.example.md", "digest_2026-11-21_lead2_bank.example.md",
        "digest_2026-11-21_lead4_bank.example.md"]


@pytest.mark.parametrize("argv, needle", [
    (["--user", "stranger@bank.example"], "not in the access file"),
    (["--user", "nosub@bank.example", "--send"], "no digest subscription"),
    (["--role", "team_lead", "--team", "T99"], "unknown team 'T99'"),
    (["--team", "T01"], "--team goes with --role"),
    (["--date", "yesterday"], "not a date"),
    (["--format", "pdf"], "invalid choice"),
])
def test_bad_digest_input_one_line_exit_2(settings, mailbox, robots, argv, needle) -> None:  # noqa: ANN001
    code, out, err = run_cli("digest", [*argv], settings)
    assert code == 2 and needle in err and err.count("\n") == 1 and out == ""
    assert mailbox.messages == [] and robots.requests == []


def test_dry_run_lists_and_sends_nothing(settings, mailbox, robots) -> None:  # noqa: ANN001
    code, out, _ = run_cli("digest", ["--dry-run", "--date", DAY], settings)
    assert code == 0 and out.count("would send: digest") == 6
    assert mailbox.messages == [] and robots.requests == [] and Outbox(settings.store_dir).pending() == []


def test_a_stale_store_is_said_and_exits_3(settings, tmp_path, mailbox) -> None:  # noqa: ANN001
    stale = dataclasses.replace(settings, store_max_age_s=0, db_url=f"sqlite:///{tmp_path / 'gone.sqlite'}")
    code, out, err = run_cli("digest", ["--send", "--date", DAY, "--user", "audit@bank.example"], stale)
    assert code == 3
    assert err.startswith("warning: sync failed") and "warning: Note: the analytics store was synced at" in err
    body = mailbox.messages[0][2].decode()
    assert "=E6=B3=A8=E6=84=8F" in body or "注意" in body  # "注意：分析库同步于 …" in the e-mail itself


def test_sync_then_alerts(settings, tmp_path, monkeypatch, mailbox) -> None:  # noqa: ANN001
    from queries.cli import main

    rules = tmp_path / "alerts.toml"
    rules.write_text('[rules.pace]\nmetric = "target_achievement"\ncolumn = "pace"\nby = ["team_id"]\n'
                     'comparison = "<"\nthreshold = 0.9\nwindow = "mtd"\nrecipients = ["boss@bank.example"]\n'
                     'channels = ["email"]\n')
    env = {"CASES_DB_URL": settings.db_url, "CASES_STORE_DIR": str(settings.store_dir),
           "CASES_DATA_DIR": str(tmp_path), "CASES_ACCESS_FILE": str(settings.access_file),
           "CASES_ALERTS_FILE": str(rules), "CASES_SMTP_URL": settings.smtp_url, "CASES_STORE_MAX_AGE_S": "1e12"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CASES_NOTIFY_ROBOTS", raising=False)
    # the morning run reports on yesterday: pinned to the day the fixture's data runs to (from December on, the
    # real yesterday's month to date holds no data and nothing fires)
    from fixtures_demo import AS_OF

    import queries.notify.run as notify_run

    monkeypatch.setattr(notify_run, "default_day", lambda tz="Asia/Shanghai": AS_OF)
    code = main(["sync", "--alerts"])
    assert code in (0, 3)  # 3: a stale-data warning
    assert len(mailbox.messages) == 1
    msg = email.message_from_bytes(mailbox.messages[0][2], policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    # the teams listed are those the metric itself puts under 90 % of pace over November to that day
    from queries.filters import Filters
    from queries.metrics.registry import compute
    from queries.store import Store

    pace = compute("target_achievement", Store.open(settings.store_dir), Filters(AS_OF.replace(day=1), AS_OF),
                   ("team_id",))
    under = sorted(pace.filter(pace["pace"] < 0.9).get_column("team_id").to_list())
    assert under and msg["Subject"] == "预警：pace", body
    assert sorted(line.split()[1] for line in body.splitlines() if line.startswith("- ")) == under, body


def test_one_run_at_a_time(settings) -> None:  # noqa: ANN001
    box = Outbox(settings.store_dir)
    with box.locked(), pytest.raises(OutboxBusy, match="another digest or alerts run"), Outbox(
            settings.store_dir).locked():
        pass


def test_pacer_keeps_a_robot_within_20_a_minute() -> None:
    now, waits = [0.0], []
    pacer = Pacer(clock=lambda: now[0], sleep=lambda s: (waits.append(s), now.__setitem__(0, now[0] + s)))
    for _ in range(20):
        pacer.wait("r", "wecom")
        now[0] += 1.0
    assert waits == []
    pacer.wait("r", "wecom")  # the 21st, 20 s after the first: waits until a minute has passed since it
    assert waits == [40.0]
    pacer.wait("other", "wecom")
    assert waits == [40.0]


def test_subscriptions_in_the_access_file() -> None:
    access = parse_access(ACCESS)
    assert access.subscriptions["lead1@bank.example"] == Subscription("en", ("email", "t01-dingtalk"), None)
    assert "nosub@bank.example" not in access.subscriptions
    old = parse_access('[users."a@b"]\nrole = "manager"\n')  # a file without subscriptions reads as before
    assert old.subscriptions == {} and old.scope_for("a@b").role == "manager"


@pytest.mark.parametrize("digest, needle", [
    ('lang = "fr"', "user 'a@b': digest: lang 'fr'"),
    ('channel = ["email"]', "user 'a@b': digest: unknown key 'channel'"),
    ("channels = []", "user 'a@b': digest: channels must be a non-empty list"),
    ('teams = ["T02"]', "user 'a@b': digest: team 'T02' is outside the user's teams"),
])
def test_bad_subscriptions_name_user_and_key(digest, needle) -> None:  # noqa: ANN001
    text = f'[users."a@b"]\nrole = "team_lead"\nteams = ["T01"]\n[users."a@b".digest]\n{digest}\n'
    with pytest.raises(AccessError, match=needle.replace("[", r"\[")):
        parse_access(text, "access.toml")


def test_robot_configuration_errors_are_one_line(settings) -> None:  # noqa: ANN001
    bad = dataclasses.replace(settings, notify_robots=json.dumps({"x": {"kind": "slack", "webhook": "http://h"}}))
    code, _, err = run_cli("digest", ["--send", "--date", DAY], bad)
    assert code == 2 and "CASES_NOTIFY_ROBOTS: robot 'x': kind 'slack'" in err and err.count("\n") == 1


def test_yesterday_is_the_centres_yesterday() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from queries.notify.run import default_day

    for tz in ("Asia/Shanghai", "America/Los_Angeles"):
        assert default_day(tz) == dt.datetime.now(ZoneInfo(tz)).date() - dt.timedelta(days=1)
