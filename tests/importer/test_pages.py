"""The dashboard on the imported UCI database (AppTest): portfolio pages work, pages needing contacts, promises or
complaints explain that the database holds none, and nothing raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_importer import MAPPING

NO_CONTACTS = "this database holds no contact records"
NO_COMPLAINTS = "this database holds no complaint records"


@pytest.fixture(scope="module")
def app_source(uci_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The UCI import (SQLite) and its store: replaces the demo source of fixtures_app for this module."""
    from queries.importer import import_status
    from queries.sync import run_sync

    d = tmp_path_factory.mktemp("uci-app")
    url = f"sqlite:///{d / 'uci.sqlite'}"
    import_status([uci_csv], url, MAPPING)
    run_sync(url, d / "store", full=True)
    return url, d / "store"


def _texts(at) -> str:  # noqa: ANN001
    return "\n".join(str(e.value) for kind in ("info", "warning", "caption", "markdown", "metric")
                     for e in at.get(kind))


def test_daily_page_has_collections_and_no_made_up_promise_count(run_app) -> None:  # noqa: ANN001
    at = run_app(query={"lang": "en"})
    assert not at.exception, at.exception
    assert any("30 Sep 2005" in c.value for c in at.caption)
    card = next(m for m in at.metric if m.label == "PTPs due today")
    assert card.value == "—"  # no promises in the database: no count, not a zero
    assert next(m for m in at.metric if m.label == "Collected today").value != "—"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_agents_page_explains_there_are_no_contacts(run_app, lang: str) -> None:  # noqa: ANN001
    at = run_app("agents", query={"lang": lang})
    assert not at.exception, at.exception
    infos = [i.value for i in at.info]
    reason = "案件库中没有催收行动记录" if lang == "zh" else NO_CONTACTS  # in the page's language only
    other = NO_CONTACTS if lang == "zh" else "案件库中没有催收行动记录"
    assert any(reason in v for v in infos) and not any(other in v for v in infos), infos
    assert not at.dataframe  # no leaderboard of zeros


def test_complaints_page_explains_there_are_no_complaints(run_app) -> None:  # noqa: ANN001
    at = run_app("complaints", query={"lang": "en"})
    assert not at.exception, at.exception
    assert sum(NO_COMPLAINTS in i.value for i in at.info) >= 4  # category, source, team, agent, weekly, open list
    assert not any("No open complaints" in i.value for i in at.info)  # never "none open" when there are none at all
    assert all(m.value == "—" for m in at.metric[:4]), [m.value for m in at.metric[:4]]  # no zero counts


def test_aging_and_trends_pages_show_the_portfolio(run_app) -> None:  # noqa: ANN001
    at = run_app("aging", query={"lang": "en"})
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 3  # balance by bucket, roll matrix, roll trend (cure too)
    assert not any("not in the case database" in i.value for i in at.info)
    at = run_app("trends", query={"lang": "en"})
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 2  # monthly collected, liquidation by vintage
