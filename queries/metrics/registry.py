"""Every metric once: key, bilingual name and definition (numerator ÷ denominator), function, dims."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from queries.filters import Filters
from queries.metrics import complaints, contact, portfolio, recovery
from queries.metrics._base import EVENT_DIMS
from queries.store import Store


@dataclass(frozen=True)
class Metric:
    """One registered metric (口径) for the glossary, the report command and the pages."""

    key: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str
    numerator: str
    denominator: str | None
    function: Callable[..., pl.DataFrame]
    dims: tuple[str, ...]
    unit: str  # 'money' (yuan), 'rate' (0–1), 'per_10k' or 'count'; numerator is money when 'money'
    money_numerator: bool = False
    options: tuple[str, ...] = ()


def _m(key, zh, en, def_zh, def_en, num, den, fn, dims, unit, money_num=False):  # noqa: ANN001, ANN202
    opts = tuple(inspect.signature(fn).parameters)[3:]  # after store, filters, by
    return Metric(key, zh, en, def_zh, def_en, num, den, fn, tuple(dims), unit, money_num, opts)


_LIST = [
    _m("collected", "回收金额", "Collected",
       "期间内还款金额合计", "Sum of payments received in the period",
       "sum of payments.amount in the period", None, recovery.collected, EVENT_DIMS, "money", True),
    _m("paying_accounts", "还款户数", "Paying accounts",
       "期间内至少有一笔还款的不重复案件数（按日、团队等拆分时各行分别去重，不可相加）",
       "Distinct cases with at least one payment in the period (each row of a breakdown counts its own "
       "distinct cases, so rows do not add up to the total)",
       "distinct cases with at least one payment in the period", None, recovery.paying_accounts, EVENT_DIMS,
       "count"),
    _m("recovery_rate", "回收率", "Recovery rate",
       "期间内月初在催案件的还款 ÷ 月初余额（上月末快照余额 + 当月新入催案件委案金额，多月相加）",
       "Payments in the period on the month's opening cases ÷ opening balance (previous month-end "
       "snapshot balance of active cases + placed balance of cases placed in the month; months summed)",
       "payments on opening cases", "opening balance", recovery.recovery_rate, recovery.RECOVERY_DIMS,
       "rate", True),
    _m("target_achievement", "达成率", "Target achievement",
       "当月回收金额 ÷ 团队月度目标；进度 = 达成率 ÷ (已过工作日 ÷ 当月工作日)",
       "Collected in the month ÷ the team's monthly target; pace = achievement ÷ (elapsed working days "
       "÷ working days in the month; Mon–Fri minus Chinese public holidays, plus make-up days)",
       "collected in the month", "targets.target_amount", recovery.target_achievement,
       recovery.TARGET_DIMS, "rate", True),
    _m("contact_rate", "接通率", "Contact rate",
       "结果不是无人接听、忙线、号码错误的外呼/外访次数 ÷ 外呼/外访次数",
       "Attempts (calls, visits) whose outcome is not no_answer, busy or wrong_number ÷ attempts",
       "connected attempts", "attempts", contact.contact_rate, contact.CONTACT_DIMS, "rate"),
    _m("rpc_rate", "本人接通率", "Right-party contact rate",
       "联系到债务人本人（rpc、ptp、拒绝、争议、困难、约回电）的次数 ÷ 外呼/外访次数",
       "Attempts with party debtor and outcome rpc, ptp, refused, dispute, hardship or callback ÷ attempts",
       "right-party attempts", "attempts", contact.rpc_rate, contact.CONTACT_DIMS, "rate"),
    _m("ptp_rate", "承诺率", "Promise-to-pay rate",
       "结果为承诺还款的次数 ÷ 本人接通次数", "Attempts with outcome ptp ÷ right-party attempts",
       "attempts with outcome ptp", "right-party attempts", contact.ptp_rate, contact.CONTACT_DIMS, "rate"),
    _m("ptp_kept_rate", "承诺兑现率", "PTP kept rate",
       "期间内到期且已兑现的承诺 ÷ 期间内到期且状态为兑现、部分兑现、违约的承诺",
       "Promises due in the period and kept ÷ promises due in the period that are kept, partial or broken",
       "kept promises due", "kept + partial + broken promises due", contact.ptp_kept_rate, EVENT_DIMS, "rate"),
    _m("complaint_rate", "投诉率", "Complaint rate",
       "期间内收到的投诉 ÷ 期间内至少有一次外呼/外访的不重复案件数 × 10,000（另列每万次外呼、12378 监管投诉）",
       "Complaints received ÷ distinct cases with at least one attempt in the period × 10,000 "
       "(also per 10,000 attempts; regulator 12378 complaints shown apart)",
       "complaints received", "distinct worked cases", complaints.complaint_rate,
       complaints.COMPLAINT_DIMS, "per_10k"),
    _m("bucket_balance", "账龄分布", "Balance by bucket",
       "快照中各账龄段的余额合计（或案件数）", "Sum of balance (or count of cases) per bucket in a snapshot",
       "balance or count per bucket", None, portfolio.bucket_balance, portfolio.SNAP_DIMS, "money", True),
    _m("roll_rate", "迁徙率", "Roll rate",
       "上期末 k 段余额（或户数）中本期末处于 j 段（或结清）的部分 ÷ 上期末 k 段余额",
       "Balance (or count) in bucket k at snapshot t−1 found in bucket j at t (absent or zero = closed) "
       "÷ balance (or count) in bucket k at t−1",
       "balance k→j", "balance in k at t−1", portfolio.roll_rate, portfolio.ROLL_DIMS, "rate", True),
    _m("cure_rate", "回滚率", "Cure rate",
       "上期末 k 段余额中本期末为 M0 或结清的部分 ÷ 上期末 k 段余额",
       "Part of bucket k at t−1 that is M0 or closed at t ÷ balance (or count) in bucket k at t−1",
       "balance k→M0 or closed", "balance in k at t−1", portfolio.cure_rate,
       tuple(d for d in portfolio.ROLL_DIMS if d != "to_bucket"), "rate", True),
    _m("liquidation", "清收率", "Liquidation (vintage)",
       "委案后 n 个月内累计还款 ÷ 当月委案金额，按委案月份；未满月的单元格标记为未成熟",
       "Payments within n months after placement ÷ placed balance of the cases placed that month; "
       "cells whose month is not complete are flagged immature",
       "cumulative payments by months since placement", "placed balance", recovery.liquidation,
       recovery.LIQ_DIMS, "rate", True),
    _m("after_hours_rate", "非时段催收", "After-hours attempts",
       "22:00–08:00 且未获债务人同意的外呼/外访 ÷ 外呼/外访次数（时段取自规则集）",
       "Attempts between 22:00 and 08:00 local time without the debtor's consent ÷ attempts "
       "(window from the rule set)",
       "after-hours attempts without consent", "attempts", contact.after_hours_rate,
       contact.CONTACT_DIMS, "rate"),
    _m("over_frequency", "超频", "Over-frequency",
       "同一案件同一号码单日未接通超过 6 次、或同一案件单日接通超过 3 次的案件日 ÷ 有外呼的案件日",
       "Case-days with more than 6 unanswered calls to one phone number or more than 3 connected calls "
       "÷ case-days with any call (limits from the rule set; a case-day belongs to the agent with most calls)",
       "breaching case-days", "case-days with a call", contact.over_frequency, EVENT_DIMS, "rate"),
]

METRICS: dict[str, Metric] = {m.key: m for m in _LIST}


def get(key: str) -> Metric:
    """The metric of this key; KeyError with the valid keys otherwise."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; use one of {', '.join(METRICS)}") from None


def compute(key: str, store: Store, filters: Filters, by: tuple[str, ...] = (), **options) -> pl.DataFrame:  # noqa: ANN003
    """Run a metric, passing only the options it takes (snapshot, basis, rules, calendar)."""
    m = get(key)
    opts = {k: v for k, v in options.items() if k in m.options and v is not None}
    return m.function(store, filters, tuple(by), **opts)


def glossary(lang: str = "zh") -> pl.DataFrame:
    """One row per metric: key, name, definition, numerator, denominator."""
    zh = lang.startswith("zh")
    return pl.DataFrame([{
        "key": m.key, "name": m.name_zh if zh else m.name_en,
        "definition": m.definition_zh if zh else m.definition_en,
        "numerator": m.numerator, "denominator": m.denominator} for m in _LIST])
