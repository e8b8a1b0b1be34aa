"""Many sessions at once on a fresh server: every one renders its page, none sees an exception."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import streamlit_server  # noqa: E402
from streamlit_ws import view  # noqa: E402

PAGES = {"agents": "Agent performance", "complaints": "Complaints", "aging": "Aging", "trends": "Monthly trends"}


@pytest.fixture
def fresh_server(app_source, tmp_path):  # noqa: ANN001, ANN201
    """A new server process (nothing imported or cached yet), users signed in by a trusted header."""
    url, store = app_source
    own = tmp_path / "store"
    shutil.copytree(store, own)
    access = tmp_path / "access.toml"
    access.write_text("".join(f'[users."u{i}@t"]\nrole = "manager"\n\n' for i in range(12)), encoding="utf-8")
    env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(tmp_path),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_AUTH_HEADER": "X-Test-User", "CASES_ACCESS_FILE": str(access)}
    with streamlit_server(env) as base:
        yield base.replace("http://", "ws://") + "/_stcore/stream"


def test_first_views_at_once_all_render(fresh_server) -> None:  # noqa: ANN001
    pages = [list(PAGES)[i % len(PAGES)] for i in range(12)]

    async def all_at_once() -> list:
        return await asyncio.gather(*[
            view(fresh_server, page, "lang=en&period=mtd", 180, f"u{i}@t", expect=PAGES[page], header="X-Test-User")
            for i, page in enumerate(pages)])

    results = asyncio.run(all_at_once())
    assert [err for _, err in results] == [None] * len(pages)
