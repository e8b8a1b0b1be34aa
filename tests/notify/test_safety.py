"""Personal data never leaves, whatever the role; hostile names stay text in HTML, markdown, robots and Excel."""

from __future__ import annotations

import datetime as dt
import email
import sqlite3
from email import policy

import polars as pl
import pytest
from fixtures_notify import read_xlsx, run_cli

DAY = dt.date(2026, 11, 21)
HOSTILE_TEAM = "=cmd|' /C calc'!A0 <font color=red>x</font>"
HOSTILE_AGENT = "**[click](http://evil.example)** <script>alert(1)</script>\u202e\n# h"


def _pii(app_source) -> set[str]:  # noqa: ANN001
    """Every personal value of the case database long enough to be told apart from other text."""
    con = sqlite3.connect(app_source[0].removeprefix("sqlite:///"))
    agents = {r[0] for r in con.execute("SELECT agent_name FROM agents")}
    out = set()
    for name, phone, idn, acct in con.execute("SELECT customer_name, phone, id_number, account_no FROM cases"):
        out |= {phone, idn, acct}
        if len(name) >= 3 and name not in agents:
            out.add(name)
    out |= {r[0] for r in con.execute("SELECT phone_no FROM contacts WHERE phone_no IS NOT NULL LIMIT 5000")}
    return {v for v in out if v}


def _texts(mailbox, robots) -> list[str]:  # noqa: ANN001
    out = []
    for _, _, raw in mailbox.messages:
        msg = email.message_from_bytes(raw, policy=policy.default)
        out += [msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()]
        for part in msg.iter_attachments():
            if part.get_filename():
                out += [str(c) for rows in read_xlsx(part.get_content()).values() for r in rows for c in r]
    out += [r["raw"].decode() for r in robots.requests]
    return out


@pytest.mark.parametrize("user", ["audit@bank.example", "boss@bank.example"])
def test_no_personal_data_in_any_message(settings, app_source, mailbox, robots, user, tmp_path) -> None:  # noqa: ANN001
    rules = tmp_path / "alerts.toml"
    rules.write_text(f'[rules.all_after_hours]\nmetric = "after_hours_rate"\ncolumn = "numerator"\n'
                     f'by = ["agent_id"]\ncomparison = ">="\nthreshold = 0\nwindow = "30d"\n'
                     f'recipients = ["{user}"]\nchannels = ["email", "ops-wecom"]\n')
    import dataclasses

    s = dataclasses.replace(settings, alerts_file=rules)
    assert run_cli("digest", ["--send", "--date", DAY.isoformat(), "--user", user], s)[0] == 0
    assert run_cli("alerts", ["--date", DAY.isoformat()], s)[0] == 0
    texts = _texts(mailbox, robots)
    assert len(texts) >= 4
    pii = _pii(app_source)
    assert len(pii) > 1000
    blob = "\n".join(texts)
    assert not [v for v in pii if v in blob]


@pytest.fixture
def hostile(settings):  # noqa: ANN001, ANN201
    """The store copy with a hostile team name and agent name (as a case database may hold them)."""
    version = next(p for p in settings.store_dir.iterdir() if p.name.startswith("v-"))
    teams = pl.read_parquet(version / "teams.parquet")
    teams.with_columns(pl.when(pl.col("team_id") == "T04").then(pl.lit(HOSTILE_TEAM)).otherwise(pl.col("team_name"))
                       .alias("team_name")).write_parquet(version / "teams.parquet")
    agents = pl.read_parquet(version / "agents.parquet")
    agents.with_columns(pl.lit(HOSTILE_AGENT).alias("agent_name")).write_parquet(version / "agents.parquet")
    return settings


def test_hostile_names_stay_text(hostile, mailbox, robots) -> None:  # noqa: ANN001
    code, _, err = run_cli("digest", ["--send", "--date", DAY.isoformat(), "--user", "boss@bank.example"], hostile)
    assert code == 0, err
    msg = email.message_from_bytes(mailbox.messages[0][2], policy=policy.default)
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<font color=red>" not in html
    assert "\u202e" not in html and 'href="http://evil.example"' not in html
    [md] = [b["markdown"]["content"] for b in robots.bodies("ops-wecom") if b["msgtype"] == "markdown"]
    assert "[click](http://evil.example)" not in md and r"\[click\]\(http://evil.example\)" in md
    assert "<script>" not in md and "\u202e" not in md and "<font color=red>" not in md and "\n# h" not in md
    book = read_xlsx(next(p for p in msg.iter_attachments() if p.get_filename()).get_content())
    cells = [c for rows in book.values() for r in rows for c in r if isinstance(c, str)]
    assert any(c.startswith("=cmd|") for c in cells)  # a text cell (a formula cell would read as "=" + formula,
    # and test_xlsx_cells_are_never_formulas finds none in the sheets' XML)


def test_xlsx_cells_are_never_formulas(hostile) -> None:  # noqa: ANN001
    import io
    import zipfile

    from queries.governance.access import load_access
    from queries.notify.digest import build, recipient
    from queries.notify.render import xlsx
    from queries.store import Store

    access = load_access(hostile.access_file)
    d = build(Store.open(hostile.store_dir), recipient("boss@bank.example", access.scope_for("boss@bank.example"),
                                                       None), DAY)
    z = zipfile.ZipFile(io.BytesIO(xlsx(d)))
    sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in z.read(n) for n in sheets)
