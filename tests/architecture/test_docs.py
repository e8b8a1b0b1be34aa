"""The docs stay in step with the code: metrics, settings, enumeration labels, the layout drawing."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.i18n import _VALUES, value
from queries.metrics.registry import METRICS, docs_table
from queries.settings import VARIABLES
from queries.source import contract as S

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
METRICS_MD = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
DESIGN_MD = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")

ENUMERATIONS = {
    "teams.channel": S.TEAM_CHANNELS, "cases.status": S.CASE_STATUSES, "contacts.channel": S.CONTACT_CHANNELS,
    "contacts.party": S.CONTACT_PARTIES, "contacts.outcome": S.CONTACT_OUTCOMES,
    "promises.status": S.PROMISE_STATUSES, "payments.method": S.PAYMENT_METHODS,
    "complaints.source": S.COMPLAINT_SOURCES, "complaints.category": S.COMPLAINT_CATEGORIES,
    "complaints.severity": S.COMPLAINT_SEVERITIES, "complaints.status": S.COMPLAINT_STATUSES,
}


def test_docs_metrics_table_is_made_from_the_declarations() -> None:
    assert docs_table() in METRICS_MD, "docs/metrics.md: paste the output of registry.docs_table()"
    for key in METRICS:
        assert f"| `{key}` |" in METRICS_MD


def test_every_setting_is_in_the_readme() -> None:
    assert len(VARIABLES) >= 10
    missing = [name for name in VARIABLES if f"`{name}`" not in README]
    assert not missing


def test_no_setting_is_read_outside_settings() -> None:
    hits = []
    for path in [*(ROOT / "queries").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py"), ROOT / "streamlit_app.py"]:
        if path.name == "settings.py" and path.parent.name == "queries":
            continue
        text = path.read_text(encoding="utf-8")
        hits += [f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"environ(?:\.get)?\(\s*[\"'](CASES_\w+)", text)]
        hits += [f"{path.relative_to(ROOT)}: getenv {m}" for m in re.findall(r"getenv\(\s*[\"'](CASES_\w+)", text)]
    assert not hits


def test_every_enumeration_value_has_both_labels() -> None:
    for column, values in ENUMERATIONS.items():
        for v in values:
            assert v in _VALUES, f"{column} = {v!r} has no label in dashboard/i18n.py"
            zh, en = value(v, "zh"), value(v, "en")
            assert zh != v and en, (column, v)
            assert re.search(r"[\u4e00-\u9fff]", zh), f"{column} = {v!r}: the Chinese label has no Chinese"


def _layout_folders() -> set[str]:
    block = DESIGN_MD.split("### 2.1 Layout", 1)[1].split("```", 2)[1]
    found, parent = set(), None
    for line in block.splitlines():
        m = re.match(r"^(\s*)([a-z_]+)/\s", line + " ")
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        if indent == 0:
            parent = name
            found.add(name)
        elif parent in ("queries", "dashboard"):
            found.add(f"{parent}/{name}")
    return found


def test_the_layout_drawing_matches_the_folders() -> None:
    drawn = {f for f in _layout_folders() if f.startswith(("queries/", "dashboard/"))}
    actual = {f"{pkg}/{d.name}" for pkg in ("queries", "dashboard") for d in (ROOT / pkg).iterdir()
              if d.is_dir() and (d / "__init__.py").exists() or (d.is_dir() and d.name == "pages")}
    assert drawn == actual


def test_the_docs_stand_alone() -> None:
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(encoding="utf-8"), path.name
