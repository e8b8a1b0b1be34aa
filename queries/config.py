"""Where the case database and the analytics store are, read from the environment or secrets."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path("data")
DEMO_DB_NAME = "demo.sqlite"


@dataclass(frozen=True)
class Settings:
    """Resolved runtime settings: source URL (None means the embedded demo), store dir, timezone."""

    db_url: str | None
    store_dir: Path
    data_dir: Path
    timezone: str = "Asia/Shanghai"
    #: The access file (user → role, teams); None when none is configured (demo mode only).
    access_file: Path | None = None

    @property
    def is_demo(self) -> bool:
        """True when no real case database is configured."""
        return self.db_url is None

    @property
    def demo_db_path(self) -> Path:
        """Path of the embedded demo SQLite database."""
        return self.data_dir / DEMO_DB_NAME

    @property
    def source_url(self) -> str:
        """URL of the case database actually read (the demo file when none is configured)."""
        return self.db_url or f"sqlite:///{self.demo_db_path.resolve()}"


def _secrets_url(secrets_path: Path) -> str | None:
    if not secrets_path.is_file():
        return None
    with secrets_path.open("rb") as fh:
        data = tomllib.load(fh)
    url = data.get("connections", {}).get("cases", {}).get("url")
    return str(url) if url else None


def load_settings(cwd: Path | None = None) -> Settings:
    """Read CASES_DB_URL / .streamlit/secrets.toml, CASES_DATA_DIR, CASES_STORE_DIR, CASES_TZ, CASES_ACCESS_FILE."""
    cwd = cwd or Path.cwd()
    url = os.environ.get("CASES_DB_URL") or _secrets_url(cwd / ".streamlit" / "secrets.toml")
    data_dir = Path(os.environ.get("CASES_DATA_DIR") or cwd / DEFAULT_DATA_DIR)
    store_dir = Path(os.environ.get("CASES_STORE_DIR") or data_dir / "store")
    access = os.environ.get("CASES_ACCESS_FILE")
    default_access = cwd / ".streamlit" / "access.toml"
    access_file = Path(access) if access else (default_access if default_access.is_file() else None)
    return Settings(db_url=url or None, store_dir=store_dir, data_dir=data_dir,
                    timezone=os.environ.get("CASES_TZ", "Asia/Shanghai"), access_file=access_file)
