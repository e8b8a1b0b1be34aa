"""The report command: JSON/CSV output, rounding, and one clear line with exit code 2 on bad input."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from fixtures_store import build_handmade

from queries.cli.report import main
from queries.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    url = f"sqlite:///{tmp_path / 'hand.sqlite'}"
    build_handmade(url)
    return Settings(db_url=url, store_dir=tmp_path / "store", data_dir=tmp_path)


def run(argv: list[str], settings: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_syncs_when_missing_then_reports_json(settings):
    assert not Path(settings.store_dir).exists()
    code, out, err = run(["collected", "--start", "2026-01-01", "--end", "2026-03-31", "--by", "month"], settings)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["metric"] == "collected"
    assert doc["rows"][0] == {"month": "2026-01-01", "numerator": 700.0, "denominator": None,
                              "value": 700.0, "payments": 2}
    assert doc["rows"][1]["numerator"] == 100.29


def test_rates_rounded_to_six(settings):
    code, out, _ = run(["recovery_rate", "--start", "2026-01-01", "--end", "2026-01-31"], settings)
    row = json.loads(out)["rows"][0]
    assert code == 0 and row == {"numerator": 700.0, "denominator": 3300.0, "value": 0.212121}


def test_csv_and_filters(settings):
    code, out, _ = run(["contact_rate", "--start", "2026-01-01", "--end", "2026-03-31", "--by", "team_id",
                        "--team", "T2", "--bucket", "M5", "--format", "csv"], settings)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "team_id,numerator,denominator,value"
    assert lines[1] == "T2,1,8,0.125"


def test_snapshot_and_basis(settings):
    code, out, _ = run(["roll_rate", "--start", "2026-01-01", "--end", "2026-03-31", "--snapshot",
                        "2026-01-31", "--basis", "count"], settings)
    rows = json.loads(out)["rows"]
    assert code == 0 and {(r["from_bucket"], r["to_bucket"], r["numerator"]) for r in rows} == {
        ("M3", "M0", 1), ("M4", "M5", 1), ("M5", "closed", 1)}


@pytest.mark.parametrize("argv, needle", [
    (["collected", "--start", "2026-02-01", "--end", "2026-01-01"], "after end date"),
    (["nonsense", "--start", "2026-01-01", "--end", "2026-01-31"], "unknown metric"),
    (["collected", "--start", "2026-01-01", "--end", "2026-01-31", "--team", "T9"], "unknown team"),
    (["collected", "--start", "2026-01-01", "--end", "2026-01-31", "--bucket", "M99"], "unknown bucket"),
    (["collected", "--start", "2026-01-01", "--end", "2026-01-31", "--by", "colour"], "cannot be broken down"),
    (["roll_rate", "--start", "2026-01-01", "--end", "2026-01-31", "--snapshot", "2026-01-30"], "not a snapshot"),
    (["collected", "--start", "yesterday", "--end", "2026-01-31"], "not a date"),
])
def test_bad_input_one_line_exit_2(settings, argv, needle):
    code, out, err = run(argv, settings)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1


def test_missing_targets_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'nt.sqlite'}"
    build_handmade(url, targets=False)
    s = Settings(db_url=url, store_dir=tmp_path / "store", data_dir=tmp_path)
    code, _, err = run(["target_achievement", "--start", "2026-01-01", "--end", "2026-01-31"], s)
    assert code == 1 and "targets" in err
    assert run(["collected", "--start", "2026-01-01", "--end", "2026-01-31"], s)[0] == 0


def test_stale_store_and_source_gone(settings, monkeypatch):
    assert run(["collected", "--start", "2026-01-01", "--end", "2026-01-31"], settings)[0] == 0
    Path(settings.db_url.removeprefix("sqlite:///")).unlink()
    stale = dataclasses.replace(settings, store_max_age_s=0)  # CASES_STORE_MAX_AGE_S=0: a sync is attempted, fails
    code, out, err = run(["collected", "--start", "2026-01-01", "--end", "2026-01-31"], stale)
    assert code == 0 and json.loads(out)["rows"][0]["numerator"] == 700.0
    assert err.startswith("warning: sync failed") and err.count("\n") == 1


def test_no_store_and_no_source(tmp_path):
    s = Settings(db_url=f"sqlite:///{tmp_path / 'missing.sqlite'}", store_dir=tmp_path / "store", data_dir=tmp_path)
    code, out, err = run(["collected", "--start", "2026-01-01", "--end", "2026-01-31"], s)
    assert code == 1 and out == "" and "not found" in err and err.count("\n") == 1


def test_paying_accounts_counts_as_integers(settings):
    code, out, err = run(["paying_accounts", "--start", "2026-01-01", "--end", "2026-03-31", "--by", "month"], settings)
    assert code == 0, err
    assert json.loads(out)["rows"] == [
        {"month": "2026-01-01", "numerator": 2, "denominator": None, "value": 2, "payments": 2},
        {"month": "2026-02-01", "numerator": 2, "denominator": None, "value": 2, "payments": 2},
        {"month": "2026-03-01", "numerator": 1, "denominator": None, "value": 1, "payments": 1}]
    code, out, _ = run(["paying_accounts", "--start", "2026-01-01", "--end", "2026-03-31"], settings)
    assert code == 0 and json.loads(out)["rows"] == [
        {"numerator": 4, "denominator": None, "value": 4, "payments": 5}]


def test_landing_with_too_little_history_says_so(settings):
    """The hand-made data has payments in January–March only: no month has three earlier months to learn from."""
    code, _, err = run(["landing", "--start", "2026-03-01", "--end", "2026-03-31"], settings)
    assert code == 1 and "3 earlier months" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["landing", "--start", "2026-03-01", "--end", "2026-03-31", "--by", "month"], settings)
    assert code == 2 and "landing cannot be broken down by 'month'" in err
