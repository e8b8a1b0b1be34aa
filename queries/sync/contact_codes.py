"""A contact's classifications as they travel from the source: small codes of its channel, outcome and party (one
simple CASE per column, so the source compares each string with each listed value at most once, not once per bit),
turned into the contacts stage's bits `k` and the compliance stage's bits `q` by a lookup table in Polars.

The select's `k` column packs, from the lowest bit: the channel code (3 bits), the outcome code (4), the party code
(2), "no consent after hours" (1), then the compliance stage's own optional-column bits (compliance.q_columns).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from queries.metrics.contact import ATTEMPT_CHANNELS, NOT_CONNECTED, RPC_OUTCOMES, UNANSWERED
from queries.source import contract as S
from queries.sync.compliance import CHANNEL_CODE, Q_NO_CONSENT, Q_THIRD, Q_WRONG
from queries.sync.context import B_ATTEMPT, B_CALL, B_CONNECTED, B_NO_CONSENT, B_PTP, B_RPC, B_UNANSWERED

#: channel codes are compliance's (position in the contract's list); 7 = any other channel, or NULL
CH_OTHER = 7
OUTCOME_CODE = {o: i for i, o in enumerate(S.CONTACT_OUTCOMES)}
#: NULL differs from an unknown outcome: `outcome NOT IN (…)` is NULL, so a NULL outcome is never "connected"
OUT_NULL, OUT_OTHER = 14, 15
PARTY_CODE = {p: i for i, p in enumerate(S.CONTACT_PARTIES)}
PARTY_OTHER = 3
OUT_SHIFT, PARTY_SHIFT, CONSENT_SHIFT, REST_SHIFT = 1 << 3, 1 << 7, 1 << 9, 1 << 10
CODES = REST_SHIFT  # combinations of the coded part


def code_column(channels: set[str] | None = None) -> sa.ColumnElement:
    """The coded part of `k` in SQL (0 … CODES−1); `channels`: the channels the compliance checks need a code for
    besides the attempt channels (None: all)."""
    c = S.contacts.c
    named = {n: i for n, i in CHANNEL_CODE.items() if channels is None or n in channels or n in ATTEMPT_CHANNELS}
    channel = sa.case(named, value=c.channel, else_=CH_OTHER)
    outcome = sa.case(OUTCOME_CODE, value=c.outcome, else_=sa.case((c.outcome.is_(None), OUT_NULL), else_=OUT_OTHER))
    party = sa.case(PARTY_CODE, value=c.party, else_=PARTY_OTHER)
    no_consent = sa.case((sa.not_(c.debtor_consent_after_hours), 1), else_=0)
    return channel + outcome * OUT_SHIFT + party * PARTY_SHIFT + no_consent * CONSENT_SHIFT


_CHANNEL_OF = {i: n for n, i in CHANNEL_CODE.items()}
_OUTCOME_OF = {i: o for o, i in OUTCOME_CODE.items()}
_PARTY_OF = {i: p for p, i in PARTY_CODE.items()}


def _bits(code: int) -> int:
    """One code's k bits (low byte) and q bits (second byte), worked out from the metric definitions' lists."""
    channel = _CHANNEL_OF.get(code % OUT_SHIFT)
    outcome_code = code // OUT_SHIFT % (PARTY_SHIFT // OUT_SHIFT)
    outcome = _OUTCOME_OF.get(outcome_code)
    party = _PARTY_OF.get(code // PARTY_SHIFT % (CONSENT_SHIFT // PARTY_SHIFT))
    no_consent = code // CONSENT_SHIFT % 2 == 1
    attempt = channel in ATTEMPT_CHANNELS
    call = channel == "call"
    known = outcome_code != OUT_NULL
    k = ((B_ATTEMPT if attempt else 0) | (B_CALL if call else 0)
         | (B_CONNECTED if attempt and known and outcome not in NOT_CONNECTED else 0)
         | (B_RPC if attempt and party == "debtor" and outcome in RPC_OUTCOMES else 0)
         | (B_PTP if attempt and outcome == "ptp" else 0)
         | (B_NO_CONSENT if attempt and no_consent else 0)
         | (B_UNANSWERED if call and outcome in UNANSWERED else 0))
    q = (Q_THIRD if party == "third_party" else 0) | (Q_WRONG if outcome == "wrong_number" else 0) | (
        Q_NO_CONSENT if no_consent else 0)
    return k | q << 8


#: code → k | q << 8, for every combination
TABLE = pl.Series("bits", [_bits(code) for code in range(CODES)], dtype=pl.UInt16)


def unpack(packed: pl.Expr) -> list[pl.Expr]:
    """The select's packed `k` → the narrow columns k, q and ch."""
    bits = pl.lit(TABLE).gather(packed % CODES)
    return [(bits % 256).cast(pl.UInt8).alias("k"),
            ((bits // 256).cast(pl.Int32) | (packed // REST_SHIFT)).cast(pl.UInt8).alias("q"),
            (packed % OUT_SHIFT).cast(pl.UInt8).alias("ch")]
