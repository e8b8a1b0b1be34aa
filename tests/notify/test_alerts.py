"""Alert rules: firings as `report` says, per recipient scope; once per period; throttled; bad rules refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import json
from email import policy
from pathlib import Path

import pytest
from fixtures_notify import report, run_cli

from queries.governance import audit
from queries.governance.access import load_access
from queries.notify.alerts import load_rules
from queries.notify.config import Channels, load_channels
from queries.settings import PROJECT_ROOT
from queries.store import Store

DAY = dt.date(2026, 11, 21)  # working day 15 of November 2026
RULES = """
[rules.pace_behind]
title = { zh = "团队进度低于 90%", en = "Team pace below 90%" }
metric = "target_achievement"
column = "pace"
by = ["team_id"]
comparison = "<"
threshold = 0.9
window = "mtd"
min_working_day = MWD
recipients = ["boss@bank.example", "lead1@bank.example", "lead2@bank.example"]
throttle = "3d"

[rules.after_hours]
metric = "after_hours_rate"
column = "numerator"
by = ["agent_id"]
comparison = ">"
threshold = 0
window = "yesterday"
recipients = ["audit@bank.example"]

[rules.regulator_12378]
metric = "complaint_rate"
column = "regulator_12378"
by = ["team_id"]
comparison = ">="
threshold = 1
window = "30d"
recipients = ["boss@bank.example"]
channels = ["email"]
"""


def _rules(settings, tmp_path: Path, text: str = RULES, mwd: int = 10):  # noqa: ANN001, ANN202
    path = tmp_path / "alerts.toml"
    path.write_text(text.replace("MWD", str(mwd)), encoding="utf-8")
    return dataclasses.replace(settings, alerts_file=path)


def _state(settings) -> dict:  # noqa: ANN001
    path = settings.store_dir / "notify" / "alerts.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _mails(mailbox, to: str) -> list[str]:  # noqa: ANN001
    out = []
    for _, rcpts, raw in mailbox.messages:
        if rcpts == [to]:
            msg = email.message_from_bytes(raw, policy=policy.default)
            out.append(msg["Subject"] + "\n" + msg.get_body(("plain",)).get_content())
    return out


def test_rows_fire_as_report_says(settings, tmp_path, mailbox, robots) -> None:  # noqa: ANN001
    s = _rules(settings, tmp_path)
    code, out, err = run_cli("alerts", ["--date", DAY.isoformat()], s)
    assert code == 0, err
    pace = report(s, "target_achievement", DAY.replace(day=1), DAY, by=("team_id",), user="boss@bank.example")
    after = report(s, "after_hours_rate", DAY, DAY, by=("agent_id",), user="audit@bank.example")
    reg = report(s, "complaint_rate", DAY - dt.timedelta(days=29), DAY, by=("team_id",), user="boss@bank.example")
    expected = ({f"pace_behind|team_id={r['team_id']}" for r in pace if r["pace"] < 0.9}
                | {f"after_hours|agent_id={r['agent_id']}" for r in after if r["numerator"] > 0}
                | {f"regulator_12378|team_id={r['team_id']}" for r in reg if r["regulator_12378"] >= 1})
    # the small centre on 21 Nov: T02 (pace 0.90) and T03 (0.78) behind, T01 and T04 ahead
    assert {"pace_behind|team_id=T02", "pace_behind|team_id=T03"} <= expected
    assert not {"pace_behind|team_id=T01", "pace_behind|team_id=T04"} & expected
    assert any(k.startswith("after_hours|") for k in expected)
    assert set(_state(s)) == expected
    # each recipient within their scope: the lead of T02 hears of T02 only, the lead of T01 (on pace) of nothing,
    # the executive of every team behind
    [lead] = _mails(mailbox, "lead2@bank.example")
    assert "预警：团队进度低于 90%" in lead and "T02" in lead and "T03" not in lead
    assert not _mails(mailbox, "lead1@bank.example") and not robots.bodies("t01-dingtalk")
    boss = _mails(mailbox, "boss@bank.example")
    assert any("T02" in m and "T03" in m and "进度" in m for m in boss)
    # audit: one entry per firing, one per delivery
    log = audit.read(s.store_dir)
    assert (log["action"] == "alert").sum() == len(expected)
    assert (log["action"] == "delivery").sum() >= 4 and audit.verify(s.store_dir) == []


def test_once_per_period_then_throttled(settings, tmp_path, mailbox, robots) -> None:  # noqa: ANN001
    s = _rules(settings, tmp_path)
    assert run_cli("alerts", ["--date", DAY.isoformat()], s)[0] == 0
    mails, posts = len(mailbox.messages), len(robots.requests)
    code, out, _ = run_cli("alerts", ["--date", DAY.isoformat()], s)
    assert code == 0 and "already sent for this period" in out
    assert (len(mailbox.messages), len(robots.requests)) == (mails, posts)
    # the next day: pace (throttle 3d) stays quiet; after-hours (no throttle) fires for the new day if it must
    nxt = DAY + dt.timedelta(days=1)
    code, out, _ = run_cli("alerts", ["--date", nxt.isoformat()], s)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("rule pace_behind"))
    behind = int(line.split(": ", 1)[1].split(" row")[0])
    assert behind >= 1 and line.endswith(f"0 fire, 0 already sent for this period, {behind} throttled"), line
    assert not any("pace" in m for m in _mails(mailbox, "lead2@bank.example")[1:])


def test_not_before_the_working_day(settings, tmp_path, mailbox) -> None:  # noqa: ANN001
    s = _rules(settings, tmp_path, mwd=16)  # 21 Nov is working day 15
    assert run_cli("alerts", ["--date", DAY.isoformat()], s)[0] == 0
    assert not any(k.startswith("pace_behind") for k in _state(s))
    s = _rules(settings, tmp_path, mwd=15)
    assert run_cli("alerts", ["--date", DAY.isoformat()], s)[0] == 0
    assert any(k.startswith("pace_behind") for k in _state(s))


def test_dry_run_sends_and_remembers_nothing(settings, tmp_path, mailbox, robots) -> None:  # noqa: ANN001
    s = _rules(settings, tmp_path)
    code, out, _ = run_cli("alerts", ["--date", DAY.isoformat(), "--dry-run"], s)
    assert code == 0 and "would fire: pace_behind|team_id=T03" in out
    assert mailbox.messages == [] and robots.requests == [] and _state(s) == {}


BAD = [
    ('metric = "target_achievement"', 'metric = "recovery"', "rule 'pace_behind': metric: unknown metric 'recovery'"),
    ('by = ["team_id"]\ncomparison = "<"', 'by = ["team_id"]\nfilters = { colour = "red" }\ncomparison = "<"',
     "rule 'pace_behind': unknown filter 'colour'"),
    ('by = ["team_id"]\ncomparison = "<"', 'by = ["team_id"]\nfilters = { teams = ["T99"] }\ncomparison = "<"',
     "rule 'pace_behind': filters.teams: unknown team 'T99'"),
    ('channels = ["email"]', 'channels = ["slack"]', "rule 'regulator_12378': channels: unknown channel 'slack'"),
    ("threshold = 0.9", 'threshold = "high"', "rule 'pace_behind': threshold must be a number"),
    ('recipients = ["audit@bank.example"]', 'recipients = ["stranger@bank.example"]',
     "rule 'after_hours': recipients: 'stranger@bank.example' is not in the access file"),
    ('window = "mtd"', 'window = "fortnight"', "rule 'pace_behind': window 'fortnight'"),
    ('column = "pace"', 'column = "speed"', "rule 'pace_behind': column: target_achievement has no column 'speed'"),
    ('comparison = "<"', 'comparison = "=<"', "rule 'pace_behind': comparison '=<'"),
    ('throttle = "3d"', 'throttle = "soon"', "rule 'pace_behind': throttle must be a duration"),
    ('title = {', 'colour = "red"\ntitle = {', "rule 'pace_behind': unknown key 'colour'"),
    ('by = ["agent_id"]', 'by = ["customer"]', "rule 'after_hours': by: after_hours_rate cannot be broken down"),
]


@pytest.mark.parametrize("old, new, needle", BAD, ids=[b[2].split(": ", 1)[1][:30] for b in BAD])
def test_bad_rules_one_line_exit_2_nothing_sent(settings, tmp_path, mailbox, robots, old, new, needle) -> None:  # noqa: ANN001
    assert old in RULES
    s = _rules(settings, tmp_path, RULES.replace(old, new, 1))
    code, out, err = run_cli("alerts", ["--date", DAY.isoformat()], s)
    assert code == 2, err
    assert err.count("\n") == 1 and needle in err and str(s.alerts_file) in err, err
    assert mailbox.messages == [] and robots.requests == [] and _state(s) == {}
    assert not (s.store_dir / "notify" / "outbox").exists() or not any((s.store_dir / "notify" / "outbox").iterdir())


def test_a_subscription_to_an_unknown_channel_is_refused_before_sending(settings, tmp_path, mailbox) -> None:  # noqa: ANN001
    text = settings.access_file.read_text().replace('channels = ["t04-feishu"]', 'channels = ["t04-slack"]')
    access = tmp_path / "bad-access.toml"
    access.write_text(text)
    s = dataclasses.replace(settings, access_file=access)
    code, _, err = run_cli("digest", ["--send", "--date", DAY.isoformat()], s)
    assert code == 2 and "user 'lead4@bank.example': digest.channels: unknown channel 't04-slack'" in err
    assert mailbox.messages == []


def test_the_example_rules_file_is_valid(settings) -> None:  # noqa: ANN001
    example = PROJECT_ROOT / "docs" / "examples" / "alerts.toml"
    access = load_access(PROJECT_ROOT / ".streamlit" / "access.toml.example")
    rules = load_rules(example, Store.open(settings.store_dir), access, Channels())
    assert {r.name for r in rules} >= {"regulator_12378", "pace_behind", "after_hours"}
    assert load_channels(dataclasses.replace(settings, notify_robots=None, smtp_url=None)) == Channels()
