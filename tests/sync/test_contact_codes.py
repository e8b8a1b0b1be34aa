"""The contacts select's coded classifications, read from a real source and unpacked, give every row the bits a
plain reading of the metric definitions gives it: every channel, outcome, party and consent value of the contract,
unknown ones, NULLs, other letter cases and trailing spaces (equal or not as the database's own collation says)."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest
import sqlalchemy as sa

from queries.metrics.contact import ATTEMPT_CHANNELS, NOT_CONNECTED, RPC_OUTCOMES, UNANSWERED
from queries.source import contract as S
from queries.source.engines import backend
from queries.source.reader import Reader
from queries.sync import compliance as C
from queries.sync.contact_codes import unpack
from queries.sync.contacts import contact_select
from queries.sync.context import (
    B_ATTEMPT,
    B_CALL,
    B_CONNECTED,
    B_NO_CONSENT,
    B_PTP,
    B_RPC,
    B_UNANSWERED,
    CONTACT_SCHEMA,
)

CHANNELS = [*S.CONTACT_CHANNELS, "fax", None, "Call", "visit "]
OUTCOMES = [*S.CONTACT_OUTCOMES, "hangup", None, "PTP", "busy "]
PARTIES = [*S.CONTACT_PARTIES, "boss", None, "Debtor"]
ROBOT = [None, 0, 1, 2]
RECORDING = [None, "", "  ", "r-1", "\t"]
OPTIONAL = {"contacts.is_robot", "contacts.recording_id"}


def _rows(kind: str) -> list[dict]:
    consents = [True, False, None] if kind == "postgresql" else [1, 0, None, 2]
    rows = []
    for i, (ch, out, party, consent) in enumerate(itertools.product(CHANNELS, OUTCOMES, PARTIES, consents)):
        # consent is the innermost loop: robot and recording step with the rows around it, not with it
        robot = ROBOT[i // len(consents) % len(ROBOT)]
        rows.append({"contact_id": i + 1, "case_id": 1, "agent_id": "A1",
                     "contacted_at": dt.datetime(2026, 3, 1, 9) + dt.timedelta(seconds=i), "channel": ch,
                     "party": party, "outcome": out, "duration_s": 1, "phone_no": f"1380000{i:04d}",
                     "debtor_consent_after_hours": consent,
                     "is_robot": (None if robot is None else robot == 1) if kind == "postgresql" else robot,
                     "recording_id": RECORDING[i // (len(consents) * len(ROBOT)) % len(RECORDING)]})
    return rows


def _build(url: str, kind: str) -> list[dict]:
    """The contract's contacts table without its NOT NULLs (a source that does not enforce them; on SQLite and
    MariaDB its flags small integers, as they store them), and the rows."""
    md = sa.MetaData()
    table = S.contacts.to_metadata(md)
    for col in table.columns:
        col.nullable = not col.primary_key
        if kind != "postgresql" and isinstance(col.type, sa.Boolean):
            col.type = sa.SmallInteger()
    engine = sa.create_engine(url)
    md.create_all(engine)
    rows = _rows(kind)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()
    return rows


def _expected(row: dict, kind: str, optional: set[str] | None, channels: set[str] | None) -> tuple[int, int, int]:
    """k, q and ch of one row, straight from the definitions with SQL's NULL logic and the backend's equality."""

    def eq(a: str | None, b: str) -> bool:
        if a is None:
            return False
        # MariaDB's default utf8mb4 collations ignore case and trailing spaces
        return a.casefold().rstrip(" ") == b if kind == "mysql" else a == b

    def among(a: str | None, values: tuple[str, ...]) -> bool:
        return any(eq(a, v) for v in values)

    ch, out, party, consent = row["channel"], row["outcome"], row["party"], row["debtor_consent_after_hours"]
    attempt, call = among(ch, ATTEMPT_CHANNELS), eq(ch, "call")
    no_consent = consent is not None and not consent
    k = (B_ATTEMPT * attempt + B_CALL * call
         + B_CONNECTED * (attempt and out is not None and not among(out, NOT_CONNECTED))
         + B_RPC * (attempt and eq(party, "debtor") and among(out, RPC_OUTCOMES))
         + B_PTP * (attempt and eq(out, "ptp")) + B_NO_CONSENT * (attempt and no_consent)
         + B_UNANSWERED * (call and among(out, UNANSWERED)))
    q = C.Q_THIRD * eq(party, "third_party") + C.Q_WRONG * eq(out, "wrong_number") + C.Q_NO_CONSENT * no_consent
    if optional:
        robot, rec = row["is_robot"], row["recording_id"]
        q += C.Q_ROBOT * (robot is True if kind == "postgresql" else robot == 1)
        q += C.Q_BAD_ROBOT * (kind != "postgresql" and robot is not None and robot not in (0, 1))
        blank = rec is not None and rec.strip(" ") == ""
        q += C.Q_RECORDED * (rec is not None and not blank) + C.Q_BAD_REC * blank
    named = [n for n in S.CONTACT_CHANNELS if n in ATTEMPT_CHANNELS or channels is None or n in channels]
    code = next((C.CHANNEL_CODE[n] for n in named if eq(ch, n)), 7)
    return int(k), int(q), code


@pytest.mark.parametrize(("optional", "channels"), [(None, None), (OPTIONAL, None), (OPTIONAL, {"letter"})])
def test_codes_unpack_to_the_definitions(fresh_source: str, optional: set[str] | None,
                                         channels: set[str] | None) -> None:
    kind = backend(fresh_source)
    rows = _build(fresh_source, kind)
    with Reader(fresh_source) as reader:
        got = reader.read(contact_select(optional, reader.kind, channels), CONTACT_SCHEMA)
    got = got.with_columns(unpack(pl.col("k"))).sort("contact_id")
    assert got.height == len(rows) == len(CHANNELS) * len(OUTCOMES) * len(PARTIES) * (
        3 if reader.kind == "postgresql" else 4)
    want = [_expected(r, reader.kind, optional, channels) for r in rows]
    wrong = [(r["channel"], r["outcome"], r["party"], r["debtor_consent_after_hours"], r["is_robot"],
              r["recording_id"], w, g) for r, w, g in zip(rows, want, got.select("k", "q", "ch").iter_rows(),
                                                           strict=True) if w != g]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[:5]}"
    # the number travels for calls only
    phones = dict(zip(got["contact_id"], got["phone_no"], strict=True))
    assert all((phones[r["contact_id"]] is not None) == (r["channel"] is not None and (
        r["channel"] == "call" or reader.kind == "mysql" and r["channel"].casefold().rstrip(" ") == "call"))
        for r in rows)
