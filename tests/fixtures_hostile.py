"""A hostile case database: the small demo centre with every text column filled from a corpus of what real bank
data and attackers put there — formula prefixes, markdown, HTML, Streamlit directives, control and bidi
characters, line separators, NUL, 5,000-character strings — and, where the backend allows, wrong types.

Ids stay unique and consistent across tables (so the centre still adds up); enumerations keep valid values
except for a few rows given hostile ones (doctor must name them, metrics must ignore them).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa

BEACON = "http://127.0.0.1:9/beacon.png"  # a closed port: a browser fetching it is a leak the tests catch
CORPUS: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example","点我")', "+86 138 0000 0000", "-1+2", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
    f"![x]({BEACON})", "**粗体** _斜体_", "[链接](http://evil.example)", "# 标题", "> quote", "`code`",
    f"<img src={BEACON}>", "<script>alert(1)</script>", "<a href='http://evil.example'>点这里</a>", "<b>bold</b>",
    ":red[红色]", ":material/warning: 注意", ":rainbow[x]", "$$x^2$$", "a\x00b", "\u202e王小明", "x\u2028y",
    "x\u2029y", "x\x85y", "\x1b[31mred\x1b[0m", "tab\there", "line\nbreak", "Robert'); DROP TABLE cases;--",
    "张" * 5000, "x" * 5000, "   spaced   ", "emoji 😀", "",
)
#: every agent and team name carries this probe: any place that renders a name as markdown or HTML makes the
#: browser fetch the beacon, shows a link or bold text — the browser test looks for all three
PROBE = f"![b]({BEACON}) <img src={BEACON}> [点我](http://evil.example) **bold** :red[红]"
#: hostile ids: short enough for the contract's 16 characters, unique, still joinable
ID_PREFIXES = ("=", "+", "-", "@", "<b>", ":red[", "\u202e", "![", "|")
#: text columns that are enumerations of the contract (kept valid except a few hostile rows)
ENUMS = {("teams", "channel"), ("cases", "status"), ("contacts", "channel"), ("contacts", "party"),
         ("contacts", "outcome"), ("promises", "status"), ("payments", "method"), ("complaints", "source"),
         ("complaints", "category"), ("complaints", "severity"), ("complaints", "status"),
         ("repayment_plans", "status")}
#: columns that are keys shared between tables
ID_COLUMNS = ("team_id", "agent_id", "lead_agent_id")


def hostile_id(old: str, i: int) -> str:
    """A hostile but unique id of at most 16 characters."""
    return f"{ID_PREFIXES[i % len(ID_PREFIXES)]}{old}"[:16]


def make_hostile(url: str) -> dict[str, int]:
    """Rewrite the text columns of the case database at `url` in place; per table, the rows changed."""
    from queries.source import contract as S

    engine = sa.create_engine(url)
    changed: dict[str, int] = {}
    corpus = itertools.cycle(CORPUS)
    with engine.begin() as conn:
        kind = engine.dialect.name
        if kind == "mysql":
            conn.execute(sa.text("SET SESSION sql_mode = ''"))  # let the server keep what it can
        teams = [r[0] for r in conn.execute(sa.select(S.teams.c.team_id))]
        agents = [r[0] for r in conn.execute(sa.select(S.agents.c.agent_id))]
        ids = {old: hostile_id(old, i) for i, old in enumerate([*teams, *agents])}
        for t in S.TABLES:
            cols = [c for c in t.columns if isinstance(c.type, sa.String)]
            if not cols:
                continue
            n = 0
            for col in cols:
                if col.name in ID_COLUMNS:
                    for old, new in ids.items():
                        n += conn.execute(t.update().where(t.c[col.name] == old).values({col.name: new})).rowcount
                elif (t.name, col.name) in ENUMS:
                    pk = list(t.primary_key.columns)[0]
                    first = conn.execute(sa.select(pk).order_by(pk).limit(3)).scalars().all()
                    for k in first:
                        n += conn.execute(t.update().where(pk == k).values({col.name: next(corpus)[:16]})).rowcount
                elif (t.name, col.name) in (("agents", "agent_name"), ("teams", "team_name")):
                    pk = list(t.primary_key.columns)[0]
                    for k in conn.execute(sa.select(pk)).scalars().all():
                        n += conn.execute(t.update().where(pk == k).values({col.name: f"{PROBE} {k}"})).rowcount
                elif t.name in ("teams", "agents", "cases"):
                    pk = list(t.primary_key.columns)[0]
                    for k in conn.execute(sa.select(pk)).scalars().all():
                        value = next(corpus)
                        if kind != "sqlite" and col.type.length:
                            value = value[: col.type.length]  # servers enforce the length
                        n += conn.execute(t.update().where(pk == k).values({col.name: value})).rowcount
                else:  # event tables are large: a hostile value every few rows
                    pk = list(t.primary_key.columns)[0]
                    keys = conn.execute(sa.select(pk).order_by(pk)).scalars().all()[::50]
                    for k in keys:
                        value = next(corpus)
                        if kind != "sqlite" and col.type.length:
                            value = value[: col.type.length]
                        n += conn.execute(t.update().where(pk == k).values({col.name: value})).rowcount
            changed[t.name] = n
        if kind == "sqlite":  # wrong types where the backend allows them
            conn.execute(sa.text("UPDATE cases SET current_dpd = 'n/a' WHERE case_id = (SELECT MIN(case_id) FROM cases)"))
            conn.execute(sa.text("UPDATE payments SET method = 42 WHERE payment_id = (SELECT MIN(payment_id) FROM payments)"))
    engine.dispose()
    return changed


@pytest.fixture(scope="session")
def hostile_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The hostile small centre on SQLite, with its store synced (or the reason the sync refused)."""
    from fixtures_demo import AS_OF, SMALL

    from queries.demo import build_demo_database
    from queries.sync import run_sync

    d = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{d / 'hostile.sqlite'}"
    build_demo_database(url, SMALL, seed=5, as_of=AS_OF)
    make_hostile(url)
    run_sync(url, d / "store", full=True)
    return url, d / "store"


__all__ = ["BEACON", "CORPUS", "PROBE", "hostile_source", "make_hostile"]
