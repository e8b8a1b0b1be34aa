"""The access file and the append-only, hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
from pathlib import Path

import pytest

from queries.governance.access import AccessError, load_access, parse_access
from queries.governance.audit import AuditError, read, record, verify

GOOD = """
[users."Li.Ming@bank.example"]
role = "team_lead"
teams = ["T01", "T02"]

[users."wang.fang@bank.example"]
role = "compliance"

[users."zhao.lei@bank.example"]
role = "manager"
"""


def test_access_file_maps_users_to_scopes(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "access.toml"
    path.write_text(GOOD, encoding="utf-8")
    access = load_access(path)
    lead = access.scope_for("li.ming@BANK.example ")
    assert lead.role == "team_lead" and lead.teams == frozenset({"T01", "T02"})
    assert access.scope_for("wang.fang@bank.example").teams is None
    assert access.scope_for("stranger@bank.example") is None
    assert access.scope_for(None) is None


@pytest.mark.parametrize("text, fragment", [
    ('[users."a@b"]\nrole = "admin"', "role 'admin'"),
    ('[users."a@b"]\nrole = "team_lead"', "needs teams"),
    ('[users."a@b"]\nrole = "manager"\nteams = "T01"', "list of team ids"),
    ("users = 3", "no [users"),
    ("[users\nrole=", "not valid TOML"),
])
def test_bad_access_files_say_what_is_wrong(text, fragment) -> None:  # noqa: ANN001
    with pytest.raises(AccessError, match=fragment.replace("[", r"\[")):
        parse_access(text)


def test_missing_access_file() -> None:
    with pytest.raises(AccessError, match="cannot read"):
        load_access(Path("/nonexistent/access.toml"))


def _write(store: Path, n: int) -> None:
    for i in range(n):
        record(store, user=f"u{i}", role="manager", action="view", page="daily", filters={"teams": ["T01"]}, rows=i)


def test_audit_entries_are_read_back_newest_first_and_chained(tmp_path) -> None:  # noqa: ANN001
    record(tmp_path, user="a@b", role="team_lead", action="view", page="agents",
           filters={"start": dt.date(2026, 10, 1), "teams": ("T01",)}, rows=12, now=dt.datetime(2026, 10, 31, 23, 59))
    record(tmp_path, user="a@b", role="team_lead", action="drilldown", page="agents",
           filters={"teams": ["T01"]}, rows=50, detail={"event": "payments", "case_ids": [3, 4]},
           now=dt.datetime(2026, 11, 1, 0, 0))
    record(tmp_path, user="c@d", role="compliance", action="export", page="complaints", rows=7,
           detail={"file": "complaints_2026-11-01_2026-11-22.xlsx"}, now=dt.datetime(2026, 11, 2, 9))
    log = read(tmp_path)
    assert log["action"].to_list() == ["export", "drilldown", "view"]
    assert json.loads(log["filters"][2]) == {"start": "2026-10-01", "teams": ["T01"]}
    assert read(tmp_path, start=dt.date(2026, 11, 1))["action"].to_list() == ["export", "drilldown"]
    assert verify(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "audit").glob("*.jsonl")) == ["2026-10.jsonl", "2026-11.jsonl"]


def test_editing_or_removing_a_line_breaks_the_chain(tmp_path) -> None:  # noqa: ANN001
    _write(tmp_path, 4)
    path = next((tmp_path / "audit").glob("*.jsonl"))
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], lines[1].replace('"rows":1', '"rows":0'), *lines[2:]]) + "\n")
    assert any("line 2" in p for p in verify(tmp_path))
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    assert any("line 2" in p for p in verify(tmp_path))


def test_personal_data_and_unknown_actions_are_refused(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(AuditError, match="customer_name"):
        record(tmp_path, user="a", role="manager", action="drilldown", page="x", detail={"customer_name": "张三"})
    with pytest.raises(AuditError, match="unknown audit action"):
        record(tmp_path, user="a", role="manager", action="delete", page="x")
    assert read(tmp_path).height == 0


def test_concurrent_writers_keep_one_intact_chain(tmp_path) -> None:  # noqa: ANN001
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_write, args=(tmp_path, 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert read(tmp_path).height == 160
    assert verify(tmp_path) == []


def test_entries_within_one_second_come_back_newest_first(tmp_path) -> None:  # noqa: ANN001
    at = dt.datetime(2026, 11, 2, 9, 0, 0)
    for i in range(5):
        record(tmp_path, user=f"u{i}", role="manager", action="view", page="daily", rows=i, now=at)
    assert read(tmp_path)["user"].to_list() == ["u4", "u3", "u2", "u1", "u0"]
