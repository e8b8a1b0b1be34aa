"""Month-by-month simulation of a collection portfolio, vectorised over cases with numpy.

Each month every active case has an opening bucket and an agent (by stage: early M0–M1, mid M2–M3,
agency M4+). It draws one outcome for the month (cure, stay, roll, pay off, settle, legal,
write-off, recall) whose odds fall with the bucket and rise with the agent's skill; payments,
promises, contacts and complaints are then drawn to be consistent with that outcome and with the
agent's style. Completed months end with a balance snapshot of the cases still active.

The organisation and the per-case state (O(cases)) stay in memory; each month draws from its own random stream
and is turned into that month's rows (ids from running counters, so they rise with time across months) as
soon as it is done, so a database of any size streams out month by month (`stream`) and the in-memory
`simulate` is the same code collecting the months.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from queries.dates import month_start
from queries.demo.calendar import contact_weights, days_between, payment_weights
from queries.demo.compliance import Compliance
from queries.demo.fees import add_fees
from queries.demo.org import Organisation, build_organisation
from queries.demo.people import (
    PROVINCES,
    card_numbers,
    chinese_names,
    id_numbers,
    mobile_numbers,
)
from queries.source.contract import (
    CASE_STATUSES,
    COMPLAINT_CATEGORIES,
    CONTACT_CHANNELS,
    CONTACT_OUTCOMES,
)

CURE, STAY, ROLL, PAIDOFF, SETTLE, LEGAL, WRITEOFF, RECALL = range(8)
CLOSING = np.array([PAIDOFF, SETTLE, LEGAL, WRITEOFF, RECALL])
GOOD = [CURE, STAY, PAIDOFF, SETTLE]
# Per opening bucket M0..M7+: odds of CURE STAY ROLL PAIDOFF SETTLE LEGAL WRITEOFF RECALL.
# ROLL is the remainder; for M0 it is a re-default, for M7+ staying in M7+. RECALL from M0 means
# the cured account went back to normal servicing.
BASE_ODDS = np.array([
    [0.00, 0.55, 0, 0.04, 0.000, 0.000, 0.00, 0.20],
    [0.50, 0.12, 0, 0.07, 0.000, 0.000, 0.00, 0.01],
    [0.20, 0.12, 0, 0.04, 0.020, 0.005, 0.00, 0.01],
    [0.08, 0.08, 0, 0.02, 0.040, 0.010, 0.00, 0.01],
    [0.04, 0.07, 0, 0.01, 0.060, 0.020, 0.00, 0.02],
    [0.03, 0.06, 0, 0.01, 0.070, 0.030, 0.00, 0.02],
    [0.02, 0.05, 0, 0.01, 0.070, 0.030, 0.00, 0.02],
    [0.01, 0.12, 0, 0.005, 0.060, 0.050, 0.30, 0.02],
])
STATUS_OF = {PAIDOFF: 1, SETTLE: 2, LEGAL: 3, WRITEOFF: 4, RECALL: 5}
BUCKET_UPPER = np.array([0, 30, 60, 90, 120, 150, 180])
PRODUCTS = (("普卡", 30, 0.6), ("金卡", 30, 1.0), ("白金卡", 10, 2.4), ("现金分期", 15, 1.5), ("联名卡", 15, 0.8))
PAY_METHODS = (("bank_transfer", 22), ("app", 30), ("wechat_pay", 18), ("alipay", 14), ("counter", 4),
               ("auto_debit", 12))
SOURCES_W = {"hotline": 40, "regulator_12378": 15, "online": 15, "branch": 12, "social_media": 8, "letter": 10}
ATTEMPT_BUCKET_FACTOR = np.array([0.35, 1.0, 1.2, 1.3, 1.1, 1.1, 1.0, 0.7])
RPC_BUCKET_FACTOR = np.array([1.1, 1.0, 0.9, 0.8, 0.65, 0.6, 0.55, 0.5])
CALL_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0, 3, 9, 10, 9, 5, 6, 9, 9, 8, 6, 5, 7, 7, 4, 0, 0], float)
AFTER_HOURS = np.array([22, 23, 7, 6, 0, 1, 5])
AFTER_HOURS_W = np.array([6, 3, 4, 1, 1, 2, 0.5])
CONTACT_BLOCK = 250_000  # cases per block of contact draws
PAY_HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 4, 6, 7, 7, 6, 5, 5, 5, 5, 5, 6, 7, 8, 8, 6, 3], float)


@dataclass(frozen=True)
class Scale:
    """How big a demo centre to generate."""

    name: str
    cases: int
    teams: int
    agency_teams: int
    agents: int
    months: int = 13
    attempts_per_case_month: float = 4.4
    messages_per_case_month: float = 1.1


@dataclass
class Portfolio:
    """All generated tables as Polars frames, in contract column order."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def _weighted(rng: np.random.Generator, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _bucket(dpd: np.ndarray) -> np.ndarray:
    return np.searchsorted(BUCKET_UPPER, dpd, side="left")


def _stage(bucket: np.ndarray) -> np.ndarray:
    return np.select([bucket <= 1, bucket <= 3], [0, 1], 2)


def _sample_days(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Day indexes in [lo, hi] drawn with the weights whose running sum is `cum`."""
    lower = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    upper = cum[hi]
    idx = np.searchsorted(cum, lower + rng.random(len(lo)) * (upper - lower), side="right")
    return np.clip(idx, lo, hi)


def _round_money(cents: np.ndarray) -> np.ndarray:
    """Round a debtor's partial payment as people do: to ¥100 above ¥1,000, else to ¥10."""
    big = cents >= 100_000
    return np.where(big, np.round(cents / 10_000) * 10_000, np.round(cents / 1_000) * 1_000).astype(np.int64)


def _times(rng: np.random.Generator, day: np.ndarray, hours: np.ndarray) -> np.ndarray:
    secs = hours * 3600 + rng.integers(0, 3600, len(day))
    return day.astype("datetime64[s]") + secs.astype("timedelta64[s]")


class _Sim:
    def __init__(self, scale: Scale, seed: int, as_of: dt.date) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # organisation, placement, then the case and target tables
        self.month_rng = self.rng  # each month's own stream, set by _month
        self.scale, self.as_of = scale, as_of
        self.as_of_end = np.datetime64(as_of) + np.timedelta64(86399, "s")
        first = month_start(as_of, -(scale.months - 1))
        self.months = [month_start(first, i) for i in range(scale.months)]
        self.org: Organisation = build_organisation(
            self.rng, scale.teams, scale.agency_teams, scale.agents, self.months)
        self.events: dict[str, list[dict[str, np.ndarray]]] = {
            k: [] for k in ("payments", "promises", "contacts", "complaints", "snapshots")}
        self.next_id = {"payments": 1, "promises": 1, "contacts": 1}
        self.last_seen = np.full(scale.cases, np.datetime64("NaT"), dtype="datetime64[s]")
        self.team_paid = np.zeros((scale.teams, scale.months), dtype=np.int64)

    # ---------------------------------------------------------------- cases
    def place_cases(self) -> None:
        rng, n, m_count = self.rng, self.scale.cases, self.scale.months
        stock = rng.random(n) < 0.22
        growth = 1 + 0.03 * np.arange(m_count)
        elapsed = (self.as_of.day) / (month_start(self.as_of, 1) - month_start(self.as_of)).days
        growth[-1] *= elapsed
        placed_month = np.where(stock, -rng.integers(1, 7, n), _weighted(rng, growth, n))
        uniq, inv = np.unique(placed_month, return_inverse=True)
        starts = np.array([np.datetime64(month_start(self.months[0], int(m))) for m in uniq])[inv]
        lengths = np.array([(month_start(self.months[0], int(m) + 1) - month_start(self.months[0], int(m))).days
                            for m in uniq])[inv]
        lengths = np.where(placed_month == m_count - 1, self.as_of.day, lengths)
        self.placed_day = starts + rng.integers(0, lengths).astype("timedelta64[D]")
        self.placed_month = placed_month

        # Placement bucket: in-house gets early delinquency, agencies late; the stock is spread out.
        new_b = _weighted(rng, [0, 65, 15, 8, 5, 3, 2, 2], n)
        stock_b = _weighted(rng, [4, 34, 18, 13, 10, 8, 7, 6], n)
        place_b = np.where(stock, np.maximum(new_b, 1), new_b)
        lo = np.concatenate([[0], BUCKET_UPPER + 1])[place_b]
        hi = np.concatenate([BUCKET_UPPER, [360]])[place_b]
        lo = np.where(place_b == 1, 3, lo)
        self.placed_dpd = rng.integers(lo, hi + 1)
        prod = _weighted(rng, [p[1] for p in PRODUCTS], n)
        mult = np.array([p[2] for p in PRODUCTS])[prod] * (1 + 0.15 * place_b)
        bal = np.exp(rng.normal(np.log(11_000), 0.85, n)) * mult
        self.placed_bal = (np.clip(bal, 300, 600_000) * 100).round().astype(np.int64)
        self.product = np.array([p[0] for p in PRODUCTS])[prod]
        prov = _weighted(rng, [p[3] for p in PROVINCES], n)
        self.province = prov

        # State as of the month-end before the first month (the stock only).
        sb_lo = np.concatenate([[0], BUCKET_UPPER + 1])[stock_b]
        sb_hi = np.concatenate([BUCKET_UPPER, [360]])[stock_b]
        self.dpd = np.where(stock, rng.integers(sb_lo, sb_hi + 1), self.placed_dpd)
        self.bal = np.where(stock, (self.placed_bal * rng.uniform(0.8, 1.05, n)).astype(np.int64), self.placed_bal)
        self.status = np.where(stock, 0, -1).astype(np.int8)  # -1: not placed yet
        self.closed_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
        stages = self.org.seat_stage
        self.seat = np.stack([rng.choice(np.flatnonzero(stages == s), size=n) for s in range(3)])
        self.agent_now = np.full(n, -1, dtype=np.int64)
        self.case_phone = mobile_numbers(rng, n)
        self.relative_phone = mobile_numbers(rng, n)
        snap0 = np.datetime64(self.months[0]) - 1
        act = np.flatnonzero(stock)
        b0 = _bucket(self.dpd[act])
        agent0 = self.org.seat_agent[self.seat[_stage(b0), act], 0]
        self.events["snapshots"].append({
            "snapshot_on": np.full(len(act), snap0), "case_id": act + 1, "dpd": self.dpd[act],
            "balance": self.bal[act], "agent": agent0})

    # ---------------------------------------------------------------- months
    def _month(self, m: int) -> None:
        rng = self.month_rng = np.random.default_rng([self.seed, 1, m])
        org = self.org
        ms = self.months[m]
        me = month_start(ms, 1) - dt.timedelta(days=1)
        current = m == self.scale.months - 1
        days = days_between(ms, me)
        n_days = len(days)
        d0 = np.datetime64(ms)

        w = np.flatnonzero(((self.status == 0) & (self.placed_month < m)) | (self.placed_month == m))
        new = self.placed_month[w] == m
        open_dpd = np.where(new, self.placed_dpd[w], self.dpd[w])
        open_bal = np.where(new, self.placed_bal[w], self.bal[w])
        win_lo = np.where(new, (self.placed_day[w] - d0).astype(np.int64), 0)
        frac = (n_days - win_lo) / n_days
        b = _bucket(open_dpd)
        agent = org.seat_agent[self.seat[_stage(b), w], m]
        skill = org.agent_skill[agent]
        nw = len(w)

        # Outcome of the month.
        odds = BASE_ODDS[b].copy()
        odds[:, GOOD] *= (skill * np.where(new, 0.4 + 0.6 * frac, 1.0))[:, None]
        good_sum = odds.sum(axis=1)
        scale_down = np.where(good_sum > 0.97, 0.97 / np.maximum(good_sum, 1e-9), 1.0)
        odds *= scale_down[:, None]
        odds[:, ROLL] = 1 - odds.sum(axis=1)
        outcome = (rng.random(nw)[:, None] > np.cumsum(odds, axis=1)).sum(axis=1)
        outcome = np.minimum(outcome, RECALL)

        # Payments: amount for the month, split into 1–3 instalments.
        k = np.maximum(b, 1)
        amount = np.select(
            [outcome == CURE, outcome == STAY, outcome == PAIDOFF, outcome == SETTLE,
             (outcome == ROLL) & (rng.random(nw) < 0.3), (outcome == WRITEOFF) & (rng.random(nw) < 0.05)],
            [open_bal * np.minimum(1.0, 0.1 * k * rng.uniform(0.9, 1.25, nw)),
             _round_money(open_bal * rng.uniform(0.05, 0.1, nw)),
             open_bal,
             _round_money(open_bal * rng.uniform(0.35, 0.75, nw)),
             _round_money(open_bal * rng.uniform(0.01, 0.03, nw)),
             _round_money(open_bal * rng.uniform(0.01, 0.05, nw))],
            0,
        )
        amount = np.minimum(np.maximum(np.round(amount), 0), open_bal).astype(np.int64)
        amount = np.where((amount > 0) & (amount < 5_000), np.minimum(5_000, open_bal), amount)
        n_pay = np.where(amount > 0, 1, 0)
        multi = (outcome == CURE) | (outcome == PAIDOFF) | (outcome == SETTLE)
        n_pay = np.where(multi & (amount > 20_000), _weighted(rng, [40, 35, 25], nw) + 1, n_pay)
        pay_case = np.repeat(np.arange(nw), n_pay)
        share = rng.uniform(0.3, 1.0, len(pay_case))
        share_tot = np.bincount(pay_case, weights=share, minlength=nw)
        part = np.floor(amount[pay_case] * share / share_tot[pay_case]).astype(np.int64)
        last_of_case = np.r_[pay_case[1:] != pay_case[:-1], True] if len(pay_case) else np.array([], bool)
        paid_parts = np.bincount(pay_case, weights=part, minlength=nw).astype(np.int64)
        part[last_of_case] += (amount - paid_parts)[pay_case[last_of_case]]
        pw_cum = np.cumsum(payment_weights(days))
        pay_day = _sample_days(rng, pw_cum, win_lo[pay_case], np.full(len(pay_case), n_days - 1))
        pay_time = _times(rng, days[pay_day], _weighted(rng, PAY_HOURS, len(pay_case)))
        last_pay = np.full(nw, np.datetime64("NaT"), dtype="datetime64[s]")
        first_pay = np.full(nw, np.datetime64("NaT"), dtype="datetime64[s]")
        if len(pay_case):
            order = np.lexsort((pay_time, pay_case))
            pc, pt = pay_case[order], pay_time[order]
            starts = np.r_[True, pc[1:] != pc[:-1]]
            ends = np.r_[pc[1:] != pc[:-1], True]
            first_pay[pc[starts]] = pt[starts]
            last_pay[pc[ends]] = pt[ends]

        # When the outcome takes effect: the last payment, or a day in the month for silent closures.
        silent_day = _sample_days(rng, np.cumsum(np.ones(n_days)), win_lo, np.full(nw, n_days - 1))
        silent_time = _times(rng, days[silent_day], np.full(nw, 17))
        effect = np.where(np.isnat(last_pay), silent_time, last_pay)
        closing = np.isin(outcome, CLOSING)
        win_hi = np.where(closing, (effect.astype("datetime64[D]") - d0).astype(np.int64), n_days - 1)
        win_hi = np.maximum(win_hi, win_lo)

        self._promises(m, w, agent, b, outcome, amount, open_bal, first_pay, last_pay, win_lo, days)
        # contacts are drawn a block of cases at a time (one stream, in order): their temporaries are the bulk of
        # a month's memory
        blocks = [slice(i, i + CONTACT_BLOCK) for i in range(0, max(nw, 1), CONTACT_BLOCK)]
        drawn = [self._contacts(m, w[s], agent[s], b[s], frac[s], win_lo[s], win_hi[s], days) for s in blocks]
        ah_nc, tp_count, burst = (np.concatenate(x) for x in zip(*drawn, strict=True))
        self._complaints(w, agent, ah_nc, tp_count, burst, win_lo, win_hi, days)

        keep = pay_time <= self.as_of_end
        methods = _weighted(rng, [p[1] for p in PAY_METHODS], len(pay_case))
        self.events["payments"].append({
            "case_id": w[pay_case][keep] + 1, "agent": agent[pay_case][keep], "paid_at": pay_time[keep],
            "amount": part[keep], "method": methods[keep]})
        np.add.at(self.team_paid[:, m], org.agent_team[agent[pay_case][keep]], part[keep])

        # State at month end (or, in the current month, as of today).
        in_effect = (effect <= self.as_of_end) if current else np.ones(nw, bool)
        paid_so_far = np.bincount(pay_case[keep], weights=part[keep], minlength=nw).astype(np.int64)
        elapsed = (min(me, self.as_of) - ms).days + 1 - win_lo
        rolled_dpd = np.where(b == 0, rng.integers(1, 29, nw), open_dpd + elapsed)
        new_dpd = np.select([outcome == CURE, outcome == STAY, outcome == ROLL],
                            [0, open_dpd, rolled_dpd], open_dpd + elapsed)
        interest = np.where((outcome == ROLL) & (b >= 1) & (b <= 6), 0.015, 0.0)
        new_bal = np.round((open_bal - paid_so_far) * (1 + (0.0 if current else 1.0) * interest)).astype(np.int64)
        new_status = np.zeros(nw, dtype=np.int8)
        for out, st in STATUS_OF.items():
            new_status[(outcome == out) & in_effect] = st
        new_bal = np.where(np.isin(new_status, [1, 2]), 0, new_bal)
        if current:
            not_yet = ~in_effect & (outcome != ROLL)
            new_dpd = np.where(not_yet | (outcome == ROLL), open_dpd + elapsed, new_dpd)
            new_dpd = np.where((outcome == CURE) & in_effect, 0, new_dpd)
            new_dpd = np.where((outcome == STAY) & in_effect, open_dpd, new_dpd)
        self.dpd[w], self.bal[w], self.status[w] = new_dpd, new_bal, new_status
        self.agent_now[w] = agent
        closed = new_status > 0
        self.closed_at[w[closed]] = effect[closed]
        held = ~closed & (not current)  # the current month has no month-end snapshot yet
        act = w[held]
        self.events["snapshots"].append({
            "snapshot_on": np.full(len(act), np.datetime64(me)), "case_id": act + 1,
            "dpd": self.dpd[act], "balance": self.bal[act], "agent": agent[held]})

    def _promises(self, m, w, agent, b, outcome, amount, open_bal, first_pay, last_pay, win_lo, days) -> None:
        rng, nw, d0 = self.month_rng, len(w), days[0]
        paying = (amount > 0) & np.isin(outcome, GOOD)
        made_paying = paying & (rng.random(nw) < 0.62)
        busy = self.org.agent_busy[agent]
        p_broken = np.where(busy, 0.55, 0.18) * np.where(b == 0, 0.2, 1.0)
        made_broken = ~paying & (rng.random(nw) < p_broken)
        idx = np.flatnonzero(made_paying | made_broken)
        pay = made_paying[idx]
        # The promise is made on a call in working hours, zero to five days before the first payment.
        lo_day = (d0 + win_lo[idx])
        pay_day = first_pay[idx].astype("datetime64[D]")
        p_day = np.maximum(pay_day - rng.integers(0, 6, len(idx)), lo_day)
        promised_pay = _times(rng, p_day, _weighted(rng, CALL_HOURS, len(idx)))
        earlier = np.maximum(p_day - 1, lo_day)
        promised_pay = np.where(promised_pay >= first_pay[idx],
                                _times(rng, earlier, _weighted(rng, CALL_HOURS, len(idx))), promised_pay)
        # Still not before the payment (paid in the first hour of placement): no promise; dropped below.
        promised_pay = np.where(promised_pay >= first_pay[idx], np.datetime64("NaT"), promised_pay)
        rand_day = _sample_days(rng, np.cumsum(contact_weights(days)), win_lo[idx],
                                np.full(len(idx), len(days) - 1))
        promised_broken = _times(rng, days[rand_day], _weighted(rng, CALL_HOURS, len(idx)))
        promised_at = np.where(pay, promised_pay, promised_broken)
        partial = pay & (rng.random(len(idx)) < 0.22)
        due = np.where(pay, last_pay[idx].astype("datetime64[D]") + rng.integers(0, 4, len(idx)),
                       promised_at.astype("datetime64[D]") + rng.integers(2, 8, len(idx)))
        base_amt = np.where(pay, amount[idx], open_bal[idx] * 0.1 * np.maximum(b[idx], 1))
        factor = np.where(partial, rng.uniform(1.3, 2.0, len(idx)), np.where(pay, rng.uniform(0.8, 1.0, len(idx)), 1))
        promised_amt = np.maximum(_round_money(base_amt * factor), 10_000)
        promised_amt = np.where(pay & ~partial, np.minimum(promised_amt, amount[idx]), promised_amt)
        status = np.where(pay, np.where(partial, 2, 1), 3)  # 1 kept, 2 partial, 3 broken, 0 pending
        today = np.datetime64(self.as_of)
        unresolved = (due >= today) & ((status == 3) | (last_pay[idx] > self.as_of_end))
        status = np.where(unresolved, 0, status)
        updated = np.select([status == 0, status == 3],
                            [promised_at, (due + 1).astype("datetime64[s]") + np.timedelta64(2 * 3600, "s")],
                            last_pay[idx])
        keep = ~np.isnat(promised_at) & (promised_at <= self.as_of_end) & (promised_at >= lo_day.astype("datetime64[s]"))
        self.events["promises"].append({
            "case_id": w[idx][keep] + 1, "agent": agent[idx][keep], "promised_at": promised_at[keep],
            "due_on": due[keep], "amount": promised_amt[keep], "status": status[keep], "updated_at": updated[keep]})

    def _contacts(self, m, w, agent, b, frac, win_lo, win_hi, days):
        rng, org, nw, sc = self.month_rng, self.org, len(w), self.scale
        aggr = org.agent_aggressive[agent]
        lam = sc.attempts_per_case_month * org.agent_effort[agent] * ATTEMPT_BUCKET_FACTOR[b] * frac
        n_att = rng.poisson(lam)
        n_msg = rng.poisson(sc.messages_per_case_month * frac)
        burst = (n_att > 0) & (rng.random(nw) < np.where(aggr, 0.12, 0.003))
        n_burst = np.where(burst, rng.integers(7, 10, nw), 0)
        cw_cum = np.cumsum(contact_weights(days))

        # Regular attempts and messages.
        ci = np.repeat(np.arange(nw), n_att + n_msg)
        is_msg = _msg_flags(n_att, n_msg)
        n = len(ci)
        day = _sample_days(rng, cw_cum, win_lo[ci], win_hi[ci])
        after = ~is_msg & (rng.random(n) < np.where(aggr[ci], 0.07, 0.004))
        hours = np.where(after, AFTER_HOURS[_weighted(rng, AFTER_HOURS_W, n)], _weighted(rng, CALL_HOURS, n))
        when = _times(rng, days[day], hours)
        agency = b[ci] >= 4
        channel = np.where(is_msg, _weighted(rng, [0, 80, 10, 10, 0], n),
                           np.where(rng.random(n) < np.where(agency, 0.08, 0.02), 4, 0))
        skill = org.agent_skill[agent][ci]
        p_tp = np.where(aggr[ci], 0.14, 0.05)
        p_wrong = 0.03 + 0.008 * b[ci]
        p_rpc = 0.30 * RPC_BUCKET_FACTOR[b[ci]] * np.sqrt(skill) * np.where(channel == 4, 1.6, 1.0)
        p_busy = np.full(n, 0.07)
        u = rng.random(n)
        # Order of the draw: rpc group, third party, wrong number, busy, no answer.
        c1 = p_rpc
        c2 = c1 + p_tp
        c3 = c2 + p_wrong
        c4 = c3 + p_busy
        kind = np.select([u < c1, u < c2, u < c3, u < c4], [0, 1, 2, 3], 4)
        rpc_outcome = np.array([4, 6, 7, 8, 9])[_weighted(rng, [30, 25, 6, 12, 27], n)]
        outcome = np.select([kind == 0, kind == 1, kind == 2, kind == 3], [rpc_outcome, 3, 2, 1], 0)
        outcome = np.where(is_msg, 0, outcome)
        party = np.select([is_msg, kind == 0, kind == 1], [2, 0, 1], 2)
        duration = np.select(
            [is_msg, kind == 0, kind == 1, kind == 2],
            [0, np.clip(rng.lognormal(np.log(150), 0.6, n), 20, 1800), rng.integers(30, 180, n),
             rng.integers(8, 40, n)], 0).astype(np.int64)
        duration = np.where(channel == 4, rng.integers(600, 2400, n), duration)
        consent = after & (rng.random(n) < np.where(aggr[ci], 0.03, 0.3))

        # Bursts: an aggressive agent redialling the same number on one day.
        bi = np.repeat(np.flatnonzero(burst), n_burst[burst])
        b_day = np.repeat(_sample_days(rng, cw_cum, win_lo[burst], win_hi[burst]), n_burst[burst])
        b_start = np.repeat(rng.integers(9, 18, burst.sum()) * 3600, n_burst[burst])
        b_time = days[b_day].astype("datetime64[s]") + (b_start + rng.integers(0, 3 * 3600, len(bi))).astype(
            "timedelta64[s]")
        nb = len(bi)

        case_idx = np.concatenate([ci, bi])
        tp_or_phone = np.concatenate([np.where(party == 1, 1, np.where(np.isin(channel, [0, 1]), 0, 2)),
                                      np.zeros(nb, np.int64)])
        contacted_at = np.concatenate([when, b_time])
        keep = contacted_at <= self.as_of_end
        # Narrow types: at bank scale this is the largest table by far.
        self.events["contacts"].append({
            "case_id": (w[case_idx][keep] + 1).astype(np.int32),
            "agent": agent[case_idx][keep].astype(np.int32),
            "contacted_at": contacted_at[keep],
            "channel": np.concatenate([channel, np.zeros(nb, np.int64)])[keep].astype(np.int8),
            "party": np.concatenate([party, np.full(nb, 2)])[keep].astype(np.int8),
            "outcome": np.concatenate([outcome, np.zeros(nb, np.int64)])[keep].astype(np.int8),
            "duration_s": np.concatenate([duration, np.zeros(nb, np.int64)])[keep].astype(np.int32),
            "phone_kind": tp_or_phone[keep].astype(np.int8),
            "consent": np.concatenate([consent, np.zeros(nb, bool)])[keep],
        })
        kept = keep[:n]
        ah_nc = np.bincount(ci, weights=(after & ~consent & ~is_msg & kept), minlength=nw)
        tp_count = np.bincount(ci, weights=(party == 1) & kept, minlength=nw)
        burst = burst & (np.bincount(bi, weights=keep[n:], minlength=nw) > 0)
        return ah_nc, tp_count, burst

    def _complaints(self, w, agent, ah_nc, tp_count, burst, win_lo, win_hi, days) -> None:
        rng, nw = self.month_rng, len(w)
        parts = np.stack([np.full(nw, 0.0002), 0.0016 * np.minimum(ah_nc, 3), 0.0008 * np.minimum(tp_count, 3),
                          0.01 * burst], axis=1)
        p = parts.sum(axis=1)
        hit = np.flatnonzero(rng.random(nw) < p)
        cause = (rng.random(len(hit))[:, None] * p[hit][:, None] > np.cumsum(parts[hit], axis=1)).sum(axis=1)
        cats = list(COMPLAINT_CATEGORIES)
        by_cause = [
            ([cats.index(c) for c in ("fee_dispute", "misinformation", "abusive_language", "privacy", "other")],
             [35, 15, 15, 10, 25]),
            ([cats.index("after_hours_contact"), cats.index("harassment")], [70, 30]),
            ([cats.index("third_party_disclosure"), cats.index("privacy")], [80, 20]),
            ([cats.index("excessive_contact"), cats.index("harassment")], [60, 40]),
        ]
        category = np.zeros(len(hit), np.int64)
        for c, (choices, weights) in enumerate(by_cause):
            sel = cause == c
            category[sel] = np.array(choices)[_weighted(rng, weights, sel.sum())]
        conduct = cause > 0
        day = _sample_days(rng, np.cumsum(np.ones(len(days))), win_lo[hit], win_hi[hit])
        received = _times(rng, days[day] + rng.integers(0, 6, len(hit)), _weighted(rng, CALL_HOURS, len(hit)))
        srcs = list(SOURCES_W)
        source = _weighted(rng, list(SOURCES_W.values()), len(hit))
        severity = np.where(conduct, _weighted(rng, [20, 45, 35], len(hit)), _weighted(rng, [50, 40, 10], len(hit)))
        severity = np.where(source == srcs.index("regulator_12378"), np.maximum(severity, 1), severity)
        med = np.where(source == srcs.index("regulator_12378"), 14, 7) * 86400
        escalated = np.where(rng.random(len(hit)) < 0.1, 4.0, 1.0)  # disputed cases drag on
        took = np.clip(rng.lognormal(np.log(med), 0.8) * escalated, 3600, 150 * 86400).astype("timedelta64[s]")
        resolved_at = received + took
        is_open = resolved_at > self.as_of_end
        subst = rng.random(len(hit)) < np.where(conduct, 0.7, 0.25)
        keep = received <= self.as_of_end
        self.events["complaints"].append({
            "case_id": w[hit][keep] + 1, "agent": agent[hit][keep], "received_at": received[keep],
            "source": source[keep], "category": category[keep], "severity": severity[keep],
            "open": is_open[keep], "resolved_at": resolved_at[keep], "substantiated": subst[keep]})


def _msg_flags(n_att: np.ndarray, n_msg: np.ndarray) -> np.ndarray:
    """Per expanded row: False for the case's attempts, True for its messages (attempts come first)."""
    tot = n_att + n_msg
    pos = np.arange(tot.sum()) - np.repeat(np.cumsum(tot) - tot, tot)
    return pos >= np.repeat(n_att, tot)


def _in_time_order(chunks: list[dict[str, np.ndarray]], when: str, agent_ids: np.ndarray,
                   first_id: int = 1) -> dict[str, np.ndarray]:
    """Event chunks joined and sorted by time, then case: ids follow that order from `first_id`."""
    ev = _concat(chunks)
    order = np.lexsort((ev["case_id"], ev[when]))
    out = {k: ev.pop(k)[order] for k in list(ev)}
    out["id"] = np.arange(first_id, first_id + len(order), dtype=np.int64)
    out["case_id"] = out["case_id"].astype(np.int64)
    out["agent_id"] = agent_ids[out.pop("agent")]
    return out


def _cat(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> pl.Series:
    """Integer codes as an Enum column: one byte-sized code per row instead of a string."""
    labels = list(labels)
    return pl.Series(codes).replace_strict(dict(enumerate(labels)), return_dtype=pl.Enum(labels))


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join the monthly chunks column by column, freeing each chunk's column as it goes."""
    out = {}
    for k in list(chunks[0]):
        out[k] = np.concatenate([c.pop(k) for c in chunks])
    chunks.clear()
    # Polars takes datetimes at day or sub-second resolution only.
    return {k: v.astype("datetime64[us]") if v.dtype == np.dtype("datetime64[s]") else v for k, v in out.items()}


Emit = tuple[str, pl.DataFrame]
MONTH_TABLES = ("payments", "promises", "contacts", "balance_snapshots")


def stream(scale: Scale, seed: int, as_of: dt.date, progress: Callable[[str], None] | None = None
           ) -> Iterator[Emit]:
    """Simulate month by month, yielding (table, rows) parts as soon as they are drawn: each table's parts come in
    id (and time) order; memory holds the per-case state and one month's events, not the history."""
    say = progress or (lambda _msg: None)
    sim = _Sim(scale, seed, as_of)
    sim.place_cases()
    comp = Compliance(sim)
    yield "balance_snapshots", _snapshots(sim)
    for m in range(scale.months):
        t0 = time.perf_counter()
        sim._month(m)
        tables = _month_tables(sim, comp, m)
        yield from ((name, tables[name]) for name in MONTH_TABLES)
        say(f"month {sim.months[m]:%Y-%m}: {tables['contacts'].height:,} contacts, "
            f"{tables['payments'].height:,} payments in {time.perf_counter() - t0:.1f} s")
    yield from _final_tables(sim, comp).items()


def simulate(scale: Scale, seed: int, as_of: dt.date) -> Portfolio:
    """Run the whole simulation in memory: `stream`'s parts collected into one frame per table."""
    parts: dict[str, list[pl.DataFrame]] = {}
    for name, df in stream(scale, seed, as_of):
        parts.setdefault(name, []).append(df)
    return Portfolio({name: pl.concat(dfs) if len(dfs) > 1 else dfs[0] for name, dfs in parts.items()})


def _snapshots(sim: _Sim) -> pl.DataFrame:
    """The balance snapshots drawn since the last call (one month end: already in case order)."""
    snaps = _concat(sim.events["snapshots"])
    return pl.DataFrame({
        "snapshot_on": snaps["snapshot_on"].astype("datetime64[D]"),
        "case_id": snaps["case_id"].astype(np.int64),
        "dpd": snaps["dpd"].astype(np.int32),
        "balance_cents": snaps["balance"].astype(np.int64),
        "agent_id": sim.org.agent_ids[snaps["agent"]],
    }).sort("snapshot_on", "case_id")


def _take_ids(sim: _Sim, table: str, chunks: list[dict[str, np.ndarray]], when: str) -> dict[str, np.ndarray]:
    ev = _in_time_order(chunks, when, sim.org.agent_ids, sim.next_id[table])
    sim.next_id[table] += len(ev["id"])
    return ev


def _seen(sim: _Sim, df: pl.DataFrame, col: str) -> None:
    """Keep each case's last event time (the cases table's updated_at) without keeping the events."""
    t = df.group_by("case_id").agg(pl.col(col).max())
    idx = t["case_id"].to_numpy() - 1
    sim.last_seen[idx] = np.fmax(sim.last_seen[idx], t[col].to_numpy().astype("datetime64[s]"))


def _month_tables(sim: _Sim, comp: Compliance, m: int) -> dict[str, pl.DataFrame]:
    """The month just drawn as rows of the month tables; its events are dropped (complaints are kept: a few
    are received after the month ends, so they get their ids at the end)."""
    pay = _take_ids(sim, "payments", sim.events["payments"], "paid_at")
    payments = pl.DataFrame({
        "payment_id": pay["id"], "case_id": pay["case_id"], "agent_id": pay["agent_id"],
        "paid_at": pay["paid_at"], "amount_cents": pay["amount"],
        "method": _cat(pay["method"], [p[0] for p in PAY_METHODS]),
    })
    pro = _take_ids(sim, "promises", sim.events["promises"], "promised_at")
    promises = pl.DataFrame({
        "promise_id": pro["id"], "case_id": pro["case_id"], "agent_id": pro["agent_id"],
        "promised_at": pro["promised_at"], "due_on": pro["due_on"],
        "amount_cents": pro["amount"].astype(np.int64),
        "status": _cat(pro["status"], ("pending", "kept", "partial", "broken")),
        "updated_at": pro["updated_at"],
    })
    con = _in_time_order(sim.events["contacts"], "contacted_at", sim.org.agent_ids)
    # the largest table: no reference kept to the frames on the way (comp.month frees its input)
    contacts = comp.month(m, _contacts_frame(sim, con, promises), sim.next_id["contacts"])
    del con
    sim.next_id["contacts"] += contacts.height
    for df, col in ((payments, "paid_at"), (contacts, "contacted_at"), (promises, "updated_at")):
        _seen(sim, df, col)
    return {"payments": payments, "promises": promises, "contacts": contacts, "balance_snapshots": _snapshots(sim)}


def _contacts_frame(sim: _Sim, con: dict[str, np.ndarray], promises: pl.DataFrame) -> pl.DataFrame:
    """The month's contacts plus the PTP call behind every promise (not yet in time order, no ids)."""
    case0 = con["case_id"] - 1
    phone = pl.select(
        pl.when(pl.lit(pl.Series(con["phone_kind"] == 0))).then(pl.lit(sim.case_phone.gather(case0)))
        .when(pl.lit(pl.Series(con["phone_kind"] == 1))).then(pl.lit(sim.relative_phone.gather(case0)))
        .otherwise(None)).to_series()
    contacts = pl.DataFrame({
        "case_id": con["case_id"], "agent_id": con["agent_id"],
        "contacted_at": con["contacted_at"],
        "channel": _cat(con["channel"], CONTACT_CHANNELS),
        "party": _cat(con["party"], ("debtor", "third_party", "none")),
        "outcome": _cat(con["outcome"], CONTACT_OUTCOMES),
        "duration_s": con["duration_s"],
        "phone_no": phone,
        "debtor_consent_after_hours": con["consent"],
    })
    ctypes = contacts.schema
    ptp = promises.select(
        "case_id", "agent_id", pl.col("promised_at").alias("contacted_at"),
        pl.lit("call", ctypes["channel"]).alias("channel"), pl.lit("debtor", ctypes["party"]).alias("party"),
        pl.lit("ptp", ctypes["outcome"]).alias("outcome"),
        pl.Series("duration_s", sim.month_rng.integers(180, 900, promises.height), dtype=pl.Int32),
        sim.case_phone.gather(promises["case_id"].to_numpy() - 1).alias("phone_no"),
        pl.lit(False).alias("debtor_consent_after_hours"))
    return pl.concat([contacts, ptp])


def _final_tables(sim: _Sim, comp: Compliance) -> dict[str, pl.DataFrame]:
    """The tables known only once every month is drawn (cases, targets, complaints, plans) and the small ones."""
    org = sim.org
    out = Portfolio()
    out.tables["teams"] = comp.teams(org.teams)
    out.tables["agents"] = org.agents
    com = _in_time_order(sim.events["complaints"], "received_at", org.agent_ids)
    is_open = com["open"]
    out.tables["complaints"] = pl.DataFrame({
        "complaint_id": com["id"], "case_id": com["case_id"], "agent_id": com["agent_id"],
        "received_at": com["received_at"],
        "source": _cat(com["source"], list(SOURCES_W)),
        "category": _cat(com["category"], COMPLAINT_CATEGORIES),
        "severity": _cat(com["severity"], ("low", "medium", "high")),
        "status": np.where(is_open, "open", "resolved"),
        "resolved_at": np.where(is_open, np.datetime64("NaT"), com["resolved_at"]),
        "substantiated": com["substantiated"],
        "updated_at": np.where(is_open, com["received_at"], com["resolved_at"]),
    }).with_columns(pl.when(pl.col("status") == "open").then(None).otherwise(pl.col("substantiated"))
                    .alias("substantiated"))
    out.tables["cases"] = _cases_table(sim)
    out.tables["targets"] = _targets(sim)
    out.tables["repayment_plans"] = comp.plans(out.tables["cases"])
    add_fees(sim, out)  # the agencies' commission rates (optional agency_fees)
    return out.tables


def _cases_table(sim: _Sim) -> pl.DataFrame:
    rng, n = sim.rng, sim.scale.cases
    placed_at = sim.placed_day.astype("datetime64[s]") + np.timedelta64(9 * 3600, "s")
    updated = np.fmax(np.fmax(sim.last_seen, placed_at), sim.closed_at)
    updated = np.minimum(updated, sim.as_of_end)
    age = rng.integers(22 * 365, 58 * 365, n)
    birth = (np.datetime64(sim.as_of) - age.astype("timedelta64[D]"))
    prov_codes = np.array([p[2] for p in PROVINCES])[sim.province]
    status = np.maximum(sim.status, 0)
    agent = np.where(sim.agent_now >= 0, sim.agent_now, sim.org.seat_agent[sim.seat[0], -1])
    return pl.DataFrame({
        "case_id": np.arange(1, n + 1, dtype=np.int64),
        "account_no": card_numbers(rng, n),
        "customer_name": chinese_names(rng, n),
        "phone": sim.case_phone,
        "id_number": id_numbers(rng, prov_codes, birth),
        "product": sim.product,
        "region": np.array([p[0] for p in PROVINCES])[sim.province],
        "placed_on": sim.placed_day.astype("datetime64[D]"),
        "placed_balance_cents": sim.placed_bal,
        "placed_dpd": sim.placed_dpd.astype(np.int32),
        "current_dpd": sim.dpd.astype(np.int32),
        "current_balance_cents": sim.bal,
        "status": _cat(status, CASE_STATUSES),
        "agent_id": sim.org.agent_ids[agent],
        "updated_at": updated.astype("datetime64[us]"),
    })


def _targets(sim: _Sim) -> pl.DataFrame:
    """Team targets per month: what the team was expected to collect, met by some teams, missed by others."""
    rng, org = sim.rng, sim.org
    rows = []
    for t in range(len(org.teams)):
        prev = None
        for i, m in enumerate(sim.months):
            actual = int(sim.team_paid[t, i])
            basis = actual if i < len(sim.months) - 1 else (prev or actual)
            prev = actual
            target = basis / org.team_bias[t] * rng.uniform(0.95, 1.05)
            target = max(round(target / 1_000_000) * 1_000_000, 1_000_000)  # whole ¥10,000
            rows.append((m, f"T{t + 1:02d}", int(target)))
    return pl.DataFrame(rows, schema={"month": pl.Date, "team_id": pl.String, "target_amount_cents": pl.Int64},
                        orient="row")
