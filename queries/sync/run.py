"""run_sync: one sync from the case database into a new store version, stage by stage, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from queries.buckets import DEFAULT_BUCKETS, BucketBounds
from queries.compliance.rules import (
    RulePack,
    RulePackError,
    RuleSet,
    active_pack,
    load_rules,
)
from queries.errors import describe
from queries.settings import Settings, load_settings
from queries.source import contract as S
from queries.source.reader import Reader
from queries.store import (
    FORMAT_VERSION,
    Manifest,
    StoreWriter,
    Watermarks,
    current_version,
    read_manifest,
)
from queries.sync.agency import placements_kept, sync_agency
from queries.sync.cases import snapshot_rollups, sync_cases, sync_dims, sync_snapshots
from queries.sync.compliance import prepare as prepare_compliance
from queries.sync.compliance import summary as compliance_summary
from queries.sync.contacts import sync_contacts
from queries.sync.context import SyncContext
from queries.sync.mutable import sync_complaints, sync_promises
from queries.sync.payments import sync_payments
from queries.sync.reconcile import early_totals, reconcile

log = logging.getLogger("collections.sync")

RECONCILE_DAYS = 7  # incremental syncs reconcile this many recent days (full syncs: all)
#: the summary's row counts in the order of the stages (stages that run side by side count in any order)
ROWS_ORDER = {k: i for i, k in enumerate(("teams", "agents", "cases", "snapshot rows", "payments", "contacts",
                                          "promises", "complaints"))}

@dataclass
class SyncResult:
    """What one sync did: mode, rows read, seconds, and the reconciliation verdict."""

    full: bool
    store_path: Path
    seconds: float
    rows_read: dict[str, int] = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the store reconciles with the source."""
        return bool(self.reconciliation.get("ok"))

    def summary(self) -> str:
        """One line for a terminal."""
        read = sorted(self.rows_read.items(), key=lambda kv: ROWS_ORDER.get(kv[0], len(ROWS_ORDER)))
        rows = ", ".join(f"{k} {v:,}" for k, v in read if v)
        rec = "reconciled" if self.ok else f"MISMATCH on {len(self.reconciliation.get('mismatches', []))} day(s)"
        return f"{'full' if self.full else 'incremental'} sync in {self.seconds:.1f}s ({rows or 'no new rows'}); {rec}"


def _resolve(settings_or_url: Settings | str, store_dir: str | Path | None) -> tuple[Settings, str, Path]:
    if isinstance(settings_or_url, Settings):
        return settings_or_url, settings_or_url.source_url, Path(store_dir or settings_or_url.store_dir)
    if store_dir is None:
        raise ValueError("store_dir is required when a URL is given")
    return load_settings(), str(settings_or_url), Path(store_dir)


def _rebuild_needed(prev: Manifest, url: str, bounds: BucketBounds, rules: RuleSet, pack: RulePack) -> bool:
    """True when the previous version was built from another source, format, bucket bounds, rule limits or pack."""
    return (prev.format != FORMAT_VERSION or (prev.compliance or {}).get("pack") != pack.version
            or tuple(prev.bucket_upper) != bounds.upper
            or prev.source != _safe_url(url) or prev.after_hours != list(rules.after_hours())
            or prev.limits != [rules.max_unanswered_per_phone_day, rules.max_connected_per_case_day])


def run_sync(settings_or_url: Settings | str, store_dir: str | Path | None = None, full: bool = False,
             *, bounds: BucketBounds = DEFAULT_BUCKETS, reconcile_days: int | None = RECONCILE_DAYS,
             reader_method: str | None = None, rules: RuleSet | None = None,
             pack: RulePack | None = None) -> SyncResult:
    """Sync the store from the case database (incrementally unless `full`); swap it in atomically. A bad house
    rule file stops it with RulePackError (the store built with the last valid pack stays in service)."""
    t0 = time.perf_counter()
    settings, url, store_dir = _resolve(settings_or_url, store_dir)
    rules = rules or load_rules(settings.rules_file)
    if pack is None:
        pack, problem = active_pack(settings.rules_dir)
        if problem:
            raise RulePackError(problem)
    manifest_prev = None if full else read_manifest(store_dir)
    if manifest_prev and _rebuild_needed(manifest_prev, url, bounds, rules, pack):
        manifest_prev = None  # another source, bounds or format: rebuild from scratch
    is_full = manifest_prev is None
    wm = Watermarks.from_json(manifest_prev.watermarks.to_json()) if manifest_prev else Watermarks()
    with Reader(url, prefer=reader_method) as reader:
        writer = StoreWriter(store_dir)
        prev = None if is_full else current_version(store_dir)
        ctx = SyncContext(reader, writer, bounds, prev, rules, settings.sync_month_workers, pack)
        timings: dict[str, float] = {}
        peaks: dict[str, int] = {}

        def timed(name: str, fn: Callable, *args: object) -> Any:
            t = time.perf_counter()
            out = fn(*args)
            timings[name] = round(time.perf_counter() - t, 3)
            peaks[name] = _peak_rss_mb()
            return out

        pool = ThreadPoolExecutor(max_workers=2)  # the early totals; a new day's promises and agency rollup
        try:
            # the source side of the append-only tables' reconciliation runs on a second connection while
            # the sync works, bounded by the max ids read now; an incremental sync checks from the last
            # `reconcile_days` before the previous data_as_of (the new one is not earlier)
            for kind, table, id_col in (("payments", S.payments, "payment_id"),
                                        ("contacts", S.contacts, "contact_id")):
                ctx.id_limits[kind] = reader.scalar(sa.select(sa.func.max(table.c[id_col]))) or 0
            early_since = None
            prev_as_of = manifest_prev.data_as_of if manifest_prev else None
            if not is_full and reconcile_days is not None and prev_as_of:
                early_since = dt.date.fromisoformat(prev_as_of) - dt.timedelta(days=reconcile_days)
            meta = timed("dims", sync_dims, ctx)
            ctx.compliance = timed("compliance_prepare", prepare_compliance, ctx)
            touched = timed("cases", sync_cases, ctx, wm)
            # after the cases, which a new day reads on both cores (the rest of the sync leaves it time enough)
            early = pool.submit(early_totals, url, reader.method, early_since, dict(ctx.id_limits))
            rebuild = timed("snapshots", sync_snapshots, ctx, wm)
            timed("snapshot_rollups", snapshot_rollups, ctx, rebuild, touched)
            timed("payments", sync_payments, ctx, wm)
            if is_full:  # one stage at a time: a full sync's memory is bounded by one stage's month
                timed("agency", sync_agency, ctx)
                timed("contacts", sync_contacts, ctx, wm)
                timed("promises", sync_promises, ctx, wm)
            else:
                # a new day's contacts leave a core idle much of their time: the promises (tables of their own,
                # on a connection of their own) and then the agency rollup (the store's payments and snapshots
                # only) are made beside them — the rollup only when it redoes the new days' months alone (a
                # rebuild of every placement keeps its memory to itself)
                side: list[tuple] = [("promises", sync_promises, wm)]
                if placements_kept(ctx):
                    side.append(("agency", sync_agency, True))
                else:
                    timed("agency", sync_agency, ctx, False)
                beside = pool.submit(_beside, ctx, timed, *side)
                try:
                    timed("contacts", sync_contacts, ctx, wm)
                except BaseException as exc:
                    _note_beside(exc, beside)
                    raise
                beside.result()
            timed("complaints", sync_complaints, ctx)  # after the contacts: it reads their breaches
            shutil.rmtree(writer.path / "_spill", ignore_errors=True)
            days = pl.concat([pl.read_parquet(writer.path / f"base/{k}_days.parquet").select("day")
                              for k in ("payments", "contacts")])
            as_of = days.get_column("day").max()
            since = None
            if not is_full and reconcile_days is not None and as_of is not None:
                since = as_of - dt.timedelta(days=reconcile_days)
            source = early.result()
            if since is not None and early_since is not None and since >= early_since:
                source = {k: v.filter(pl.col("day") >= since) for k, v in source.items()}
            elif since != early_since:
                source = None  # the early read does not cover the period: read it again
            rec = timed("reconcile", reconcile, reader, writer.path, since, dict(ctx.id_limits), source)
            manifest = Manifest(
                format=FORMAT_VERSION, source=_safe_url(url), backend=reader.kind, reader=reader.method,
                synced_at=dt.datetime.now().isoformat(timespec="seconds"), full=is_full,
                bucket_upper=list(bounds.upper), rules=rules.version, after_hours=list(rules.after_hours()),
                limits=[rules.max_unanswered_per_phone_day, rules.max_connected_per_case_day],
                data_as_of=as_of.isoformat() if as_of else None, watermarks=wm, rows_read=ctx.rows,
                timings_s=timings, peak_rss_mb_after=peaks, reconciliation=rec,
                compliance=compliance_summary(ctx.compliance), **meta)
            path = writer.commit(manifest)
        except BaseException:
            pool.shutdown(wait=True)  # a stage still running beside the failed one never writes into a removed version
            writer.abort()
            raise
        finally:
            pool.shutdown(wait=True)
            if ctx.reader2 is not None:
                ctx.reader2.close()
    return SyncResult(full=is_full, store_path=path, seconds=time.perf_counter() - t0,
                      rows_read=ctx.rows, reconciliation=rec)


def _beside(ctx: SyncContext, timed: Callable, *stages: tuple) -> None:
    """Stages (name, function, its arguments after the context) timed one after another on a branch of the
    context (its own connection), for a thread of its own."""
    with ctx.branch() as side:
        for name, stage, *args in stages:
            try:
                timed(name, stage, side, *args)
            except BaseException as exc:
                exc.sync_stage = name  # for _note_beside, when the stage beside this one fails too
                raise


def _note_beside(exc: BaseException, beside: Future) -> None:
    """Wait for the stages beside a failed one: an error of theirs as well is logged and noted on the first, which
    stays the sync's error (before, it was never read)."""
    try:
        beside.result()
    except BaseException as other:  # noqa: BLE001 - reported beside the first, which is raised
        stage = getattr(other, "sync_stage", None)
        if stage is None and isinstance(other, (KeyboardInterrupt, SystemExit)):
            raise  # an interrupt while waiting, not a stage's failure
        line = (f"{f'the {stage} stage' if stage else 'a stage beside it'} failed as well: "
                f"{type(other).__name__}: {describe(other)}")
        exc.add_note(line)
        log.error("sync: %s", line)


def _peak_rss_mb() -> int:
    """Peak resident memory of this process so far, in MB (0 where the platform has no getrusage)."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except (ImportError, OSError):
        return 0


def _safe_url(url: str) -> str:
    """The URL without its password (what the manifest records)."""
    return sa.make_url(url).render_as_string(hide_password=True)
