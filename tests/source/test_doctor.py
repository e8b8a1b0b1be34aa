"""`doctor` finds what a case database lacks or holds wrongly, on every backend."""

from __future__ import annotations

import sqlalchemy as sa
from fixtures_demo import AS_OF, SMALL

from queries.cli import main as cli_main
from queries.demo import build_demo_database
from queries.source.doctor import ERROR, check, exit_code
from queries.source.engines import read_only_engine


def _findings(url: str) -> dict[str, list[str]]:
    engine = read_only_engine(url)
    try:
        found = check(engine)
    finally:
        engine.dispose()
    out: dict[str, list[str]] = {}
    for f in found:
        out.setdefault(f.where, []).append(f"{f.level}: {f.message}")
    return out


def test_a_generated_database_passes(fresh_source, capsys) -> None:  # noqa: ANN001
    build_demo_database(fresh_source, SMALL, seed=2, as_of=AS_OF)
    engine = read_only_engine(fresh_source)
    try:
        findings = check(engine)
    finally:
        engine.dispose()
    assert [f for f in findings if f.level == ERROR] == []
    assert not any("no index" in f.message for f in findings)
    assert cli_main(["doctor", "--url", fresh_source]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("OK: 0 errors")


def test_missing_and_malformed_parts_are_named(fresh_source, capsys) -> None:  # noqa: ANN001
    build_demo_database(fresh_source, SMALL, seed=2, as_of=AS_OF)
    engine = sa.create_engine(fresh_source)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET status = 'closed' WHERE case_id = 1"))
        conn.execute(sa.text("UPDATE contacts SET outcome = 'angry' WHERE contact_id = 1"))
        conn.execute(sa.text("DROP TABLE complaints"))
        conn.execute(sa.text("DROP TABLE targets"))
        conn.execute(sa.text("ALTER TABLE payments DROP COLUMN method"))
        conn.execute(sa.text("INSERT INTO agents (agent_id, agent_name, team_id, hired_on) "
                             "VALUES ('ZZ01', 'x', 'T99', '2024-01-01')"))
    engine.dispose()
    got = _findings(fresh_source)
    assert any("closed" in m and m.startswith(ERROR) for m in got["cases.status"])
    assert any("angry" in m for m in got["contacts.outcome"])
    assert any("required table missing" in m for m in got["complaints"])
    assert any(m.startswith("WARNING") and "optional" in m for m in got["targets"])
    assert any("required column missing" in m for m in got["payments.method"])
    assert any("1 agents" in m for m in got["agents.team_id"])
    assert cli_main(["doctor", "--url", fresh_source]) == 1
    out = capsys.readouterr().out
    assert "payments.method" in out and out.strip().splitlines()[-1].startswith("FAILED")
    assert exit_code([]) == 0


def test_unreachable_database_is_one_line(capsys) -> None:  # noqa: ANN001
    assert cli_main(["doctor", "--url", "postgresql+psycopg://postgres@127.0.0.1:1/none"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "cannot check" in err[0]
