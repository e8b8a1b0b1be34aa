"""The compliance drill-down on every backend: the breaching contacts behind a figure, read from the case database by
contact_id, are as many as the figure counts, are the contacts a plain row-by-row check of the rule finds, carry the
source's values, stay within the viewer's scope and are masked unless compliance asks."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from fixtures_demo import AS_OF

from queries.filters import Filters, Scope
from queries.metrics.registry import compute
from queries.source.engines import read_only_engine
from queries.store import Store
from queries.views.compliance import breach_contacts, iter_breach_contacts

YTD = Filters(AS_OF.replace(month=1, day=1), AS_OF)
MANAGER = Scope(teams=None, role="manager")
COMPLIANCE = Scope(teams=None, role="compliance")
LEAD_T01 = Scope(teams=frozenset({"T01"}), role="team_lead")


@pytest.fixture(scope="module")
def synced(shared_small_source, shared_small_store):  # noqa: ANN001, ANN201
    engine = read_only_engine(shared_small_source)
    yield Store.open(shared_small_store), engine, shared_small_source
    engine.dispose()


def _every(store: Store, engine: sa.Engine, scope: Scope, f: Filters, checks=None, reveal=False) -> pl.DataFrame:  # noqa: ANN001
    first = breach_contacts(store, engine, scope, f, checks, page=1, page_size=200, reveal_pii=reveal)
    pages = [first.rows] + [breach_contacts(store, engine, scope, f, checks, page=p, page_size=200,
                                            reveal_pii=reveal).rows for p in range(2, first.pages + 1)]
    out = pl.concat(pages)
    assert out.height == first.total and out["contact_id"].n_unique() == out.height  # pages do not overlap
    return out


def _source_contacts(url: str, ids: list[int]) -> pl.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        df = pl.read_database(sa.text("SELECT contact_id, contacted_at, agent_id, channel, outcome, phone_no, "
                                      "debtor_consent_after_hours FROM contacts"), conn, infer_schema_length=None)
    engine.dispose()
    at = pl.col("contacted_at")
    df = df.with_columns(at.cast(pl.String).str.to_datetime(strict=False) if df.schema["contacted_at"] == pl.String
                         else at.cast(pl.Datetime("us")))
    return df.filter(pl.col("contact_id").is_in(ids)) if ids else df


@pytest.mark.parametrize("f", [YTD, Filters(YTD.start, YTD.end, teams=("T02",)),
                               Filters(dt.date(2026, 11, 1), AS_OF, buckets=("M1", "M2"))])
def test_each_rules_list_is_as_long_as_its_figure(synced, f: Filters) -> None:  # noqa: ANN001
    store, engine, _ = synced
    ref = compute("breaches", store, f, ("check",))
    seen = 0
    for check in ("quiet_hours", "unanswered_cap", "third_party", "unrecorded"):
        n = int(ref.filter(pl.col("check") == check).get_column("numerator")[0])
        first = breach_contacts(store, engine, MANAGER, f, (check,), page_size=10)
        assert first.total == n, check
        assert first.rows.height == min(n, 10)
        assert all(check in c for c in first.rows.get_column("checks"))
        seen += n
    any_rule = int(compute("breaches", store, f).get_column("numerator")[0])
    assert breach_contacts(store, engine, MANAGER, f).total == any_rule  # each contact once for any rule
    assert seen > 0


def test_the_quiet_hours_list_is_what_a_plain_check_of_the_raw_contacts_finds(synced) -> None:  # noqa: ANN001
    store, engine, url = synced
    got = _every(store, engine, MANAGER, YTD, ("quiet_hours",))
    raw = _source_contacts(url, [])
    hour = pl.col("contacted_at").dt.hour()
    plain = raw.filter(pl.col("contacted_at").dt.date().is_between(YTD.start, YTD.end),
                       pl.col("channel").is_in(["call", "visit", "sms", "email"]),  # letters are exempt
                       (hour >= 22) | (hour < 8), ~pl.col("debtor_consent_after_hours").cast(pl.Boolean))
    assert plain.height > 0
    assert sorted(got["contact_id"].to_list()) == sorted(plain["contact_id"].to_list())
    # the rows carry the source's own values
    src = raw.filter(pl.col("contact_id").is_in(got["contact_id"].to_list())).sort("contact_id")
    mine = got.sort("contact_id")
    for col in ("contacted_at", "agent_id", "channel", "outcome"):
        assert mine[col].to_list() == src[col].to_list(), col


def test_masked_for_every_role_unless_compliance_asks(synced) -> None:  # noqa: ANN001
    store, engine, url = synced
    masked = breach_contacts(store, engine, MANAGER, YTD, ("quiet_hours",), page_size=50, reveal_pii=True).rows
    assert all("*" in p for p in masked["phone_no"].drop_nulls())
    assert all("*" in n for n in masked["customer_name"].drop_nulls())
    shown = breach_contacts(store, engine, COMPLIANCE, YTD, ("quiet_hours",), page_size=50, reveal_pii=True).rows
    src = _source_contacts(url, shown["contact_id"].to_list()).sort("contact_id")
    assert shown.sort("contact_id")["phone_no"].to_list() == src["phone_no"].to_list()
    exported = pl.concat(list(iter_breach_contacts(store, engine, MANAGER, YTD, ("quiet_hours",), reveal_pii=True,
                                                   batch=37)))
    assert exported.height == breach_contacts(store, engine, MANAGER, YTD, ("quiet_hours",)).total
    assert all("*" in p for p in exported["phone_no"].drop_nulls())


def test_a_team_lead_gets_their_teams_only(synced) -> None:  # noqa: ANN001
    from queries.filters import apply

    store, engine, _ = synced
    mine = _every(store, engine, LEAD_T01, apply(LEAD_T01, YTD))
    assert mine.height > 0 and set(mine["team_id"]) == {"T01"}
    assert mine.height == int(compute("breaches", store, Filters(YTD.start, YTD.end, teams=("T01",)))["numerator"][0])
    other = apply(LEAD_T01, Filters(YTD.start, YTD.end, teams=("T02",)))  # a link asking for another team
    assert breach_contacts(store, engine, LEAD_T01, other).total == 0
