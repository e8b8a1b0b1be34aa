"""The one-screen summary of an import: accounts, months, rows and buckets per month, bad rows, the outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from queries.buckets import DEFAULT_BUCKETS
from queries.dates import month_start

#: bad rows listed in the text summary (all are in `bad_rows`)
SHOWN_BAD = 50


@dataclass
class ImportSummary:
    """What an import wrote and what it saw, for the analyst to compare with their own MIS."""

    url: str
    files: list[str]
    accounts: int
    months: list[dt.date]
    rows_per_month: dict[str, int]
    buckets_per_month: dict[str, dict[str, int]]
    balance_per_month: dict[str, float]
    payments_per_month: dict[str, tuple[int, float]]
    credit_balances: int
    bad_rows: list[dict] = field(default_factory=list)
    outcome_label: str | None = None
    outcome_positive: int | None = None
    outcome_known: int | None = None
    seconds: float = 0.0
    gaps: list[str] = field(default_factory=list)

    @property
    def outcome_share(self) -> float | None:
        """Positive outcomes ÷ accounts with an outcome value."""
        return self.outcome_positive / self.outcome_known if self.outcome_known else None

    def to_json(self) -> dict:
        """The summary as plain JSON values."""
        return {"url": self.url, "files": self.files, "accounts": self.accounts,
                "months": [f"{m:%Y-%m}" for m in self.months], "rows_per_month": self.rows_per_month,
                "buckets_per_month": self.buckets_per_month, "balance_per_month": self.balance_per_month,
                "payments_per_month": {k: {"n": n, "amount": a} for k, (n, a) in self.payments_per_month.items()},
                "credit_balances": self.credit_balances, "bad_rows": self.bad_rows,
                "outcome": None if self.outcome_label is None else {
                    "label": self.outcome_label, "positive": self.outcome_positive, "known": self.outcome_known,
                    "share": self.outcome_share},
                "month_gaps": self.gaps, "seconds": round(self.seconds, 2)}

    def text(self) -> str:
        """One screen for a terminal."""
        span = f"{self.months[0]:%Y-%m} … {self.months[-1]:%Y-%m}" if self.months else "none"
        rows = sum(self.rows_per_month.values())
        out = [f"imported {self.accounts:,} accounts × {len(self.months)} months ({span}): {rows:,} account-months, "
               f"{len(self.bad_rows):,} bad rows left out, in {self.seconds:.1f} s",
               f"into {self.url}",
               f"credit balances read as zero: {self.credit_balances:,}"]
        if self.gaps:
            out.append(f"warning: months missing between the first and the last: {', '.join(self.gaps)} "
                       "(roll rates across a gap span more than one month)")
        labels = DEFAULT_BUCKETS.labels
        head = f"{'month':<8}{'accounts':>10}" + "".join(f"{b:>8}" for b in labels) + \
            f"{'balance ¥':>17}{'payments':>10}{'paid ¥':>16}"
        out += ["", head]
        for m in self.months:
            k = f"{m:%Y-%m}"
            b = self.buckets_per_month.get(k, {})
            n, paid = self.payments_per_month.get(k, (0, 0.0))
            out.append(f"{k:<8}{self.rows_per_month.get(k, 0):>10,}" + "".join(f"{b.get(x, 0):>8,}" for x in labels)
                       + f"{self.balance_per_month.get(k, 0.0):>17,.2f}{n:>10,}{paid:>16,.2f}")
        if self.outcome_label is not None:
            share = self.outcome_share
            out += ["", f"{self.outcome_label}: {self.outcome_positive:,} of {self.outcome_known:,} accounts"
                    + (f" = {share * 100:.2f}%" if share is not None else "")]
        if self.bad_rows:
            out += ["", f"bad rows left out ({len(self.bad_rows):,}):"]
            out += [f"  {b['file']} line {b['line']} column {b['column']}: {b['problem']}: '{b['value']}'"
                    for b in self.bad_rows[:SHOWN_BAD]]
            if len(self.bad_rows) > SHOWN_BAD:
                out.append(f"  … and {len(self.bad_rows) - SHOWN_BAD:,} more (all of them: --json)")
        return "\n".join(out)


def summarize(url: str, files: list[str], frames: dict[str, pl.DataFrame], parsed: pl.DataFrame,
              bad_rows: list[dict], outcome_label: str | None, outcome_positive: tuple[str, ...],
              seconds: float) -> ImportSummary:
    """The summary of what was written (`frames`) from the good account-months (`parsed`)."""
    snaps = frames["balance_snapshots"]
    labels = DEFAULT_BUCKETS.labels
    by = snaps.group_by("snapshot_on", DEFAULT_BUCKETS.expr(pl.col("dpd")).alias("bucket")).agg(pl.len().alias("n"))
    months = sorted(parsed.get_column("month").unique().to_list())
    key = {m: f"{m:%Y-%m}" for m in months}
    buckets: dict[str, dict[str, int]] = {key[m]: dict.fromkeys(labels, 0) for m in months}
    for d, b, n in by.iter_rows():
        buckets[f"{d:%Y-%m}"][b] = n
    per = snaps.group_by("snapshot_on").agg(pl.len().alias("n"), pl.col("balance_cents").sum()).sort("snapshot_on")
    rows = {f"{d:%Y-%m}": n for d, n, _ in per.iter_rows()}
    bal = {f"{d:%Y-%m}": c / 100 for d, _, c in per.iter_rows()}
    pays = frames["payments"].group_by(pl.col("paid_at").dt.date().dt.month_start().alias("m")).agg(
        pl.len().alias("n"), pl.col("amount_cents").sum())
    paid = {f"{m:%Y-%m}": (n, c / 100) for m, n, c in pays.iter_rows()}
    gaps = []
    if months:
        m = months[0]
        while m < months[-1]:
            if m not in key:
                gaps.append(f"{m:%Y-%m}")
            m = month_start(m, 1)
    pos = known = None
    if outcome_label is not None and "outcome" in parsed.columns:
        last = parsed.sort("month").group_by("key").agg(pl.col("outcome").drop_nulls().last())
        known = int(last.get_column("outcome").is_not_null().sum())
        pos = int(last.get_column("outcome").is_in(list(outcome_positive)).sum())
    return ImportSummary(url=url, files=files, accounts=frames["cases"].height, months=months, rows_per_month=rows,
                         buckets_per_month=buckets, balance_per_month=bal, payments_per_month=paid,
                         credit_balances=int(parsed.get_column("credit").sum()), bad_rows=bad_rows,
                         outcome_label=outcome_label, outcome_positive=pos, outcome_known=known, seconds=seconds,
                         gaps=gaps)
