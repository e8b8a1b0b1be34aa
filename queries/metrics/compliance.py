"""Compliance metrics (DESIGN §4b): breaches by check per 1,000 attempts, unjustified third-party contacts,
recording coverage, contacts during a plan, complaints decided late or preceded by a breach, RPC yield by the
attempt's ordinal within its case-day. Every figure is judged at sync time by the rule pack in force on the
contact's own day (queries.compliance.rules); the store keeps which pack (manifest `compliance`)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.compliance.rules import CONTACT_CHECKS, RulePack
from queries.filters import Filters
from queries.metrics.base import (
    ORG_DIMS,
    TIME_DIMS,
    MetricError,
    MetricUnavailable,
    add_dims,
    before_compliance,
    check_dims,
    empty,
    filter_frame,
    finish,
    group,
    months_and_edges,
    ratio,
    require,
    whole_months,
)
from queries.metrics.declare import metric
from queries.store import Store
from queries.store.catalogue import month_view_name

#: Dimensions of the compliance rollups (no product or region: the page breaks down by org, time and bucket).
COMPLIANCE_DIMS = (*TIME_DIMS, *ORG_DIMS, "bucket")
BREACH_DIMS = ("check", *COMPLIANCE_DIMS)
ORDINAL_DIMS = ("ordinal", *COMPLIANCE_DIMS)
#: The highest attempt ordinal shown apart (7 = the 7th and later attempts of a case-day).
MAX_ORDINAL = 7
#: Denominator column of each check in compliance_agent (attempts; connected calls for `unrecorded`).
CHECK_BASE = {c: ("connected_calls" if c == "unrecorded" else "attempts") for c in CONTACT_CHECKS}
#: Optional contract parts each check needs (absent: the check is unavailable and says so).
CHECK_NEEDS: dict[str, tuple[str, ...]] = {"during_plan": ("repayment_plans",),
                                           "unrecorded": ("contacts.recording_id",),
                                           "agency_not_allowed": ("teams.whitelisted_on",)}


def _rollup(store: Store, name: str, f: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """compliance_agent / attempt_ordinal_agent rows for the filters (the month view when it answers exactly)."""
    if f.products or f.regions:
        raise MetricError("compliance figures are by day, team, agent, channel and bucket; clear the product and "
                          "region selections")
    if not store.has(name):
        raise before_compliance()
    whole = whole_months(store, f) if not {"day", "week"} & set(by) and store.has(month_view_name(name)) else None
    if whole is not None:  # whole months from the month view, the partial edge months from their days
        lo, hi = f.start.replace(day=1), f.end.replace(day=1)
        df = months_and_edges(store, name, f, whole)
        return add_dims(store, filter_frame(store, df, f, date_col="month", date_range=(lo, hi)), by, "month")
    return add_dims(store, filter_frame(store, store.frame(name, f.start, f.end), f), by)


def unavailable_checks(store: Store) -> dict[str, tuple[str, ...]]:
    """Checks the source cannot support → the optional contract parts it lacks (for explained empty states)."""
    found = set((store.manifest.get("compliance") or {}).get("optional", []))
    return {c: tuple(p for p in parts if p not in found) for c, parts in CHECK_NEEDS.items()
            if any(p not in found for p in parts)}


def skipped_rows(store: Store) -> dict[str, int]:
    """Rows the checks skipped because an optional column held an unexpected value, by column."""
    return dict((store.manifest.get("compliance") or {}).get("skipped", {}))


#: Why a check cannot be judged when the source lacks its optional part, in English and Chinese.
MISSING = {
    "unrecorded": ("the source has no contacts.recording_id column (optional, docs/case-data-contract.md)",
                   "案件库没有 contacts.recording_id 列（可选字段，见数据约定）"),
    "during_plan": ("the source has no repayment_plans table (optional, docs/case-data-contract.md)",
                    "案件库没有 repayment_plans 表（可选，见数据约定）"),
    "agency_not_allowed": ("the source has no teams.whitelisted_on column (optional, docs/case-data-contract.md)",
                           "案件库没有 teams.whitelisted_on 列（可选字段，见数据约定）"),
}


def _contact_ratio(key: str, store: Store, filters: Filters, by: tuple[str, ...], num: pl.Expr, den: pl.Expr,
                   check: str | None = None) -> pl.DataFrame:
    """A ratio of compliance_agent sums; MetricUnavailable when `check` needs an optional part the source lacks."""
    by = check_dims(key, by, COMPLIANCE_DIMS)
    if filters.nothing:
        return empty(by)
    require(store, "contacts")
    if check is not None and check in unavailable_checks(store):
        en, zh = MISSING[check]
        raise MetricUnavailable(en, zh=zh)
    return _ratio_out(_rollup(store, "compliance_agent", filters, by), by, num, den)


def _ratio_out(df: pl.DataFrame, by: tuple[str, ...], num: pl.Expr, den: pl.Expr, scale: float = 1.0,
               extra: tuple[str, ...] = ()) -> pl.DataFrame:
    out = group(df, by, [num.alias("numerator"), den.alias("denominator")])
    return finish(out.with_columns(ratio(pl.col("numerator"), pl.col("denominator"), scale).alias("value")), by,
                  extra)


@metric("breaches", name=("违规率（每千次）", "Breaches per 1,000 attempts"),
        definition=("按规则检查：违规的催收行动 ÷ 同一单元格的外呼/外访次数 × 1,000"
                    "（录音检查的分母为接通的外呼）；每次行动按其"
                    "当日有效的规则判定",
                    "By check: breaching contacts ÷ attempts in the same cell × 1,000 (for `unrecorded`: ÷ connected "
                    "calls); each contact judged by the rules in force on its own day"),
        numerator=("违规的催收行动", "breaching contacts"),
        denominator=("外呼/外访次数（录音：接通的外呼）", "attempts (unrecorded: connected calls)"),
        dims=BREACH_DIMS, unit="per_1k", sets={"checks": CONTACT_CHECKS}, checks=CONTACT_CHECKS)
def breaches(store: Store, filters: Filters, by: tuple[str, ...] = (),
             checks: tuple[str, ...] = CONTACT_CHECKS) -> pl.DataFrame:
    """Breaching contacts per 1,000 attempts (connected calls for unrecorded), by check and the other dims."""
    by = check_dims("breaches", by, BREACH_DIMS)
    bad = [c for c in checks if c not in CONTACT_CHECKS]
    if bad:
        raise MetricError(f"unknown check {bad[0]!r}; use one of {', '.join(CONTACT_CHECKS)}")
    if filters.nothing:
        return empty(by)
    require(store, "contacts")
    rest = tuple(d for d in by if d != "check")
    df = _rollup(store, "compliance_agent", filters, rest)
    if "check" not in by:  # any check: each breaching contact once (b_any) over attempts
        num = (pl.col("b_any") if tuple(checks) == CONTACT_CHECKS
               else pl.sum_horizontal([pl.col(f"b_{c}") for c in checks])).sum()
        out = group(df, rest, [num.alias("numerator"), pl.col("attempts").sum().alias("denominator")])
    else:  # one pass over the rollup for every check, then one row per (cell, check)
        sums = group(df, rest, [*[pl.col(f"b_{c}").sum().alias(c) for c in checks],
                                pl.col("attempts").sum().alias("_attempts"),
                                pl.col("connected_calls").sum().alias("_connected")])
        out = sums.unpivot(index=[*rest, "_attempts", "_connected"], on=list(checks), variable_name="check",
                           value_name="numerator").with_columns(
            pl.when(pl.col("check") == "unrecorded").then(pl.col("_connected")).otherwise(pl.col("_attempts"))
            .alias("denominator")).drop("_attempts", "_connected")
    out = out.with_columns(ratio(pl.col("numerator"), pl.col("denominator"), 1000).alias("value"))
    return finish(out.sort(list(by), nulls_last=True) if by else out, by)


@metric("third_party_unjustified", name=("违规联系第三方率", "Unjustified third-party contact rate"),
        definition=("联系第三方而此前 30 天内未确认债务人失联（号码错误，或最近 3 次拨打债务人号码均未接通）的次数"
                    " ÷ 联系第三方次数",
                    "Third-party contacts without the debtor shown unreachable in the 30 days before (a wrong_number, "
                    "or the last 3 calls to the debtor number all no_answer or busy) ÷ third-party contacts"),
        numerator=("违规的第三方联系", "unjustified third-party contacts"),
        denominator=("第三方联系", "third-party contacts"), dims=COMPLIANCE_DIMS, unit="rate", checks=("third_party",))
def third_party_unjustified(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Unjustified third-party contacts ÷ third-party contacts."""
    return _contact_ratio("third_party_unjustified", store, filters, by, pl.col("b_third_party").sum(),
                          pl.col("third_party_contacts").sum())


@metric("recording_coverage", name=("录音覆盖率", "Recording coverage"),
        definition=("有录音编号的接通外呼 ÷ 接通外呼（《商业银行信用卡业务监督管理办法》第六十八条）",
                    "Connected calls with a recording_id ÷ connected calls (2011 credit-card measures Art. 68)"),
        numerator=("有录音的接通外呼", "recorded connected calls"), denominator=("接通外呼", "connected calls"),
        dims=COMPLIANCE_DIMS, unit="rate", checks=("unrecorded",))
def recording_coverage(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Recorded connected calls ÷ connected calls."""
    return _contact_ratio("recording_coverage", store, filters, by,
                          (pl.col("connected_calls") - pl.col("b_unrecorded")).sum(), pl.col("connected_calls").sum(),
                          "unrecorded")


@metric("plan_contacts", name=("协商还款期内催收", "Contacts during an active plan"),
        definition=("在协商还款计划执行期内（达成日之后、结束日之前）对该案件的外呼/外访 ÷ 外呼/外访次数（第七十条）",
                    "Attempts on a case on a day after its repayment plan was agreed and before it ended ÷ attempts "
                    "(2011 credit-card measures Art. 70)"),
        numerator=("计划期内的外呼/外访", "attempts during an active plan"), denominator=("外呼/外访次数", "attempts"),
        dims=COMPLIANCE_DIMS, unit="rate", checks=("during_plan",))
def plan_contacts(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Attempts during an active repayment plan ÷ attempts."""
    return _contact_ratio("plan_contacts", store, filters, by, pl.col("b_during_plan").sum(),
                          pl.col("attempts").sum(), "during_plan")


def _complaints(store: Store, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    require(store, "complaints")
    df = store.frame("complaints")
    if "late" not in df.columns:
        raise before_compliance()
    return add_dims(store, filter_frame(store, df, filters), by)


@metric("complaints_late", name=("投诉超期处理", "Complaints decided past the deadline"),
        definition=("期间内收到、处理超过规定期限（默认 15 天）或仍未处理且已超期的投诉 ÷ 期间内收到的投诉",
                    "Complaints received in the period and decided more than the legal deadline (default 15 days) "
                    "after receipt, or still open past it ÷ complaints received"),
        numerator=("超期的投诉", "complaints past the deadline"), denominator=("收到的投诉", "complaints received"),
        dims=COMPLIANCE_DIMS, unit="rate", checks=("complaint_deadline",))
def complaints_late(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Complaints decided (or still open) past the legal deadline ÷ complaints received."""
    by = check_dims("complaints_late", by, COMPLIANCE_DIMS)
    if filters.nothing:
        return empty(by)
    return _ratio_out(_complaints(store, filters, by), by, pl.col("late").sum(), pl.len())


@metric("complaints_after_breach", name=("违规引发的投诉", "Complaints preceded by a breach"),
        definition=("收到前 30 天内同一案件有违规催收行动的投诉 ÷ 收到的投诉",
                    "Complaints with a breaching contact on the same case in the 30 days before receipt ÷ complaints "
                    "received"),
        numerator=("此前 30 天内有违规的投诉", "complaints with a breach in the 30 days before"),
        denominator=("收到的投诉", "complaints received"), dims=COMPLIANCE_DIMS, unit="rate", checks=CONTACT_CHECKS)
def complaints_after_breach(store: Store, filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Complaints preceded by a breach on the same case within 30 days ÷ complaints."""
    by = check_dims("complaints_after_breach", by, COMPLIANCE_DIMS)
    if filters.nothing:
        return empty(by)
    return _ratio_out(_complaints(store, filters, by), by, pl.col("after_breach").sum(), pl.len())


@metric("rpc_by_attempt", name=("按拨打次序的本人接通率", "RPC yield by attempt ordinal"),
        definition=("案件当日第 n 次外呼/外访（1…7+）中本人接通的次数 ÷ 第 n 次外呼/外访次数；与频次上限对照",
                    "Right-party attempts ÷ attempts, by the attempt's ordinal within its case-day (1st … 7th+), "
                    "against the frequency caps"),
        numerator=("本人接通次数", "right-party attempts"), denominator=("外呼/外访次数", "attempts"),
        dims=ORDINAL_DIMS, unit="rate", checks=("unanswered_cap", "connected_cap"))
def rpc_by_attempt(store: Store, filters: Filters, by: tuple[str, ...] = ("ordinal",)) -> pl.DataFrame:
    """RPC rate by the attempt's ordinal within its case-day (7 = 7th and later)."""
    by = check_dims("rpc_by_attempt", by, ORDINAL_DIMS)
    if filters.nothing:
        return empty(by)
    require(store, "contacts")
    df = _rollup(store, "attempt_ordinal_agent", filters, by)
    out = _ratio_out(df, by, pl.col("rpc").sum(), pl.col("attempts").sum())
    return out.with_columns(pl.col("ordinal").cast(pl.Int32)) if "ordinal" in by else out


def breach_contact_keys(store: Store, filters: Filters, checks: tuple[str, ...] = CONTACT_CHECKS,
                        limit: int = 50, offset: int = 0) -> tuple[pl.DataFrame, int]:
    """One page of the breaching contacts behind a figure (day, contact_id, case_id, agent_id, bucket, check,
    rule_id), newest first, and how many there are: the drill-down reads the contacts by these ids. The count comes
    from the rollup; the page reads the day files from the newest back until it is full."""
    if filters.products or filters.regions:
        raise MetricError("breaching contacts are listed by day, team, agent, channel and bucket; clear the product "
                          "and region selections")
    counts = _rollup(store, "compliance_agent", filters, ())  # the rows the figure clicked is summed from
    total = int(counts.select(pl.sum_horizontal([pl.col(f"b_{c}").sum() for c in checks])).item() or 0)
    folder = store.path / "breach_contacts"
    files = sorted((f for f in folder.glob("*.parquet") if f.stem[:1].isdigit()
                    and filters.start.isoformat() <= f.stem <= filters.end.isoformat()), reverse=True)
    want, got, parts = offset + limit, 0, []
    for f in files:
        part = filter_frame(store, pl.read_parquet(f), filters).filter(pl.col("check").is_in(list(checks)))
        if part.height:
            parts.append(part.sort("contact_id", "check", descending=[True, False]))
            got += part.height
        if got >= want:
            break
    page = pl.concat(parts) if parts else store.scan("breach_contacts").head(0).collect()
    return page.slice(offset, limit), total


def agency_status(store: Store, on: dt.date, pack: RulePack) -> pl.DataFrame:
    """Agency teams with whitelisting and the latest evaluation against the pack in force on `on`:
    team_id, team_name, agency_name, whitelisted_on, evaluated_on, days_since_evaluation, not_whitelisted,
    evaluation_overdue (null where the source has no such column)."""
    teams = store.frame("teams").filter(pl.col("channel") == "agency")
    p = pack.params("agency_evaluation", on)
    max_days = int(p["max_days"]) if p else None  # type: ignore[arg-type]
    cols = []
    for c in ("whitelisted_on", "evaluated_on"):
        cols.append(pl.col(c).cast(pl.Date, strict=False) if c in teams.columns else pl.lit(None, pl.Date).alias(c))
    t = teams.select("team_id", "team_name", "agency_name", *cols)
    since = (pl.lit(on) - pl.col("evaluated_on")).dt.total_days()
    return t.with_columns(
        since.alias("days_since_evaluation"),
        (pl.col("whitelisted_on").is_null() | (pl.col("whitelisted_on") > on)).alias("not_whitelisted")
        if "whitelisted_on" in teams.columns else pl.lit(None, pl.Boolean).alias("not_whitelisted"),
        (pl.col("evaluated_on").is_null() | (since > max_days)).alias("evaluation_overdue")
        if "evaluated_on" in teams.columns and max_days is not None else pl.lit(None, pl.Boolean)
        .alias("evaluation_overdue"),
    ).sort("team_id")
