"""The only module with st.cache_*: wraps queries.* for the pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import make_url

from queries import pages_data
from queries.config import Settings, load_settings
from queries.db import SourceError, describe_error, read_only_engine
from queries.filters import Filters
from queries.metrics import MetricError, MetricUnavailable
from queries.metrics.registry import compute, glossary as _glossary
from queries.report import max_age_s
from queries.store import Store, StoreMissing
from queries.summary import database_summary as _database_summary

SOURCE_ERRORS = (SourceError, sa.exc.SQLAlchemyError, OSError)


@st.cache_resource
def settings() -> Settings:
    """Runtime settings, read once per server process."""
    return load_settings()


@st.cache_resource
def engine() -> sa.Engine:
    """The read-only engine on the case database."""
    return read_only_engine(settings().source_url)


def source_label() -> str:
    """The source URL without its password, for display."""
    return make_url(settings().source_url).render_as_string(hide_password=True)


@st.cache_data(ttl=300, show_spinner=False)
def database_summary() -> tuple[pl.DataFrame | None, str | None]:
    """Table row counts and date spans, or the reason they cannot be read."""
    try:
        return _database_summary(engine()), None
    except SOURCE_ERRORS as exc:
        return None, describe_error(exc)


# ---------------------------------------------------------------- the analytics store


@dataclass(frozen=True)
class StoreState:
    """The store the pages read, and the source error when the last sync attempt failed."""

    store: Store
    source_error: str | None = None

    @property
    def version(self) -> str:
        """Name of the store version: part of every cache key, so a new sync invalidates them."""
        return self.store.path.name


def _ensure_demo(s: Settings) -> None:
    if s.is_demo and not s.demo_db_path.exists():
        from queries.cli import ensure_demo_database

        ensure_demo_database(s)


@st.cache_resource(ttl=max_age_s(), show_spinner="正在同步分析库 · Syncing the analytics store …")
def _store_state() -> StoreState:
    """Open the store once per process; sync first when it is missing or older than the max age."""
    from queries.sync import run_sync

    s = settings()
    try:
        current = Store.open(s.store_dir)
    except StoreMissing:
        current = None
    if current is not None and current.age_seconds() <= max_age_s():
        return StoreState(current)
    try:
        _ensure_demo(s)
        run_sync(s, s.store_dir, full=False)
    except SOURCE_ERRORS as exc:
        if current is None:
            raise SourceError(describe_error(exc)) from exc  # not cached: retried on the next run
        return StoreState(current, describe_error(exc))
    return StoreState(Store.open(s.store_dir))


def store_state() -> tuple[StoreState | None, str | None]:
    """The store state, or None and the reason no store can be served."""
    try:
        return _store_state(), None
    except SOURCE_ERRORS as exc:
        return None, describe_error(exc)


def _store() -> Store:
    return _store_state().store


# ---------------------------------------------------------------- metrics and page compositions


@dataclass(frozen=True)
class Result:
    """A metric frame, or the one-line reason it cannot be shown."""

    df: pl.DataFrame | None
    note: str | None = None

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return self.df is None or self.df.height == 0


@st.cache_data(show_spinner=False, max_entries=4000)
def _metric(version: str, key: str, filters: Filters, by: tuple[str, ...], options: tuple) -> Result:
    try:
        return Result(compute(key, _store(), filters, by, **dict(options)))
    except (MetricUnavailable, MetricError) as exc:
        return Result(None, str(exc))


def metric(key: str, filters: Filters, by: tuple[str, ...] = (), **options: object) -> Result:
    """One registry metric for these filters, cached on (store version, metric, filters, by, options)."""
    return _metric(_store_state().version, key, filters, tuple(by), tuple(sorted(options.items())))


@st.cache_data(show_spinner=False, max_entries=2000)
def _compose(version: str, name: str, filters: Filters, options: tuple) -> Result:
    fn: Callable[..., pl.DataFrame] = getattr(pages_data, name)
    try:
        return Result(fn(_store(), filters, **dict(options)))
    except (MetricUnavailable, MetricError) as exc:
        return Result(None, str(exc))


def compose(name: str, filters: Filters, **options: object) -> Result:
    """A page composition from queries.pages_data (several metric calls joined), cached like metric()."""
    return _compose(_store_state().version, name, filters, tuple(sorted(options.items())))


def kpis(filters: Filters) -> dict:
    """The daily-recovery KPI values for the day filters.end and the same day last month."""
    return _kpis(_store_state().version, filters)


@st.cache_data(show_spinner=False, max_entries=1000)
def _kpis(version: str, filters: Filters) -> dict:
    return pages_data.daily_kpis(_store(), filters)


def options() -> pages_data.Options:
    """Choices for the filter widgets (teams, agents, products, regions, buckets, snapshots)."""
    return _options(_store_state().version)


@st.cache_data(show_spinner=False, max_entries=8)
def _options(version: str) -> pages_data.Options:
    return pages_data.filter_options(_store())


def glossary(lang: str) -> pl.DataFrame:
    """Every registered metric with its definition (no caching needed: built from constants)."""
    return _glossary(lang)


# ---------------------------------------------------------------- drill-down on the case database


@st.cache_data(ttl=120, show_spinner=False, max_entries=500)
def cases(filters: Filters, drill: tuple, page: int, page_size: int = 50) -> tuple[object | None, str | None]:
    """One page of the cases behind a selection (masked), or the reason it failed."""
    from queries.drilldown import DrillDownError, list_cases

    kwargs = dict(drill)
    try:
        return list_cases(engine(), filters, page=page, page_size=page_size, **kwargs), None
    except DrillDownError as exc:
        return None, str(exc)
    except SOURCE_ERRORS as exc:
        return None, describe_error(exc)


@st.cache_data(ttl=120, show_spinner=False, max_entries=500)
def timeline(case_id: int, filters: Filters) -> tuple[object | None, str | None]:
    """A case's masked header and events, or the reason it failed."""
    from queries.drilldown import case_timeline

    try:
        return case_timeline(engine(), case_id, filters=filters), None
    except SOURCE_ERRORS as exc:
        return None, describe_error(exc)

