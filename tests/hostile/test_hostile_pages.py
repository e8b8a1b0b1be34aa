"""Every page on the hostile case database, in AppTest (each role, both languages) and in a real browser: no
exception, no markup from the data rendered (no beacon image, no link to the attacker, no script), and no request
from the browser to anywhere but the dashboard itself."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from fixtures_app import APP
from fixtures_hostile import BEACON
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

PAGES = ("daily", "agents", "complaints", "compliance", "aging", "trends", "agencies", "cases", "glossary", "data_overview")
ROLES = (("manager", ()), ("compliance", ()))


@pytest.fixture
def hostile_app(hostile_source, tmp_path, monkeypatch) -> tuple[str, Path]:  # noqa: ANN001
    import streamlit as st

    url, store = hostile_source
    target = tmp_path / "store"
    shutil.copytree(store, target, ignore=shutil.ignore_patterns("audit", "leases"))
    st.cache_data.clear()
    st.cache_resource.clear()
    for k, v in {"CASES_DB_URL": url, "CASES_STORE_DIR": str(target), "CASES_DATA_DIR": str(tmp_path),
                 "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1", "CASES_AUDIT_KEY": "k" * 32}.items():
        monkeypatch.setenv(k, v)
    for name in ("CASES_AUTH_HEADER", "CASES_ACCESS_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield url, target
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_renders_hostile_data_without_an_exception(hostile_app, lang: str) -> None:  # noqa: ANN001
    from queries.governance.audit import verify

    _, store = hostile_app
    seen = 0
    for role, teams in ROLES:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["lang"] = lang
        at.session_state["demo_role"] = role
        at.run()
        for page in PAGES:
            at.switch_page(f"dashboard/pages/{page}.py").run()
            assert not at.exception, (role, page, at.exception)
            seen += 1
    assert seen == len(ROLES) * len(PAGES)
    assert verify(store) == []  # every view was audited, and the chain holds with hostile filters in it


@pytest.mark.slow
def test_the_browser_renders_no_markup_and_calls_no_one(hostile_app) -> None:  # noqa: ANN001
    from screenshots import CHROMIUM, browser, open_page, streamlit_server
    from screenshots import PAGES as SHOT_PAGES

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    url, store = hostile_app
    env = {k: os.environ[k] for k in ("CASES_DB_URL", "CASES_STORE_DIR", "CASES_DATA_DIR", "CASES_STORE_MAX_AGE_S",
                                      "CASES_ALLOW_DEMO_MODE", "CASES_AUDIT_KEY")}
    outside: list[str] = []
    with streamlit_server(env) as base, browser() as page:
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:", "blob:"))
                else None)
        for path in ("daily", "agents", "complaints", "compliance", "aging", "trends", "agencies", "cases", "glossary",
                     "data"):
            open_page(page, base, path, query="period=ytd" if path != "cases" else "")
            bad = page.evaluate("""(beacon) => {
                const out = [];
                for (const img of document.querySelectorAll('img')) if ((img.src || '').includes('beacon')) out.push('img ' + img.src);
                for (const a of document.querySelectorAll('a')) if ((a.href || '').includes('evil.example')) out.push('a ' + a.href);
                for (const s of document.querySelectorAll('script')) if ((s.textContent || '').includes('alert(1)')) out.push('script');
                for (const b of document.querySelectorAll('[data-testid="stMarkdownContainer"] b, [data-testid="stMarkdownContainer"] h1'))
                    if ((b.textContent || '').includes('bold') || (b.textContent || '').includes('标题')) out.push('markup ' + b.outerHTML.slice(0, 80));
                return out; }""", BEACON)
            assert not bad, (path, bad)
            assert SHOT_PAGES[path][0] in page.content()
    assert not outside, sorted(set(outside))[:10]
