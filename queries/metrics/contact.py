"""Effort and compliance metrics: contact, RPC, PTP, PTP kept, after-hours and over-frequency rates."""

from __future__ import annotations

import polars as pl

from queries.compliance.rules import DEFAULT_RULES, RuleSet
from queries.filters import Filters
from queries.metrics.base import (
    CASE_DIMS,
    EVENT_DIMS,
    MetricError,
    add_dims,
    check_dims,
    empty,
    filter_frame,
    finish,
    group,
    money,
    needs_full_grain,
    ratio,
    require,
    rows,
)
from queries.metrics.declare import listed, metric
from queries.store import Store

CONTACT_DIMS = (*EVENT_DIMS, "hour")

# The classification sets of contacts (the sync computes them in SQL from these same tuples).
#: Attempts: contacts by call or visit; sms, email and letter are messages, counted apart.
ATTEMPT_CHANNELS = ("call", "visit")
#: Outcomes of an attempt that reached no one.
NOT_CONNECTED = ("no_answer", "busy", "wrong_number")
#: Outcomes of a call that was not answered (the unanswered-call cap counts these).
UNANSWERED = ("no_answer", "busy")
#: Outcomes that mean the debtor was reached (with party = debtor): a right-party contact.
RPC_OUTCOMES = ("rpc", "ptp", "refused", "dispute", "hardship", "callback")
#: Promise statuses that are resolved (the PTP kept rate's denominator).
RESOLVED_PROMISES = ("kept", "partial", "broken")


def over_frequency_breach(rules: RuleSet) -> pl.Expr:
    """A call case-day breaching the frequency caps: more unanswered calls to one number, or more connected
    calls, than the rule set allows (columns max_unanswered_phone, connected_calls of call_case_days)."""
    return ((pl.col("max_unanswered_phone") > rules.max_unanswered_per_phone_day)
            | (pl.col("connected_calls") > rules.max_connected_per_case_day))


def _contacts(store: Store, filters: Filters, by: tuple[str, ...], hourly: bool = False) -> pl.DataFrame:
    if not (hourly or "hour" in by):
        return rows(store, "contacts", filters, by)
    # the hourly rollup is per agent only, to stay small: no bucket/product/region there
    if filters.buckets or filters.products or filters.regions or set(by) & set(CASE_DIMS):
        raise MetricError("the hour-of-day breakdown is by day, hour and agent only; clear the bucket, "
                          "product and region selections")
    hourly_rows = store.scan("contacts_hourly", filters.start, filters.end)
    return add_dims(store, filter_frame(store, hourly_rows, filters, case_dims=False), by)


def _rate(metric: str, store: Store, filters: Filters, by: tuple[str, ...], num: pl.Expr,
          den: pl.Expr, hourly: bool = False) -> pl.DataFrame:
    by = check_dims(metric, by, CONTACT_DIMS)
    if filters.nothing:
        return empty(by)
    require(store, "contacts")
    out = group(_contacts(store, filters, by, hourly), by, [num.alias("numerator"), den.alias("denominator")])
    return finish(out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value")), by)


@metric("contact_rate", name=("接通率", "Contact rate"),
        definition=("结果不是无人接听、忙线、号码错误的外呼/外访次数 ÷ 外呼/外访次数",
                    f"Attempts (calls, visits) whose outcome is not {listed(NOT_CONNECTED)} ÷ attempts"),
        numerator=("接通的外呼/外访次数", "connected attempts"), denominator=("外呼/外访次数", "attempts"),
        dims=CONTACT_DIMS, unit="rate", sets={"attempt channels": ATTEMPT_CHANNELS, "not connected": NOT_CONNECTED})
def contact_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Attempts whose outcome is not no_answer, busy or wrong_number ÷ attempts."""
    return _rate("contact_rate", store, filters, by, pl.col("connected").sum(), pl.col("attempts").sum())


@metric("rpc_rate", name=("本人接通率", "RPC rate"),
        definition=("联系到债务人本人（承诺还款、拒绝、争议、困难、约回电等）的外呼/外访次数 ÷ 外呼/外访次数",
                    f"Right-party contacts: attempts with party debtor and outcome {listed(RPC_OUTCOMES)} ÷ attempts"),
        numerator=("本人接通次数", "right-party attempts"), denominator=("外呼/外访次数", "attempts"),
        dims=CONTACT_DIMS, unit="rate", sets={"attempt channels": ATTEMPT_CHANNELS, "right-party outcomes": RPC_OUTCOMES})
def rpc_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Right-party attempts (debtor reached: rpc, ptp, refused, dispute, hardship, callback) ÷ attempts."""
    return _rate("rpc_rate", store, filters, by, pl.col("rpc").sum(), pl.col("attempts").sum())


@metric("ptp_rate", name=("承诺率", "PTP rate"),
        definition=("结果为承诺还款的外呼/外访次数 ÷ 本人接通次数",
                    "Promise-to-pay rate: attempts with outcome ptp ÷ right-party attempts"),
        numerator=("结果为承诺还款的次数", "attempts with outcome ptp"),
        denominator=("本人接通次数", "right-party attempts"), dims=CONTACT_DIMS, unit="rate",
        sets={"right-party outcomes": RPC_OUTCOMES})
def ptp_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Attempts with outcome ptp ÷ right-party attempts."""
    return _rate("ptp_rate", store, filters, by, pl.col("ptp").sum(), pl.col("rpc").sum())


@metric("after_hours_rate", name=("非时段催收", "After-hours attempts"),
        definition=("22:00–08:00 且未获债务人同意的外呼/外访 ÷ 外呼/外访次数（时段取自规则集）",
                    "Attempts between 22:00 and 08:00 local time without the debtor's consent ÷ attempts "
                    "(window from the rule set)"),
        numerator=("未获同意的非时段外呼/外访", "after-hours attempts without consent"),
        denominator=("外呼/外访次数", "attempts"), dims=CONTACT_DIMS, unit="rate",
        sets={"attempt channels": ATTEMPT_CHANNELS})
def after_hours_rate(store: Store, filters: Filters, by: tuple[str, ...] = (),
                     rules: RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Attempts in the after-hours window without the debtor's consent ÷ attempts."""
    hours = list(rules.after_hours())
    if hours == list(store.manifest.get("after_hours", [])) and "hour" not in by:
        num = pl.col("after_hours").sum()  # counted at sync time with this same window
        return _rate("after_hours_rate", store, filters, by, num, pl.col("attempts").sum())
    num = pl.col("attempts_no_consent").filter(pl.col("hour").is_in(hours)).sum()
    return _rate("after_hours_rate", store, filters, by, num, pl.col("attempts").sum(), hourly=True)


@metric("ptp_kept_rate", name=("承诺兑现率", "PTP kept rate"),
        definition=("期间内到期且已兑现的承诺 ÷ 期间内到期且状态为兑现、部分兑现、违约的承诺",
                    "Promises due in the period and kept ÷ promises due in the period that are kept, partial or "
                    "broken"),
        numerator=("到期且已兑现的承诺", "kept promises due"),
        denominator=("到期且已兑现、部分兑现或违约的承诺", "kept + partial + broken promises due"),
        dims=EVENT_DIMS, unit="rate", sets={"resolved promises": RESOLVED_PROMISES})
def ptp_kept_rate(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Promises due in the period that were kept ÷ those kept, partial or broken; `pending` apart."""
    by = check_dims("ptp_kept_rate", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by, ["pending", "due_amount"])
    require(store, "promises")
    df = rows(store, "promises", filters, by, future_rows=True)
    st = pl.col("status")
    out = group(df, by, [
        pl.col("n").filter(st == "kept").sum().alias("numerator"),
        pl.col("n").filter(st.is_in(list(RESOLVED_PROMISES))).sum().alias("denominator"),
        pl.col("n").filter(st == "pending").sum().cast(pl.Float64).alias("pending"),
        money(pl.col("cents").sum()).alias("due_amount"),
    ])
    out = out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value"))
    return finish(out, by, ["pending", "due_amount"])


@metric("over_frequency", name=("超频", "Over-frequency"),
        definition=("同一案件同一号码单日未接通超过 6 次、或同一案件单日接通超过 3 次的案件日 ÷ 有外呼的案件日",
                    "Case-days with more than 6 unanswered calls to one phone number or more than 3 connected calls "
                    "÷ case-days with any call (limits from the rule set; a case-day belongs to the agent with most "
                    "calls)"),
        numerator=("超频案件日", "breaching case-days"), denominator=("有外呼的案件日", "case-days with a call"),
        dims=EVENT_DIMS, unit="rate", sets={"unanswered outcomes": UNANSWERED, "not connected": NOT_CONNECTED})
def over_frequency(store: Store, filters: Filters, by: tuple[str, ...] = (),
                   rules: RuleSet = DEFAULT_RULES) -> pl.DataFrame:
    """Case-days breaching the call limits ÷ case-days with any call (case-day → agent with most calls)."""
    by = check_dims("over_frequency", by, EVENT_DIMS)
    if filters.nothing:
        return empty(by)
    require(store, "contacts")
    limits = [rules.max_unanswered_per_phone_day, rules.max_connected_per_case_day]
    if limits == store.manifest.get("limits") and not needs_full_grain(filters, by):
        df = rows(store, "calls", filters, by)  # breaches counted at sync time with these limits
        aggs = [pl.col("breaches").sum().alias("numerator"), pl.col("case_days").sum().alias("denominator")]
    else:
        df = rows(store, "calls", filters, by, force_full=True)
        aggs = [over_frequency_breach(rules).sum().alias("numerator"), pl.len().alias("denominator")]
    out = group(df, by, aggs)
    return finish(out.with_columns(ratio(pl.col("numerator"), pl.col("denominator")).alias("value")), by)
