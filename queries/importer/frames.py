"""From the cells of month-end files (long or wide) to the contract's tables: cases, balance_snapshots, payments.

Each file row becomes one account-month (long) or one per mapped month (wide). Every cell is read with
queries.importer.text; a cell that cannot be read becomes a bad-row entry (file, line, column, value,
problem) and its whole file row is left out. The rules, documented in docs/import-status.md:

- status → days past due: `months` (a code in `current` → 0, a whole k ≥ 1 → k × days_per_month),
  `dpd` (a whole number ≥ 0) or `codes` (the mapping's table); anything else is an unknown status code;
- balance: empty → 0; negative (a credit balance) → 0, counted; payment: empty or 0 → no payment row;
- a wide month whose status, balance and payment are all empty: the account is not in that month's file;
- every account is a case placed on its first month-end in the files, with that month's balance and DPD;
  one balance snapshot per account and month, dated the month's last day; one payment per account and month
  with an amount, dated by the mapping's `[dates] payments`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from queries.dates import month_end
from queries.importer.errors import FileProblem
from queries.importer.mapping import MONTH, Mapping
from queries.importer.parse import LINE, Table
from queries.importer.text import cents, clean, code, key, month, parse_month, whole

UNASSIGNED = "unassigned"
UNASSIGNED_NAME = "未分配"  # shown as it is in both languages, like every team name (data, not UI text)
ERRORS = {"file": pl.String, "line": pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String}

@dataclass(frozen=True)
class Part:
    """Which column holds each role in one file (for one month of a wide file)."""

    status: str
    balance: str
    payment: str | None
    month: dt.date | None = None  # wide: the month; long: None (from the month column or the file name)


def plan(mapping: Mapping, header: list[str], path: str, header_line: int) -> tuple[list[str], list[Part]]:
    """The columns to read from a file with this header, and the parts (months) they form."""
    def need(name: str | None, what: str) -> None:
        if name is not None and name not in header:
            shown = ", ".join(header[:12]) + (" …" if len(header) > 12 else "")
            raise FileProblem(f"{path} line {header_line} column {name}: the mapping's {what} column '{name}' "
                              f"is not in the header ({shown})")

    need(mapping.key, "account key")
    for name, what in ((mapping.product, "product"), (mapping.region, "region"), (mapping.outcome, "outcome")):
        need(name, what)
    parts: list[Part] = []
    if mapping.layout == "long":
        need(mapping.month_column, "month")
        need(mapping.status, "status")
        need(mapping.balance, "balance")
        need(mapping.payment, "payment")
        parts.append(Part(mapping.status, mapping.balance, mapping.payment))
    elif mapping.months:
        for m in mapping.months:
            for name, role in ((m.status, "status"), (m.balance, "balance"), (m.payment, "payment")):
                need(name, f"{m.month:%Y-%m} {role}")
            parts.append(Part(m.status, m.balance, m.payment, m.month))
    else:
        parts = _pattern_parts(mapping, header, path, header_line)
    cols = [mapping.key, mapping.product, mapping.region, mapping.outcome, mapping.month_column]
    for p in parts:
        cols += [p.status, p.balance, p.payment]
    return list(dict.fromkeys(c for c in cols if c)), parts


def _pattern_parts(mapping: Mapping, header: list[str], path: str, header_line: int) -> list[Part]:
    found: dict[str, dict[dt.date, str]] = {}
    for role, pat in mapping.patterns.items():
        before, after = pat.split(MONTH)
        rx = re.compile(re.escape(before) + "(.+?)" + re.escape(after) + "$")
        found[role] = {}
        for name in header:
            m = rx.match(name)
            month_ = parse_month(m.group(1)) if m else None
            if month_ is None:
                continue
            if month_ in found[role]:
                raise FileProblem(f"{path} line {header_line} column {name}: month {month_:%Y-%m} is listed twice "
                                  f"(also in column {found[role][month_]})")
            found[role][month_] = name
        if not found[role] and role != "payment":
            raise FileProblem(f"{path} line {header_line} column 1: no column matches the {role} pattern '{pat}'")
    months = sorted(found["status"])
    for role in ("balance", "payment"):
        if role in found:
            for m in sorted(set(found[role]) ^ set(months)):
                if role == "balance" or m in found[role]:
                    raise FileProblem(f"{path} line {header_line} column {mapping.patterns[role].replace(MONTH, f'{m:%Y-%m}')}:"
                                      f" month {m:%Y-%m} has a {'status' if m in found['status'] else role} column "
                                      f"but no {role if m in found['status'] else 'status'} column")
    return [Part(found["status"][m], found["balance"][m], found.get("payment", {}).get(m), m) for m in months]


def _bad(df: pl.DataFrame, cond: pl.Expr, column: str, problem: str | pl.Expr, raw: str) -> pl.DataFrame:
    return df.filter(cond).select(pl.col("file").cast(pl.String), pl.col(LINE).alias("line"),
                                  pl.lit(column).alias("column"), pl.col(raw).cast(pl.String).alias("value"),
                                  (problem if isinstance(problem, pl.Expr) else pl.lit(problem)).alias("problem"))


def read_part(table: Table, file_no: int, part: Part, mapping: Mapping) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One month of one file (or all of a long file) as parsed account-months, and the bad cells found."""
    path = str(table.path)
    roles = {"_k": mapping.key, "_s": part.status, "_b": part.balance, "_p": part.payment,
             "_mo": mapping.month_column, "_o": mapping.outcome, "_pr": mapping.product, "_re": mapping.region}
    roles = {k: v for k, v in roles.items() if v}
    df = table.frame.select(LINE, *[pl.col(v).alias(f"{k}_raw") for k, v in roles.items()])
    df = clean(df.with_columns(pl.lit(file_no, pl.UInt16).alias("file")), {k: f"{k}_raw" for k in roles})
    present = pl.col("_s").is_not_null() | pl.col("_b").is_not_null()
    if part.payment:
        present = present | pl.col("_p").is_not_null()
    if part.month is not None:  # wide: an account absent from a month has all three cells empty
        df = df.filter(present)
    df = key(df, "_k", "key")
    df = cents(df, "_b", "bal")
    df = cents(df, "_p", "pay") if part.payment else df.with_columns(pl.lit(0, pl.Int64).alias("pay"),
                                                                     pl.lit(False).alias("pay_bad"))
    if part.month is not None:
        df = df.with_columns(pl.lit(part.month, pl.Date).alias("month"), pl.lit(False).alias("month_bad"))
    elif mapping.month_column is not None:
        df = month(df, "_mo", "month")
    else:
        df = df.with_columns(pl.lit(_file_month(table, mapping), pl.Date).alias("month"), pl.lit(False).alias("month_bad"))
    df = _dpd(df, mapping)
    errors = [
        _bad(df, pl.col("key").is_null() & ~pl.col("key_sci"), mapping.key, "the account key is empty", "_k_raw"),
        _bad(df, pl.col("key_sci"), mapping.key, "account key in scientific notation: Excel has rounded it and the "
             "digits are lost; export the column as text", "_k_raw"),
        _bad(df, pl.col("key").str.len_chars() > 32, mapping.key, "account key longer than 32 characters", "_k_raw"),
        _bad(df, pl.col("_s").is_null(), part.status, "the status is empty", "_s_raw"),
        _bad(df, pl.col("dpd_unknown"), part.status, _unknown_message(mapping), "_s_raw"),
        _bad(df, pl.col("bal_bad"), part.balance, "not an amount", "_b_raw"),
    ]
    if mapping.month_column is not None:
        errors.append(_bad(df, pl.col("month").is_null(), mapping.month_column,
                           "not a month (e.g. 2005-04, 200504, 2005年4月)", "_mo_raw"))
    if part.payment:
        errors.append(_bad(df, pl.col("pay_bad"), part.payment, "not an amount", "_p_raw"))
        errors.append(_bad(df, pl.col("pay") < 0, part.payment,
                           "a negative payment (reversals are not part of the case data contract)", "_p_raw"))
    if mapping.outcome:
        df = code(df, "_o", "outcome")
    # outcome, product and region only when mapped: a column of nulls still costs 16 bytes a row
    out = df.select(
        "file", pl.col(LINE).alias("line"), "key", "month", pl.col("dpd").cast(pl.Int32),
        pl.col("bal").fill_null(0).clip(lower_bound=0).alias("balance_cents"),
        (pl.col("bal") < 0).fill_null(False).alias("credit"),
        pl.col("pay").fill_null(0).alias("payment_cents"),
        *([pl.col("outcome")] if mapping.outcome else []),
        *([pl.col("_pr").alias("product")] if mapping.product else []),
        *([pl.col("_re").alias("region")] if mapping.region else []))
    errs = pl.concat(errors, how="vertical_relaxed").with_columns(pl.lit(path).alias("file"))
    return out, errs


def _file_month(table: Table, mapping: Mapping) -> dt.date:
    mm = re.search(mapping.month_from_name or "", table.path.name)
    got = None
    if mm:
        got = parse_month("".join(g for g in mm.groups() if g) if mm.groups() else mm.group(0))
    if got is None:
        raise FileProblem(f"{table.path} line 1 column 1: the file name does not give a month with the mapping's "
                          f"month_from_name pattern '{mapping.month_from_name}'")
    return got


def _unknown_message(mapping: Mapping) -> str:
    if mapping.status_encoding == "months":
        return (f"unknown status code (the mapping reads {', '.join(mapping.current_codes)} as current and "
                "whole numbers from 1 as months past due)")
    if mapping.status_encoding == "dpd":
        return "unknown status: days past due must be a whole number from 0"
    return f"unknown status code (the mapping's codes: {', '.join(mapping.codes)})"


def _dpd(df: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    """Add days past due `dpd` and `dpd_unknown` (a status that is there but not a known code) from `_s`."""
    df = whole(df, "_s", "_sn")
    n = pl.col("_sn")
    c = pl.when(n.is_not_null()).then(n.cast(pl.String)).otherwise(pl.col("_s"))  # as `code` reads it
    if mapping.status_encoding == "codes":
        d = c.replace_strict(list(mapping.codes), list(mapping.codes.values()), default=None, return_dtype=pl.Int64)
    else:
        if mapping.status_encoding == "months":
            d = pl.when(c.is_in(list(mapping.current_codes))).then(pl.lit(0, pl.Int64)).when(n >= 1).then(
                n * mapping.days_per_month).otherwise(None)
        else:
            d = pl.when(n >= 0).then(n).otherwise(None)
    df = df.with_columns(d.alias("dpd"))
    return df.with_columns((pl.col("_s").is_not_null() & pl.col("dpd").is_null()).alias("dpd_unknown"))


def duplicates(parsed: pl.DataFrame, files: list[str], mapping: Mapping) -> pl.DataFrame:
    """Bad-row entries for an account-month seen before (on an earlier line, or in an earlier file)."""
    d = parsed.select("file", "line", "key", "month").filter(pl.col("key").is_not_null()).sort("file", "line")
    again = d.filter(~pl.struct("key", "month").is_first_distinct())
    if again.height == 0:
        return pl.DataFrame(schema=ERRORS)
    first = d.join(again.select("key", "month"), on=["key", "month"], how="semi").group_by("key", "month").agg(
        pl.col("file").first().alias("first_file"), pl.col("line").first().alias("first_line"))
    again = again.join(first, on=["key", "month"], how="left")
    def name(col: str) -> pl.Expr:
        return pl.col(col).replace_strict(list(range(len(files))), files, return_dtype=pl.String)

    return again.select(
        name("file").alias("file"), "line", pl.lit(mapping.month_column or mapping.key).alias("column"),
        pl.col("month").dt.strftime("%Y-%m").alias("value"),
        pl.format("account {} has month {} twice (first on line {} of {})", "key",
                  pl.col("month").dt.strftime("%Y-%m"), "first_line", name("first_file")).alias("problem"))


def _month_end(m: pl.Expr) -> pl.Expr:
    return m.dt.month_end()


def case_ids(keys: pl.Series) -> pl.Series:
    """case_id per account key: the key itself when every key is a whole number (no two alike once read as
    numbers, e.g. 007 and 7), else 1…N in the keys' sorted order."""
    as_int = keys.cast(pl.Int64, strict=False)
    if as_int.null_count() == 0 and as_int.min() >= 1 and keys.str.contains(r"^\d{1,18}$").all() \
            and as_int.n_unique() == keys.n_unique():
        return as_int
    rank = keys.rank("dense")
    return rank.cast(pl.Int64)


def contract_frames(parsed: pl.DataFrame, mapping: Mapping) -> dict[str, pl.DataFrame]:
    """cases, balance_snapshots, payments, teams and agents from the good account-months."""
    keys = parsed.get_column("key").unique().sort()
    ids = pl.DataFrame({"key": keys, "case_id": case_ids(keys)})
    cols = ["case_id", "month", "dpd", "balance_cents", "payment_cents",
            *[c for c in ("product", "region") if c in parsed.columns]]
    p = parsed.join(ids, on="key", how="left").select(cols)  # no full sort: first/last by month inside the groups
    last_month = p.get_column("month").max()
    first = p.group_by("case_id").agg(
        pl.col("month").min().alias("first"), pl.col("month").max().alias("last"),
        pl.col("dpd").sort_by("month").first().alias("placed_dpd"),
        pl.col("balance_cents").sort_by("month").first().alias("placed_cents"),
        pl.col("dpd").sort_by("month").last().alias("current_dpd"),
        pl.col("balance_cents").sort_by("month").last().alias("current_cents"),
        *[pl.col(c).sort_by("month").drop_nulls().last() if c in p.columns else pl.lit(None, pl.String).alias(c)
          for c in ("product", "region")]).join(ids, on="case_id")
    status = (pl.when(pl.col("last") == last_month).then(pl.lit("active"))
              .when(pl.col("current_cents") == 0).then(pl.lit("paid_off")).otherwise(pl.lit("recalled")))
    updated = dt.datetime.combine(month_end(last_month), dt.time())
    cases = first.sort("case_id").select(
        "case_id", pl.col("key").alias("account_no"), pl.lit("").alias("customer_name"), pl.lit("").alias("phone"),
        pl.lit("").alias("id_number"), pl.col("product").fill_null("unknown"), pl.col("region").fill_null("unknown"),
        _month_end(pl.col("first")).alias("placed_on"), pl.col("placed_cents").alias("placed_balance_cents"),
        pl.col("placed_dpd").cast(pl.Int64), pl.col("current_dpd").cast(pl.Int64),
        pl.col("current_cents").alias("current_balance_cents"), status.alias("status"),
        pl.lit(UNASSIGNED).alias("agent_id"), pl.lit(updated, pl.Datetime("us")).alias("updated_at"))
    snaps = p.select(_month_end(pl.col("month")).alias("snapshot_on"), "case_id", "dpd",
                     pl.col("balance_cents"), pl.lit(UNASSIGNED).alias("agent_id")).sort("snapshot_on", "case_id")
    pay_day = {m: mapping.payment_date(m) for m in p.get_column("month").unique().to_list()}
    pays = p.filter(pl.col("payment_cents") > 0).sort("month", "case_id").select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("payment_id"), "case_id",
        pl.lit(UNASSIGNED).alias("agent_id"),
        pl.col("month").replace_strict(pay_day, return_dtype=pl.Date).cast(pl.Datetime("us")).alias("paid_at"),
        pl.col("payment_cents").alias("amount_cents"), pl.lit(mapping.payment_method).alias("method"))
    first_month = p.get_column("month").min()
    teams = pl.DataFrame({"team_id": [UNASSIGNED], "team_name": [UNASSIGNED_NAME], "site": [""],
                          "channel": ["in_house"], "agency_name": [None], "lead_agent_id": [None]},
                         schema={"team_id": pl.String, "team_name": pl.String, "site": pl.String, "channel": pl.String,
                                 "agency_name": pl.String, "lead_agent_id": pl.String})
    agents = pl.DataFrame({"agent_id": [UNASSIGNED], "agent_name": [UNASSIGNED_NAME], "team_id": [UNASSIGNED],
                           "hired_on": [first_month], "left_on": [None]},
                          schema={"agent_id": pl.String, "agent_name": pl.String, "team_id": pl.String,
                                  "hired_on": pl.Date, "left_on": pl.Date})
    return {"teams": teams, "agents": agents, "cases": cases, "balance_snapshots": snaps, "payments": pays}

