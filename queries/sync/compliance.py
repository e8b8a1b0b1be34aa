"""The compliance stage: every contact judged against the rule pack in force on its own day (DESIGN §4b).

It rides on the contacts stage's single read of the contacts table: the select's coded classifications give a
second bit column (`q`: third party, call to the debtor number, wrong number, robot, recorded, no consent,
unexpected optional values) and the channel code (see contact_codes); each month's attached rows are judged where
the contact rollups are made. The third-party check looks back up to `lookback_days` across the month boundary:
each month leaves a small tail (the last calls to the debtor number per case, the last wrong number), and after all
months the third-party contacts a month could not decide alone are decided against the tails of the months before
(an incremental sync reads that history from the source by case, over the index on (case_id, contacted_at)).

Writes compliance_agent (day × agent × bucket), attempt_ordinal_agent (… × ordinal) and breach_contacts
(one row per breaching contact and check); complaints get `late` and `after_breach` in the complaints stage.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from queries.compliance.rules import CONTACT_CHECKS, RulePack, seconds_of_day
from queries.dates import month_start
from queries.frames import summed
from queries.metrics.compliance import MAX_ORDINAL
from queries.metrics.contact import UNANSWERED
from queries.source import contract as S
from queries.source.reader import epoch_of
from queries.sync.context import (
    B_ATTEMPT,
    B_CALL,
    B_CONNECTED,
    B_RPC,
    B_UNANSWERED,
    SyncContext,
    concat,
)
from queries.sync.tables import day_keys, replace_days

# bits of `q` (from the select's codes, see contact_codes; robot and recording computed in SQL by q_columns)
Q_THIRD, Q_DEBTOR_CALL, Q_WRONG, Q_ROBOT, Q_RECORDED, Q_NO_CONSENT, Q_BAD_ROBOT, Q_BAD_REC = (
    1, 2, 4, 8, 16, 32, 64, 128)
#: channel codes of `ch` (position in the contract's list; 7 = anything else)
CHANNEL_CODE = {c: i for i, c in enumerate(S.CONTACT_CHANNELS)}
#: Optional contract parts the stage looks for (as the manifest and unavailable_checks name them).
OPTIONAL_PARTS = ("contacts.is_robot", "contacts.recording_id", "repayment_plans", "teams.whitelisted_on",
                  "teams.evaluated_on")
DAY_S = 86_400
#: Seed of the phone-number hash that tells a call to the debtor number (both sides hashed in the same process).
PHONE_SEED = 45251
#: The order judge() needs its month's rows in (the contacts stage sorts them once).
JUDGE_ORDER = ("case_id", "day", "sec", "cid")
#: Bits of the second of the month in the packed order keys (31 days × 86,400 s < 2^22).
SEC_BITS = 22
#: The store tables this stage writes.
TABLES = ("compliance_agent", "attempt_ordinal_agent", "breach_contacts")

C_AGENT = {"day": pl.Date, "agent_id": pl.String, "bucket": pl.String, "attempts": pl.UInt32,
           "connected_calls": pl.UInt32, "third_party_contacts": pl.UInt32, "robot_attempts": pl.UInt32,
           **{f"b_{c}": pl.UInt32 for c in CONTACT_CHECKS}, "b_any": pl.UInt32, "skipped": pl.UInt32}
C_ORDINAL = {"day": pl.Date, "agent_id": pl.String, "bucket": pl.String, "ordinal": pl.UInt8,
             "attempts": pl.UInt32, "rpc": pl.UInt32}
C_BREACH = {"day": pl.Date, "contact_id": pl.Int64, "case_id": pl.Int64, "agent_id": pl.String,
            "bucket": pl.String, "check": pl.String, "rule_id": pl.String}
#: a third-party contact a month could not decide alone (its lookback reaches the month before)
C_PENDING = {"contact_id": pl.Int64, "case_id": pl.Int64, "day": pl.Date, "agent_id": pl.String,
             "bucket": pl.String, "ts": pl.Int64, "lookback_s": pl.Int64, "min_failed": pl.Int64,
             "n_in": pl.Int64, "streak_in": pl.Int64, "other_breach": pl.Boolean, "rule_id": pl.String}
_PENDING_IN = {k: v for k, v in C_PENDING.items() if k not in ("other_breach", "rule_id")}
#: the cases' numbers as a full sync reads them (hashed at once; the numbers are not kept)
PHONE_SCHEMA = {"case_id": pl.Int64, "phone": pl.String}
#: a month's tail: the last calls to the debtor number per case (wrong = a wrong_number, kept apart)
C_TAIL = {"case_id": pl.Int64, "ts": pl.Int64, "unanswered": pl.Boolean, "wrong": pl.Boolean}


def _packed(case_id: pl.Series, low_bits: int) -> int | None:
    """The smallest case id when (case id − it) shifted left by `low_bits` fits in an Int64 order key; None when
    the ids span too wide (then the order is sorted column by column)."""
    if case_id.len() == 0:
        return None
    lo, hi = case_id.min(), case_id.max()
    return int(lo) if int(hi) - int(lo) < 1 << (62 - low_bits) else None  # type: ignore[arg-type]


def sort_for_judging(a: pl.DataFrame, m: dt.date) -> pl.DataFrame:
    """Month m's rows in JUDGE_ORDER, sorted by one integer (case, second of the month) and the contact id: a
    sort on four columns costs half as much again."""
    lo = _packed(a.get_column("case_id"), SEC_BITS)
    if lo is None:
        return a.sort(*JUDGE_ORDER)
    second = (pl.col("day") - pl.lit(m)).dt.total_days().cast(pl.Int64) * DAY_S + pl.col("sec").cast(pl.Int64)
    return a.sort((pl.col("case_id") - lo) * (1 << SEC_BITS) + second, pl.col("cid"))


def exempt_channels(pack: RulePack) -> set[str]:
    """Every channel some quiet-hours rule of the pack exempts (the checks read the code of these channels only;
    the attempt channels are coded anyway, see contact_codes)."""
    return {ch for r in pack.for_check("quiet_hours") for ch in r.param("exempt_channels")}  # type: ignore[attr-defined]


def q_columns(optional: set[str], kind: str = "sqlite") -> sa.ColumnElement | None:
    """The `q` bits of the optional columns (robot, recording; when present) for the compliance checks, to be packed
    into the contacts stage's `k` (see contact_codes; the other `q` bits come from the coded channel, outcome,
    party and consent); `kind` the backend: a PostgreSQL boolean cannot hold an unexpected value, SQLite and MySQL
    integers can; None when neither column is present)."""
    c = S.contacts.c

    def bit(cond: sa.ColumnElement, value: int) -> sa.ColumnElement:
        return sa.case((cond, value), else_=0)

    # Q_DEBTOR_CALL (a call to cases.phone) is set after reading, by mark_debtor_calls: a lookup of the case's
    # number per row costs the source two index searches; comparing in memory costs nothing on its side
    q: list[sa.ColumnElement] = []
    if "contacts.is_robot" in optional:
        if kind == "postgresql":
            q.append(bit(c.is_robot.is_(True), Q_ROBOT))
        else:
            robot = sa.type_coerce(c.is_robot, sa.Integer)
            q += [bit(robot == 1, Q_ROBOT), bit(sa.and_(c.is_robot.is_not(None), robot.not_in((0, 1))), Q_BAD_ROBOT)]
    if "contacts.recording_id" in optional:
        blank = sa.func.trim(c.recording_id) == ""
        q += [bit(sa.and_(c.recording_id.is_not(None), sa.not_(blank)), Q_RECORDED), bit(blank, Q_BAD_REC)]
    return sum(q[1:], q[0]) if q else None


@dataclass
class Month:
    """What judging one month leaves for the end of the stage."""

    agent: pl.DataFrame
    ordinal: pl.DataFrame
    pending: pl.DataFrame
    tail: pl.DataFrame
    breach_file: Path | None


@dataclass
class Compliance:
    """The stage's state for one sync: the pack, the optional parts found, plans, agencies, months judged."""

    pack: RulePack
    optional: set[str]
    plans: pl.DataFrame | None
    agents: pl.DataFrame  # agent_id, is_agency, whitelisted_on
    spill: Path
    months: dict[dt.date, Month] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    #: the months this sync judges (a full sync decides each month's pending contacts, and frees the tails,
    #: as soon as the months before are judged: the tails never pile up)
    expected: list[dt.date] = field(default_factory=list)
    phones: pl.DataFrame | None = None  # case_id, hash of cases.phone (the number itself is not kept)
    phone_by_pos: np.ndarray | None = None  # that hash by the case lookup's position (last: unknown case)
    phone_known: np.ndarray | None = None
    decided: set[dt.date] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, m: dt.date, month: Month, incremental: bool) -> None:
        """Keep one judged month; in a full sync decide what can be decided and free tails no longer needed."""
        with self.lock:
            self.months[m] = month
            if not incremental:
                self._advance()

    def _advance(self) -> None:
        expected = set(self.expected)
        for m in sorted(self.months):
            before = [p for p in (month_start(m, -1), month_start(m, -2)) if p in expected]
            if m in self.decided or any(p not in self.months for p in before):
                continue
            mo = self.months[m]
            if mo.pending.height:
                mo.pending = resolve(mo.pending, concat([self.months[p].tail for p in before], C_TAIL))
            self.decided.add(m)
        for p, mo in self.months.items():
            after = [q for q in (month_start(p, 1), month_start(p, 2)) if q in expected]
            if mo.tail.height and all(q in self.decided for q in after):
                mo.tail = mo.tail.head(0)


def prepare(ctx: SyncContext) -> Compliance:
    """Look for the optional parts, read plans and agencies: before the contacts stage."""
    r = ctx.reader
    cols = {t: r.columns(t) for t in ("contacts", "teams")}
    optional = {f"{t}.{c}" for t, names in cols.items() for c in S.OPTIONAL_COLUMNS[t] if c in names}
    plans = None
    if r.has_table("repayment_plans"):
        optional.add("repayment_plans")
        p = S.repayment_plans.c
        plans = r.read(sa.select(p.case_id, p.agreed_on, p.ended_on, p.status),
                       {"case_id": pl.Int64, "agreed_on": pl.Date, "ended_on": pl.Date, "status": pl.String})
    teams = pl.read_parquet(ctx.writer.path / "teams.parquet")
    agents = pl.read_parquet(ctx.writer.path / "agents.parquet").select("agent_id", "team_id")
    wl = (pl.col("whitelisted_on").cast(pl.Date, strict=False) if "whitelisted_on" in teams.columns
          else pl.lit(None, pl.Date)).alias("whitelisted_on")
    agents = agents.join(teams.select("team_id", (pl.col("channel") == "agency").alias("is_agency"), wl),
                         on="team_id", how="left").select("agent_id", pl.col("is_agency").fill_null(False),
                                                          "whitelisted_on")
    comp = Compliance(ctx.pack, optional, plans, agents, ctx.writer.path / "_spill" / "compliance")
    if ctx.prev is None:  # a full sync: every case's number (see mark_debtor_calls; 0.2 s at bank scale)
        phones = r.read(sa.select(S.cases.c.case_id, S.cases.c.phone), PHONE_SCHEMA)
        comp.phones = phones.select("case_id", pl.col("phone").hash(PHONE_SEED).alias("ph"),
                                    pl.col("phone").is_not_null().alias("has"))
    return comp


def mark_debtor_calls(ctx: SyncContext, c: pl.DataFrame) -> pl.DataFrame:
    """Set Q_DEBTOR_CALL on the calls whose number is the case's (`phone_no`: the number of every call). Only a
    full sync needs it: an incremental one decides every unjustified third-party contact from the source's
    history (finish), which reads the calls to the case's number there."""
    comp: Compliance = ctx.compliance
    if comp.phones is None and comp.phone_by_pos is None:
        return c
    known, number = _phone_by_position(ctx, comp, c.get_column("case_id"))
    debtor = (known & ((c.get_column("k") & B_CALL) > 0) & c.get_column("phone_no").is_not_null()
              & (c.get_column("phone_no").hash(PHONE_SEED) == number))
    return c.with_columns(pl.when(debtor.fill_null(False)).then(pl.col("q") | Q_DEBTOR_CALL).otherwise(pl.col("q"))
                          .alias("q"))


def _phone_by_position(ctx: SyncContext, comp: Compliance, case_id: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Per row: whether the case's number is known, and its hash — from arrays by case position (a full sync)."""
    lk = ctx.lk
    if comp.phone_by_pos is None:  # once, on the first chunk (the cases are synced by then)
        by_case = ctx.cases.select("case_id").join(comp.phones, on="case_id", how="left", maintain_order="left")
        ph = by_case.select(pl.when(pl.col("has")).then(pl.col("ph"))).to_series().fill_null(0).to_numpy()
        has = by_case.get_column("has").fill_null(False).to_numpy()
        comp.phone_by_pos = np.append(np.where(has, ph, 0).astype(np.uint64), np.uint64(0))
        comp.phone_known = np.append(has, False)
        comp.phones = None
    pos = lk.positions(case_id)
    return pl.Series(comp.phone_known[pos]), pl.Series(comp.phone_by_pos[pos])  # type: ignore[index]


def _day_params(pack: RulePack, days: list[dt.date]) -> pl.DataFrame:
    """One row per day: the figures of each check in force (null: no rule that day) and the judging rule ids."""
    rows = []
    for d in days:
        row: dict = {"day": d}
        for check in CONTACT_CHECKS:
            rules = pack.in_force(check, d)
            row[f"r_{check}"] = "+".join(r.rule_id for r in rules) if rules else None
        q = pack.params("quiet_hours", d)
        row["q_start"] = seconds_of_day(str(q["start"])) if q else None
        row["q_end"] = seconds_of_day(str(q["end"])) if q else None
        row["q_exempt"] = sum(1 << CHANNEL_CODE[c] for c in q["exempt_channels"]) if q else 0  # type: ignore[union-attr]
        u = pack.params("unanswered_cap", d)
        row["u_cap"] = int(u["max_per_phone_day"]) if u else None  # type: ignore[arg-type]
        c = pack.params("connected_cap", d)
        row["c_cap"] = int(c["max_per_case_day"]) if c else None  # type: ignore[arg-type]
        t = pack.params("third_party", d)
        row["t_lookback"] = int(t["lookback_days"]) * DAY_S if t else None  # type: ignore[arg-type]
        row["t_min"] = int(t["min_failed_calls"]) if t else None  # type: ignore[arg-type]
        rows.append(row)
    schema = {"day": pl.Date, **{f"r_{c}": pl.String for c in CONTACT_CHECKS}, "q_start": pl.Int64,
              "q_end": pl.Int64, "q_exempt": pl.Int64, "u_cap": pl.Int64, "c_cap": pl.Int64,
              "t_lookback": pl.Int64, "t_min": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def judge(comp: Compliance, a: pl.DataFrame, lk_decode, m: dt.date, incremental: bool) -> Month:  # noqa: ANN001
    """Judge one month's attached contact rows (bits k and q, channel ch, seconds of day sec, contact id cid),
    sorted by JUDGE_ORDER."""
    k, q = pl.col("k"), pl.col("q")

    def kb(bit: int) -> pl.Expr:
        return (k & bit) > 0

    def qb(bit: int) -> pl.Expr:
        return (q & bit) > 0

    days = a.get_column("day").unique().sort().to_list()
    params = _day_params(comp.pack, days)
    rule_ids = params.select("day", *[f"r_{c}" for c in CONTACT_CHECKS])  # joined to the breaches only
    # each row gets its day's figures, and a flag per check in force (not the rule ids: one byte, not a string)
    params = params.with_columns(**{f"on_{c}": pl.col(f"r_{c}").is_not_null() for c in CONTACT_CHECKS}).drop(
        *[f"r_{c}" for c in CONTACT_CHECKS])
    # a figure the same on every day of the month (the usual case) is a literal, not a column of the month's rows
    same = {c for c in params.columns if c != "day" and params.get_column(c).n_unique() == 1}
    fixed = {c: pl.lit(params.get_column(c)[0], dtype=params.schema[c]) for c in same}

    def par(name: str) -> pl.Expr:
        return fixed.get(name, pl.col(name))

    a = a.select("cid", "case_id", "agent_id", "day", "sec", "bucket", "k", "q", "ch", "phone_no")
    if len(same) < params.width - 1:
        a = a.join(params.drop(*same), on="day", how="left", maintain_order="left")
    attempt, call, connected = kb(B_ATTEMPT), kb(B_CALL), kb(B_CONNECTED)
    conn_call = call & connected
    unans = kb(B_UNANSWERED)
    sec = pl.col("sec").cast(pl.Int64)
    window = pl.when(par("q_start") > par("q_end")).then(
        (sec >= par("q_start")) | (sec < par("q_end"))).otherwise(
        (sec >= par("q_start")) & (sec < par("q_end")))
    exempt = pl.lit(False)
    for code in range(8):
        exempt = exempt | ((pl.col("ch") == code) & ((par("q_exempt") // (1 << code)) % 2 == 1))
    # a running count within each (case, day) of the sorted rows: the total so far minus the total before the
    # case-day began (cheaper than a window over a million small groups)
    starts = ((pl.col("case_id") != pl.col("case_id").shift()) | (pl.col("day") != pl.col("day").shift())).fill_null(
        True)

    def running(x: pl.Expr) -> pl.Expr:
        total = x.cast(pl.Int64).cum_sum()
        return total - pl.when(starts).then(total - x.cast(pl.Int64)).forward_fill()

    flags = {
        "quiet_hours": par("q_start").is_not_null() & window & qb(Q_NO_CONSENT) & ~exempt,
        "unanswered_cap": pl.Series(_over_unanswered_cap(a, unans, par("u_cap"))),
        "connected_cap": par("c_cap").is_not_null() & conn_call & (running(conn_call) > par("c_cap")),
        "unrecorded": par("on_unrecorded") & conn_call & ~qb(Q_RECORDED) & ~qb(Q_BAD_REC),
    }
    if "contacts.recording_id" not in comp.optional:
        flags["unrecorded"] = pl.lit(False)
    a = a.with_columns(**{f"b_{c}": e.fill_null(False) for c, e in flags.items()},
                       ordinal=pl.min_horizontal(running(attempt), pl.lit(MAX_ORDINAL)).cast(pl.UInt8))
    # agency not whitelisted on the day
    if "teams.whitelisted_on" in comp.optional:
        # the two agency columns alone, in row order (joining the whole frame would copy every column)
        ag = a.select("agent_id").join(comp.agents, on="agent_id", how="left", maintain_order="left")
        a = a.with_columns(ag.get_column("is_agency"), ag.get_column("whitelisted_on"))
        del ag
        a = a.with_columns(b_agency_not_allowed=(
            par("on_agency_not_allowed") & attempt & pl.col("is_agency").fill_null(False)
            & (pl.col("whitelisted_on").is_null() | (pl.col("whitelisted_on") > pl.col("day")))).fill_null(False))
    else:
        a = a.with_columns(b_agency_not_allowed=pl.lit(False))
    # attempts during an active plan: after the agreeing day, before it ended
    plan_hit = pl.Series("cid", [], pl.Int64)
    if comp.plans is not None and comp.plans.height:
        att = a.filter(attempt & par("on_during_plan")).select("cid", "case_id", "day")
        hit = att.join(comp.plans.select("case_id", "agreed_on", "ended_on"), on="case_id", how="inner").filter(
            (pl.col("day") > pl.col("agreed_on"))
            & (pl.col("ended_on").is_null() | (pl.col("day") < pl.col("ended_on"))))
        plan_hit = hit.get_column("cid").unique()
    a = a.with_columns(b_during_plan=pl.col("cid").is_in(plan_hit.implode()))
    # third party: decided here when the month's own calls justify it or its lookback stays inside the month
    tp, pending, tail = _third_party(a, m, qb, unans, par, incremental)
    pending = pending.join(rule_ids.select("day", pl.col("r_third_party").alias("rule_id")), on="day", how="left")
    a = a.with_columns(b_third_party=pl.col("cid").is_in(tp.implode()))
    others = [c for c in CONTACT_CHECKS if c != "third_party"]
    any_other = pl.any_horizontal([pl.col(f"b_{c}") for c in others])
    if pending.height:
        mine = a.filter(pl.col("cid").is_in(pending.get_column("contact_id").implode()))
        pending = pending.join(mine.select("cid", any_other.alias("other_breach")), left_on="contact_id",
                               right_on="cid", how="left")
    else:
        pending = pl.DataFrame(schema=C_PENDING)
    a = a.with_columns(b_any=any_other | pl.col("b_third_party"))
    skipped = qb(Q_BAD_ROBOT) | qb(Q_BAD_REC)
    agent = lk_decode(summed(
        a, ["day", "agent_id", "bucket"], attempt.sum().alias("attempts"), conn_call.sum().alias("connected_calls"),
        qb(Q_THIRD).sum().alias("third_party_contacts"), (attempt & qb(Q_ROBOT)).sum().alias("robot_attempts"),
        *[pl.col(f"b_{c}").sum() for c in CONTACT_CHECKS], pl.col("b_any").sum(), skipped.sum().alias("skipped"),
    )).select(*C_AGENT).cast(C_AGENT)  # type: ignore[arg-type]
    ordinal = lk_decode(summed(a.filter(attempt), ["day", "agent_id", "bucket", "ordinal"],
                               pl.len().alias("attempts"), kb(B_RPC).sum().alias("rpc"))).select(*C_ORDINAL).cast(C_ORDINAL)  # type: ignore[arg-type]
    hits = a.filter(pl.col("b_any")).join(rule_ids, on="day", how="left")
    breach = lk_decode(pl.concat([
        hits.filter(pl.col(f"b_{c}")).select("day", pl.col("cid").alias("contact_id"), "case_id", "agent_id",
                                             "bucket", pl.lit(c).alias("check"), pl.col(f"r_{c}").alias("rule_id"))
        for c in CONTACT_CHECKS], how="vertical_relaxed")).select(*C_BREACH).cast(C_BREACH)  # type: ignore[arg-type]
    file = None
    if breach.height:
        comp.spill.mkdir(parents=True, exist_ok=True)
        file = comp.spill / f"{m:%Y-%m}.arrow"
        breach.write_ipc(file, compression="lz4")
    pending = lk_decode(pending).select(*C_PENDING).cast(C_PENDING) if pending.height else pending  # type: ignore[arg-type]
    return Month(agent, ordinal, pending, tail, file)


def _over_unanswered_cap(a: pl.DataFrame, unans: pl.Expr, cap: pl.Expr) -> np.ndarray:
    """Per row of the sorted month frame: an unanswered call past its day's cap for its (case, number, day).
    The unanswered calls alone are ordered by (case, day, number), keeping their time order (a stable sort), and
    counted from each group's start (a window over millions of small groups costs far more)."""
    sub = a.with_row_index("_i").filter(unans & cap.is_not_null()).select(
        "_i", "case_id", "day", "phone_no", cap.alias("u_cap")).sort("case_id", "day", "phone_no", maintain_order=True)
    starts = (pl.col("case_id").ne_missing(pl.col("case_id").shift()) | pl.col("day").ne_missing(pl.col("day").shift())
              | pl.col("phone_no").ne_missing(pl.col("phone_no").shift()))
    i = pl.int_range(pl.len(), dtype=pl.Int64)
    over = sub.filter(i - pl.when(starts).then(i).forward_fill() + 1 > pl.col("u_cap")).get_column("_i").to_numpy()
    out = np.zeros(a.height, dtype=bool)
    out[over] = True
    return out


def _third_party(a: pl.DataFrame, m: dt.date, qb, unans: pl.Expr, par,  # noqa: ANN001
                 incremental: bool) -> tuple[pl.Series, pl.DataFrame, pl.DataFrame]:
    """(contact ids breaching third_party decided in this month, the pending ones, this month's tail)."""
    epoch = (pl.col("day").cast(pl.Datetime("ms")).dt.epoch("s") + pl.col("sec").cast(pl.Int64)).alias("ts")
    debtor = qb(Q_DEBTOR_CALL)
    cand = par("on_third_party") & qb(Q_THIRD)
    # the rows carry no strings (the candidates' day, agent and bucket are joined back to the few left pending)
    cols = ["cid", "case_id", epoch,
            par("t_lookback").alias("lookback_s"), par("t_min").alias("min_failed"),
            (debtor & unans).alias("unanswered"), (debtor & qb(Q_WRONG)).alias("wrong")]
    # a contact may be both: a third-party contact on a call to the debtor number (someone else answered)
    cands, calls = (a.filter(cand).select(*cols, pl.lit(0, pl.Int8).alias("kind")),
                    a.filter(debtor).select(*cols, pl.lit(1, pl.Int8).alias("kind")))
    empty_ids = pl.Series("cid", [], pl.Int64)
    if cands.height + calls.height == 0:
        return empty_ids, pl.DataFrame(schema=_PENDING_IN), pl.DataFrame(schema=C_TAIL)
    m_epoch = int((dt.datetime(m.year, m.month, 1) - dt.datetime(1970, 1, 1)).total_seconds())  # naive local
    lo = _packed(a.get_column("case_id"), SEC_BITS + 1)
    if lo is None:
        rows = pl.concat([cands, calls]).sort("case_id", "ts", "kind", "cid")
    else:
        # each part is in (case, time, id) order already (a is): merged on one integer (case, second of the
        # month, kind) they are in (case, time, kind, id) order without a sort
        key = ((pl.col("case_id") - lo) * (1 << (SEC_BITS + 1)) + (pl.col("ts") - m_epoch) * 2
               + pl.col("kind").cast(pl.Int64)).alias("_key")
        rows = cands.with_columns(key).merge_sorted(calls.with_columns(key), "_key").drop("_key")
    is_call = pl.col("kind") == 1
    x_call, x_unans = is_call.cast(pl.Int64), (is_call & pl.col("unanswered")).cast(pl.Int64)
    # running counts within each case of the sorted rows: a total so far less its value where the case (or the
    # streak of unanswered calls) began; a window over(case) per count costs several times more
    first = pl.col("case_id").ne_missing(pl.col("case_id").shift())
    calls_so_far, unans_so_far = x_call.cum_sum(), x_unans.cum_sum()
    wrong_call = is_call & pl.col("wrong")
    rows = rows.with_columns(
        n_in=calls_so_far - pl.when(first).then(calls_so_far - x_call).forward_fill(),
        _calls=calls_so_far,
        last_wrong=pl.when(pl.when(wrong_call).then(pl.col("case_id")).forward_fill() == pl.col("case_id")).then(
            pl.when(wrong_call).then(pl.col("ts")).forward_fill()),
        streak_in=unans_so_far - pl.when(first | (is_call & ~pl.col("unanswered"))).then(
            unans_so_far - x_unans).forward_fill())
    # the min_failed-th latest call of the case up to a candidate: its position among all the calls, in order
    call_ts = rows.filter(is_call).get_column("ts")
    cands = rows.filter(pl.col("kind") == 0).with_columns((pl.col("n_in") - pl.col("min_failed") + 1).alias("_idx"))
    at = pl.col("_calls") - pl.col("n_in") + pl.col("_idx") - 1
    cands = cands.with_columns(pl.when((pl.col("_idx") >= 1) & (pl.col("_idx") <= pl.col("n_in"))).then(at)
                               .alias("_at"))
    cands = cands.with_columns(ts_k=pl.Series(call_ts).gather(cands.get_column("_at")) if call_ts.len()
                               else pl.lit(None, pl.Int64))
    since = pl.col("ts") - pl.col("lookback_s")
    justified = (pl.col("last_wrong").is_not_null() & (pl.col("last_wrong") >= since)) | (
        (pl.col("streak_in") >= pl.col("min_failed")) & pl.col("ts_k").is_not_null() & (pl.col("ts_k") >= since))
    reaches_back = pl.lit(True) if incremental else (since < m_epoch)
    cands = cands.with_columns(justified.fill_null(False).alias("_ok"))
    decided = cands.filter(~pl.col("_ok") & ~reaches_back).get_column("cid")
    pending = cands.filter(~pl.col("_ok") & reaches_back).join(
        a.filter(cand).select("cid", "day", "agent_id", "bucket"), on="cid", how="left", maintain_order="left").select(
        pl.col("cid").alias("contact_id"), "case_id", "day", "agent_id", "bucket", "ts", "lookback_s", "min_failed",
        "n_in", "streak_in")
    # the month's tail: the last few debtor-number calls per case, and its last wrong number
    keep = int(rows.get_column("min_failed").max() or 0) + 1  # null when no third-party rule this month
    call_rows = rows.filter(is_call)
    # (the rows are in (case, time) order: a row is among its case's last `keep` when the row `keep` further on
    # belongs to another case; a group_by(case).tail would hash a million cases)
    wrong_rows = call_rows.filter(pl.col("wrong"))
    tail = pl.concat([
        call_rows.filter(pl.col("case_id").shift(-keep).ne_missing(pl.col("case_id"))).select(
            "case_id", "ts", "unanswered", pl.lit(False).alias("wrong")),
        wrong_rows.filter(pl.col("case_id").shift(-1).ne_missing(pl.col("case_id"))).select(
            "case_id", "ts", pl.lit(False).alias("unanswered"), pl.lit(True).alias("wrong")),
    ]).cast(C_TAIL)  # type: ignore[arg-type]
    return decided, pending, tail


def resolve(pending: pl.DataFrame, prior: pl.DataFrame) -> pl.DataFrame:
    """The pending third-party contacts that breach, given the calls to the debtor number before their month
    (`prior`: C_TAIL rows; wrong=True rows are wrong numbers, the others calls, newest last per case)."""
    if pending.height == 0:
        return pending
    p = pending.with_row_index("_row").with_columns((pl.col("min_failed") - pl.col("n_in")).alias("_need"))
    wrong = p.select("_row", "case_id", "ts", "lookback_s").join(
        prior.filter(pl.col("wrong")).select("case_id", pl.col("ts").alias("w_ts")), on="case_id", how="inner").filter(
        (pl.col("w_ts") < pl.col("ts")) & (pl.col("w_ts") >= pl.col("ts") - pl.col("lookback_s")))
    # for each pending contact whose in-month calls were all unanswered: the latest `_need` prior calls
    j = p.filter((pl.col("_need") > 0) & (pl.col("streak_in") == pl.col("n_in"))).select(
        "_row", "case_id", "_need", "ts", "lookback_s").join(
        prior.filter(~pl.col("wrong")).select("case_id", pl.col("ts").alias("c_ts"), "unanswered"), on="case_id",
        how="inner").filter(pl.col("c_ts") < pl.col("ts")).sort("_row", "c_ts", descending=[False, True]).with_columns(
        pl.int_range(1, pl.len() + 1).over("_row").alias("_back")).filter(pl.col("_back") <= pl.col("_need"))
    ok = j.group_by("_row").agg(((pl.len() == pl.col("_need").first()) & pl.col("unanswered").all()
                                 & (pl.col("c_ts").min() >= (pl.col("ts") - pl.col("lookback_s")).first()))
                                .alias("_streak_ok"))
    p = p.join(ok, on="_row", how="left")
    justified = pl.col("_row").is_in(wrong.get_column("_row").implode()) | pl.col("_streak_ok").fill_null(False)
    return p.filter(~justified.fill_null(False)).select(*C_PENDING)


#: pending cases per statement of history_from_source (an IN list the source answers by index seeks)
HISTORY_CASES = 500


def history_parts(ids: list[int], per: int | None = None) -> list[list[int]]:
    """The case ids of history_from_source's statements: at most `per` (HISTORY_CASES) each, and from half a
    statement's cases on an even number of equal size (read_many reads half of them on a second connection)."""
    per, n = per or HISTORY_CASES, len(ids)
    if not n:
        return []
    k = -(-n // per)
    k = min(n, k + k % 2 if n >= per // 2 else k)
    cuts = [i * n // k for i in range(k + 1)]  # sizes differ by at most one
    return [ids[a:b] for a, b in zip(cuts, cuts[1:])]


def history_from_source(ctx: SyncContext, pending: pl.DataFrame) -> pl.DataFrame:
    """Calls to the debtor number (and wrong numbers) before the pending contacts' month, from the source, by
    case over the (case_id, contacted_at) index: an incremental sync's history for the third-party check."""
    if pending.height == 0:
        return pl.DataFrame(schema=C_TAIL)
    c, cs = S.contacts.c, S.cases.c
    lo = dt.datetime.fromtimestamp(int(pending.get_column("ts").min() - pending.get_column("lookback_s").max()),
                                   dt.UTC).replace(tzinfo=None)
    ids = pending.get_column("case_id").unique().sort().to_list()
    select = sa.select(c.case_id, epoch_of(c.contacted_at).label("contacted_at"),
                       c.outcome.in_(UNANSWERED).label("unanswered"), (c.outcome == "wrong_number").label("wrong"))
    stmts = [select.where(c.case_id.in_(part), c.contacted_at >= lo, c.channel == "call",
                          c.phone_no == sa.select(cs.phone).where(cs.case_id == c.case_id).scalar_subquery())
             for part in history_parts(ids)]
    schema = {"case_id": pl.Int64, "contacted_at": pl.Datetime("us"), "unanswered": pl.Boolean, "wrong": pl.Boolean}
    h = concat(ctx.read_many(stmts, schema), schema)
    h = h.with_columns(pl.col("contacted_at").dt.epoch("s").alias("ts"))
    # pending contacts carry their in-month counts as zero in an incremental sync: the history is all of it
    return pl.concat([h.select("case_id", "ts", "unanswered", pl.lit(False).alias("wrong")),
                      h.filter(pl.col("wrong")).select("case_id", "ts", pl.lit(False).alias("unanswered"),
                                                       pl.lit(True).alias("wrong"))]).cast(C_TAIL)  # type: ignore[arg-type]


def finish(ctx: SyncContext, comp: Compliance, days: set[dt.date] | None) -> None:
    """Decide the pending third-party contacts, then write the compliance tables of the months judged."""
    months = sorted(comp.months)
    agent_parts, ordinal_parts = [], []
    ctx.writer.keep_parts("breach_contacts", day_keys(days))
    ctx.writer.put_parts("breach_contacts", pl.DataFrame(schema=C_BREACH))
    for m in months:
        mo = comp.months[m]
        pending = mo.pending
        if pending.height:
            if days is not None:  # incremental: the whole lookback from the source
                pending = pending.with_columns(pl.lit(0, pl.Int64).alias("n_in"),
                                               pl.lit(0, pl.Int64).alias("streak_in"))
                pending = resolve(pending, history_from_source(ctx, pending))
            elif m not in comp.decided:  # a full sync decided them as the months came in (Compliance.add)
                raise RuntimeError(f"compliance: {m} judged but not decided")
        breach = pl.read_ipc(mo.breach_file) if mo.breach_file is not None else pl.DataFrame(schema=C_BREACH)
        agent = mo.agent
        if pending.height:
            breach = pl.concat([breach, pending.select(
                "day", "contact_id", "case_id", "agent_id", "bucket", pl.lit("third_party").alias("check"),
                "rule_id")], how="vertical_relaxed")
            add = pending.group_by("day", "agent_id", "bucket").agg(
                pl.len().cast(pl.UInt32).alias("_tp"), (~pl.col("other_breach").fill_null(False)).sum()
                .cast(pl.UInt32).alias("_any"))
            agent = agent.join(add, on=["day", "agent_id", "bucket"], how="left", nulls_equal=True).with_columns(
                (pl.col("b_third_party") + pl.col("_tp").fill_null(0)).alias("b_third_party"),
                (pl.col("b_any") + pl.col("_any").fill_null(0)).alias("b_any")).drop("_tp", "_any")
        ctx.writer.put_parts("breach_contacts", breach.sort("day", "contact_id"), schema_file=False)
        if mo.breach_file is not None:
            mo.breach_file.unlink()
        agent_parts.append(agent)
        ordinal_parts.append(mo.ordinal)
    replace_days(ctx, "compliance_agent", concat(agent_parts, C_AGENT), days)
    replace_days(ctx, "attempt_ordinal_agent", concat(ordinal_parts, C_ORDINAL), days)
    skipped = concat([p.select("skipped") for p in agent_parts], {"skipped": pl.UInt32}).get_column("skipped").sum()
    comp.skipped = {"contacts": int(skipped or 0)}


def summary(comp: Compliance) -> dict:
    """The manifest's `compliance` object."""
    return {"pack": comp.pack.version, "files": list(comp.pack.files), "optional": sorted(comp.optional),
            "skipped": comp.skipped}


def complaint_columns(ctx: SyncContext, complaints: pl.DataFrame) -> pl.DataFrame:
    """Complaints (store rows) with the deadline in force on the day received, days to decision, whether it was
    decided late (or is open past the deadline at the data's as-of day) and whether a breaching contact on the
    same case came in the 30 days before receipt."""
    pack = ctx.pack
    out = complaints.drop("late", "decided_days", "deadline_days", "after_breach", strict=False)
    days = out.get_column("day").unique().to_list()
    deadlines = pl.DataFrame({"day": days, "deadline_days": [
        int((pack.params("complaint_deadline", d) or {"max_days": None})["max_days"])  # type: ignore[arg-type]
        if pack.params("complaint_deadline", d) else None for d in days]},
        schema={"day": pl.Date, "deadline_days": pl.Int32})
    as_of = None
    for kind in ("contacts", "payments"):
        f = ctx.writer.path / "base" / f"{kind}_days.parquet"
        if f.is_file():
            d = pl.read_parquet(f, columns=["day"]).get_column("day").max()
            as_of = d if as_of is None or (d is not None and d > as_of) else as_of
    decided = (pl.col("resolved_at").cast(pl.Date) - pl.col("day")).dt.total_days().cast(pl.Int32)
    open_for = (pl.lit(as_of, pl.Date) - pl.col("day")).dt.total_days().cast(pl.Int32)
    out = out.join(deadlines, on="day", how="left").with_columns(
        pl.when(pl.col("resolved_at").is_not_null()).then(decided).otherwise(None).alias("decided_days"))
    late = pl.when(pl.col("deadline_days").is_null()).then(False).when(pl.col("decided_days").is_not_null()).then(
        pl.col("decided_days") > pl.col("deadline_days")).otherwise(open_for > pl.col("deadline_days"))
    out = out.with_columns(late.fill_null(False).alias("late"))
    folder = ctx.writer.path / "breach_contacts"
    files = sorted(f for f in folder.glob("*.parquet") if f.name[0].isdigit()) if folder.is_dir() else []
    if files and out.height:
        lo = out.get_column("day").min() - dt.timedelta(days=30)
        files = [f for f in files if f.stem >= lo.isoformat()]
    if files and out.height:
        ids = out.get_column("case_id").unique().implode()
        b = pl.scan_parquet(files).filter(pl.col("case_id").is_in(ids)).select(
            "case_id", pl.col("day").alias("b_day")).unique().collect()
        hit = out.select("complaint_id", "case_id", "received_at").join(b, on="case_id", how="inner").filter(
            (pl.col("b_day") <= pl.col("received_at").cast(pl.Date))
            & (pl.col("b_day") >= pl.col("received_at").cast(pl.Date) - pl.duration(days=30))
        ).get_column("complaint_id").unique()
        out = out.with_columns(pl.col("complaint_id").is_in(hit.implode()).alias("after_breach"))
    else:
        out = out.with_columns(pl.lit(False).alias("after_breach"))
    return out
