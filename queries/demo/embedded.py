"""The embedded demo case database: made on first start (and again each day, so its history ends today)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from queries.demo import build_demo_database
from queries.settings import Settings

DEMO_SEED = 7


def ensure_demo_database(settings: Settings, today: dt.date | None = None) -> Path:
    """Create (or refresh, when its history ends before today) the embedded demo database."""
    today = today or dt.date.today()
    path = settings.demo_db_path
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists():
        made = json.loads(stamp.read_text())
        if made.get("as_of") == today.isoformat():
            return path
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Creating the demo case database in {path} (about 20,000 cases; a few seconds) …", file=sys.stderr)
    result = build_demo_database(f"sqlite:///{path}", "demo", DEMO_SEED, today, replace=True,
                                 progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    stamp.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return path
