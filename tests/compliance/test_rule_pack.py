"""The rule pack: the built-in files, house rules, and bad files refused with one line naming file, rule and key
(the command line exits 2; the previous valid pack stays in force)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from fixtures_compliance import build

from queries.cli import main as cli_main
from queries.cli.report import main as report_main
from queries.compliance.rules import (
    CHECKS,
    PARAMS,
    RulePackError,
    active_pack,
    load_pack,
    pack_problem,
)
from queries.settings import Settings

GOOD = """
[source]
title = "本中心催收规范"
version = "H-2026"

[[rules]]
id = "house-quiet"
check = "quiet_hours"
article = "第 3 条"
effective_from = 2026-03-01
start = "21:00"
end = "08:30"
"""


def test_builtin_pack_has_every_check_with_its_source() -> None:
    pack = load_pack()
    assert {r.check for r in pack.rules} == set(CHECKS)
    for r in pack.rules:
        assert r.source_title and r.article and r.effective_from, r.rule_id
        for key in PARAMS[r.check]:
            r.param(key)  # every figure resolvable
    assert len(pack.files) == 4
    assert pack.params("connected_cap", dt.date(2025, 2, 27)) is None  # GB/T not yet in force
    assert pack.params("connected_cap", dt.date(2025, 2, 28)) == {"max_per_case_day": 3}
    assert pack.scorecard_weights(dt.date(2026, 3, 1)) == {"recovery": 0.4, "breaches": 0.35, "complaints": 0.25}


def test_house_rules_are_stricter_from_their_date(tmp_path: Path) -> None:
    (tmp_path / "house.toml").write_text(GOOD, encoding="utf-8")
    pack = load_pack(tmp_path)
    assert pack.params("quiet_hours", dt.date(2026, 2, 28))["start"] == "22:00"
    assert pack.params("quiet_hours", dt.date(2026, 3, 1)) == {"start": "21:00", "end": "08:30",
                                                               "exempt_channels": ["letter"]}
    assert [r.rule_id for r in pack.judged_by("quiet_hours", dt.date(2026, 3, 1), dt.date(2026, 3, 31))] == [
        "gbt-45251-quiet-hours", "cba-2026-quiet-hours", "house-quiet"]
    assert pack.version != load_pack().version


@pytest.mark.parametrize(("text", "line"), [
    (GOOD.replace('start = "21:00"', 'start = "21:00"\nwhen = 3'),
     "rule house-quiet: unknown key 'when' for check quiet_hours"),
    (GOOD.replace('check = "quiet_hours"', 'check = "unanswered_cap"').replace('start = "21:00"\nend = "08:30"',
                                                                             "max_per_phone_day = -1"),
     "rule house-quiet: key 'max_per_phone_day': must not be negative, got -1"),
    (GOOD.replace('check = "quiet_hours"', 'check = "unanswered_cap"').replace('start = "21:00"\nend = "08:30"',
                                                                             'max_per_phone_day = "six"'),
     "rule house-quiet: key 'max_per_phone_day': must be a whole number, got 'six'"),
    (GOOD.replace('[source]\ntitle = "本中心催收规范"\n', "[source]\n"),
     "[source] title is missing"),
    (GOOD + GOOD.split("[[rules]]")[1].join(["\n[[rules]]", ""]).replace("house-quiet", "house-quiet-2")
     .replace("2026-03-01", "2026-06-01"),
     "rule house-quiet-2: key 'effective_from' 2026-06-01 overlaps rule house-quiet for check quiet_hours"),
    (GOOD.replace("[source]", "[sources]"), "unknown key 'sources'"),
    (GOOD.replace("effective_from = 2026-03-01\n", ""), "rule house-quiet: key 'effective_from' is missing"),
])
def test_bad_file_one_line_naming_file_rule_and_key(tmp_path: Path, text: str, line: str) -> None:
    f = tmp_path / "house.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RulePackError) as err:
        load_pack(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(str(f)) and line in msg


def test_bad_file_keeps_the_previous_valid_pack(tmp_path: Path) -> None:
    f = tmp_path / "house.toml"
    f.write_text(GOOD, encoding="utf-8")
    good, problem = active_pack(tmp_path)
    assert problem is None
    f.write_text(GOOD.replace('end = "08:30"', 'end = "8h"'), encoding="utf-8")
    kept, problem = active_pack(tmp_path)
    assert kept == good and "key 'end'" in problem
    assert pack_problem(tmp_path) == problem
    f.write_text(GOOD, encoding="utf-8")
    assert pack_problem(tmp_path) is None


def test_cli_exits_2_on_a_bad_house_rule_and_keeps_the_store(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    build(url)
    rules = tmp_path / "rules"
    rules.mkdir()
    monkeypatch.setenv("CASES_DB_URL", url)
    monkeypatch.setenv("CASES_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("CASES_RULES_DIR", str(rules))
    assert cli_main(["sync"]) == 0
    (rules / "house.toml").write_text(GOOD.replace("start", "begin"), encoding="utf-8")
    assert cli_main(["sync"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "house.toml: rule house-quiet: unknown key 'begin'" in err[0]
    settings = dataclasses.replace(Settings(db_url=url, store_dir=tmp_path / "store", data_dir=tmp_path),
                                   rules_dir=str(rules), store_max_age_s=0)
    out, errs = io.StringIO(), io.StringIO()
    code = report_main(["breaches", "--start", "2026-03-01", "--end", "2026-03-31", "--by", "check"], settings,
                       out=out, err=errs)
    assert code == 2 and "unknown key 'begin'" in errs.getvalue()
    (rules / "house.toml").unlink()
    out = io.StringIO()
    code = report_main(["breaches", "--start", "2026-03-01", "--end", "2026-03-31", "--by", "check",
                        "--check", "quiet_hours", "--check", "third_party"], settings, out=out, err=io.StringIO())
    assert code == 0
    rows = json.loads(out.getvalue())["rows"]
    assert [(r["check"], r["numerator"]) for r in rows] == [("quiet_hours", 3), ("third_party", 2)]


def test_the_pack_is_parsed_again_only_when_a_file_changes(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A metric asks for the pack in force on every call: the files are parsed once, and again only when a file's
    contents change — also a change of the same size written in the same instant."""
    from queries.compliance import rules

    parsed: list[str] = []
    real = rules.parse_rule_file
    monkeypatch.setattr(rules, "parse_rule_file", lambda f, *a, **k: parsed.append(str(f)) or real(f, *a, **k))
    f = tmp_path / "house.toml"
    f.write_text(GOOD, encoding="utf-8")
    first, _ = active_pack(tmp_path)
    n = len(parsed)
    assert n > 0 and str(f) in parsed
    again, problem = active_pack(tmp_path)
    assert again is first and problem is None and len(parsed) == n
    f.write_text(GOOD.replace('end = "08:30"', 'end = "08:45"'), encoding="utf-8")
    changed, _ = active_pack(tmp_path)
    assert len(parsed) > n and changed != first
