"""A view whose tab is closed as soon as the page shows is still in the audit log: a real server, Chromium."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

PAGES = ("daily", "agents", "aging", "trends", "complaints", "compliance")


def _views(store: Path) -> list[dict]:
    lines = [ln for f in sorted((store / "audit").glob("*.jsonl")) for ln in f.read_text().splitlines() if ln]
    return [e for e in map(json.loads, lines) if e.get("action") == "view"]


def test_a_tab_closed_at_the_heading_leaves_its_view_audited(app_source, chrome, tmp_path) -> None:
    from screenshots import PAGES as HEADINGS
    from screenshots import new_page, streamlit_server

    url, store = app_source
    own = tmp_path / "store"
    shutil.copytree(store, own)
    before = len(_views(own))
    env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(own), "CASES_DATA_DIR": str(tmp_path),
           "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ALLOW_DEMO_MODE": "1"}
    with streamlit_server(env) as base:
        shown = []
        for path in PAGES:
            page = new_page(chrome)
            try:
                page.goto(f"{base}/{'' if path == 'daily' else path}", wait_until="domcontentloaded")
                page.get_by_role("heading", name=HEADINGS[path][0]).first.wait_for(timeout=120_000)
                shown.append(path)
            finally:
                page.context.close()  # at once: the page's run may still be drawing
        deadline = time.monotonic() + 30
        while len(_views(own)) - before < len(shown) and time.monotonic() < deadline:
            time.sleep(0.2)
        views = _views(own)[before:]
    assert sorted(v["page"] for v in views) == sorted(shown)
