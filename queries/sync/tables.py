"""Writing one rollup into the new version: replace the recomputed days, months or snapshots of the previous one."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.dates import month_start
from queries.store import casesets
from queries.store.catalogue import COARSE
from queries.sync.context import SyncContext, concat


def replace_rows(ctx: SyncContext, name: str, parts: list[pl.DataFrame], key: str, keys: set,
                 schema: dict) -> None:
    """Previous table minus rows whose `key` is in `keys`, plus the new parts; written with its
    coarse twin (name_agent: without product and region). `parts` is emptied once stacked: these tables are
    rows per agent × bucket × product × region × date (~10M at 5× bank scale), and a caller's list would keep a
    third copy alive while the table is sorted and coarsened."""
    coarse_name = COARSE[name]
    if ctx.prev is not None and not keys and not any(p.height for p in parts):
        if ctx.writer.keep(name) and ctx.writer.keep(coarse_name):
            return
    out = concat(parts, schema)
    parts.clear()
    prev = ctx.prev_frame(name)
    if prev is not None:
        if keys:
            prev = prev.filter(~pl.col(key).is_in(list(keys)))
        out = concat([prev, out.select(prev.columns) if out.height else out], schema)
        del prev
    if out.height == 0:
        out = pl.DataFrame(schema=schema)
    out = out.sort(key)
    ctx.writer.put(name, out)
    sums = [c for c in ("n", "cents") if c in out.columns]
    out = coarse(out, ("product", "region"), sums)
    ctx.writer.put(coarse_name, out.sort(key))


def replace_months(ctx: SyncContext, name: str, new: pl.DataFrame, month_expr: pl.Expr, months: set[dt.date] | None,
                   sort: str) -> pl.DataFrame:
    """Previous in-memory rollup minus the given months, plus `new`; written out."""
    prev = ctx.prev_frame(name) if months is not None else None
    if prev is not None:
        prev = prev.filter(~month_expr.is_in(list(months)))
        new = pl.concat([prev, new.select(prev.columns)], how="vertical_relaxed")
    out = new.sort(sort)
    ctx.writer.put(name, out)
    return out


def replace_days(ctx: SyncContext, name: str, new: pl.DataFrame, days: set[dt.date] | None) -> None:
    """A month-partitioned in-memory rollup: rewrite only the months holding recomputed days."""
    if days is None:
        ctx.writer.put_parts(name, new)
        return
    months = {month_start(d) for d in days}
    ctx.writer.keep_parts(name, {f"{m:%Y-%m}" for m in months})
    for m in months:
        part = new.filter(pl.col("day").dt.month_start() == m)
        old = ctx.prev / name / f"{m:%Y-%m}.parquet" if ctx.prev is not None else None
        if old is not None and old.is_file():
            prev = pl.read_parquet(old).filter(~pl.col("day").is_in(list(days)))
            part = pl.concat([prev, part.select(prev.columns)], how="vertical_relaxed")
        ctx.writer.put_parts(name, part)
    ctx.writer.put_parts(name, new.head(0))


def coarse(df: pl.DataFrame, drop: tuple[str, ...], sums: list[str]) -> pl.DataFrame:
    """The same rollup without some dimensions (product, region)."""
    keys = [c for c in df.columns if c not in sums and c not in drop]
    return df.group_by(keys).agg(pl.col(sums).sum())


def day_keys(days: set[dt.date] | None) -> set[str]:
    """Partition file stems of some days (empty for None)."""
    return {d.isoformat() for d in days} if days else set()


def write_case_sets(ctx: SyncContext, family: str, m: dt.date, rows: pl.DataFrame, days: set | None) -> None:
    """The month's case sets of a family (queries.store.casesets), merged with the previous version's kept days."""
    prev = casesets.open_month(ctx.prev, family, m) if days is not None and ctx.prev is not None else None
    casesets.write_month(ctx.writer.path, family, m, casesets.month_sets(rows, prev, days))


def keep_case_sets(ctx: SyncContext, family: str, except_months: set[str]) -> None:
    """Reuse the previous version's month files of a family's case sets, except the listed months."""
    name = f"{casesets.FOLDER}/{family}"
    (ctx.writer.path / name).mkdir(parents=True, exist_ok=True)
    ctx.writer.keep_parts(name, except_months, pattern="*.*")
