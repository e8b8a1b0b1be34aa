"""Every setting of the dashboard: each `CASES_*` environment variable is named once, here, with what it does.

Code never reads `os.environ` for a `CASES_*` variable itself: it calls `load_settings()` (the whole set,
read when called, never at import) or `variable(name)` for one value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path("data")
DEMO_DB_NAME = "demo.sqlite"


#: A sync process's environment, set before the libraries that read it are loaded (in the sync command, and for
#: the dashboard's sync child); a value the operator set is kept.
#: - Polars' allocator (jemalloc). Polars keeps freed pages 0.5 s, then a second more as "muzzy" (MADV_FREE): those
#:   still count in the process's resident memory until the kernel wants them, so what one stage freed is counted
#:   again while the next allocates. 0 returns them as they leave (MADV_DONTNEED). Polars adds it after its own
#:   defaults when it is loaded.
#: - NumPy's OpenBLAS: a sync does no linear algebra, but OpenBLAS starts a thread per core when NumPy is imported,
#:   and those spin for work (~0.1 s of CPU in a new day's ~3 s, taken from the cores the sync needs).
SYNC_ENVIRONMENT = {"_RJEM_MALLOC_CONF": "muzzy_decay_ms:0", "OPENBLAS_NUM_THREADS": "1"}


def with_sync_environment(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """`env` with SYNC_ENVIRONMENT's variables added where it has none of its own (changes `env` in place)."""
    for name, value in SYNC_ENVIRONMENT.items():
        env.setdefault(name, value)
    return env


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default (as text) and what it sets."""

    name: str
    default: str | None  # the value used when the variable is unset (None: no value)
    doc: str


#: Every `CASES_*` variable the dashboard, the command line and the sync read. The README lists each one
#: (a test checks it).
VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("CASES_DB_URL", None, "SQLAlchemy URL of the case database; unset means the embedded demo "
             "database (or [connections.cases] url in .streamlit/secrets.toml)."),
    Variable("CASES_DATA_DIR", None, "Folder for the demo database and, by default, the analytics store "
             "(default ./data)."),
    Variable("CASES_STORE_DIR", None, "The dashboard's own analytics store, Parquet (default <CASES_DATA_DIR>/store)."),
    Variable("CASES_TZ", "Asia/Shanghai", "Time zone of the case database's local timestamps."),
    Variable("CASES_ACCESS_FILE", None, "The access file: users, roles and teams (default .streamlit/access.toml "
             "when it exists)."),
    Variable("CASES_STORE_MAX_AGE_S", "900", "Seconds after which the dashboard and `report` sync the store "
             "before serving it."),
    Variable("CASES_AUTH_HEADER", None, "Name of the identity header a trusted reverse proxy sets "
             "(e.g. X-Forwarded-Email)."),
    Variable("CASES_ALLOW_DEMO_MODE", None, "1 allows the demo role picker on a configured (real) database."),
    Variable("CASES_COMPLAINT_SLA_DAYS", "15", "Default service level, in days, for open complaints."),
    Variable("CASES_RULES_FILE", None, "JSON file overriding the collection rule set's limits."),
    Variable("CASES_RULES_DIR", None, "Folder of house rule files (TOML, the rule pack's format) judged beside the "
             "built-in collection rules; a bad file keeps the previous valid pack in force."),
    Variable("CASES_SYNC_MONTH_WORKERS", "2", "Months a sync aggregates at once (1 lowers peak memory); a month of "
             "over 4 million events always goes alone."),
    Variable("CASES_STORE_CACHE_MB", "64", "Megabytes of the day-level rollups' month files a dashboard process "
             "keeps read (the months viewed last); the rest are read again when a period asks for them."),
    Variable("CASES_QUERY_LOG", None, "File to append one line per statement sent to the case database "
             "(load tests count them)."),
    Variable("CASES_AUDIT_KEY", None, "Secret key of the audit log's hash chain (or [audit] key in secrets.toml); "
             "without one a key file is generated beside the anchor."),
    Variable("CASES_AUDIT_ANCHOR_DIR", None, "Folder outside the store where each day's audit count and last "
             "hash are kept (default: <store dir>-audit-anchor beside the store)."),
    Variable("CASES_DASHBOARD_URL", "http://localhost:8501", "Address of the dashboard as its readers open it: "
             "digests and alerts link back to it."),
    Variable("CASES_ALERTS_FILE", None, "The alert rules file, TOML (default .streamlit/alerts.toml when it "
             "exists)."),
    Variable("CASES_SMTP_URL", None, "SMTP server for digests and alerts, e.g. smtp://user:pass@host:587"
             "?tls=starttls&from=dashboard@bank.example (or [notify.smtp] in .streamlit/secrets.toml)."),
    Variable("CASES_NOTIFY_ROBOTS", None, "Group robots as JSON, {\"name\": {\"kind\": \"wecom\", \"webhook\": "
             "\"…\", \"secret\": \"…\"}} (or [notify.robots.NAME] in .streamlit/secrets.toml)."),
    Variable("CASES_NOTIFY_RETRIES", "3", "Attempts per message and run before it waits in the outbox for the "
             "next run (one when the mail server refuses the login)."),
    Variable("CASES_NOTIFY_BACKOFF_S", "2", "Seconds before the second attempt of a message; doubled for each "
             "further one."),
)}


def variable(name: str) -> str | None:
    """The value of one `CASES_*` variable (None or its default when unset); KeyError for an undeclared one."""
    declared = VARIABLES[name]
    value = os.environ.get(name, "").strip()
    if value:
        return value
    return declared.default


def _number(name: str, kind: type, low: float | None = None) -> float | int:
    raw = variable(name)
    default = kind(VARIABLES[name].default)
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except (TypeError, ValueError):
        return default
    return default if low is not None and value < low else value


def _flag(name: str) -> bool:
    return (variable(name) or "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Resolved runtime settings: source URL (None means the embedded demo), store dir, timezone and the rest."""

    db_url: str | None
    store_dir: Path
    data_dir: Path
    timezone: str = "Asia/Shanghai"
    #: The access file (user → role, teams); None when none is configured (demo mode only).
    access_file: Path | None = None
    store_max_age_s: float = 900.0
    auth_header: str | None = None
    allow_demo_mode: bool = False
    complaint_sla_days: int = 15
    rules_file: str | None = None
    rules_dir: str | None = None
    sync_month_workers: int = 2
    store_cache_mb: int = 64
    query_log: str | None = None
    audit_key: str | None = field(default=None, repr=False)
    audit_anchor_dir: str | None = None
    dashboard_url: str = "http://localhost:8501"
    alerts_file: Path | None = None
    smtp_url: str | None = None
    notify_robots: str | None = None
    notify_retries: int = 3
    notify_backoff_s: float = 2.0
    #: .streamlit/secrets.toml when it exists (channel endpoints and secrets may be there)
    secrets_file: Path | None = None

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


def _secrets(secrets_path: Path) -> dict:
    if not secrets_path.is_file():
        return {}
    with secrets_path.open("rb") as fh:
        return tomllib.load(fh)


def load_settings(cwd: Path | None = None) -> Settings:
    """Every setting, read now from the environment (and .streamlit/secrets.toml for the URL)."""
    cwd = cwd or Path.cwd()
    secrets = _secrets(cwd / ".streamlit" / "secrets.toml")
    url = variable("CASES_DB_URL") or secrets.get("connections", {}).get("cases", {}).get("url")
    data_dir = Path(variable("CASES_DATA_DIR") or cwd / DEFAULT_DATA_DIR)
    store_dir = Path(variable("CASES_STORE_DIR") or data_dir / "store")
    access = variable("CASES_ACCESS_FILE")
    default_access = cwd / ".streamlit" / "access.toml"
    access_file = Path(access) if access else (default_access if default_access.is_file() else None)
    alerts = variable("CASES_ALERTS_FILE")
    default_alerts = cwd / ".streamlit" / "alerts.toml"
    secrets_path = cwd / ".streamlit" / "secrets.toml"
    return Settings(
        db_url=str(url) if url else None, store_dir=store_dir, data_dir=data_dir,
        timezone=variable("CASES_TZ") or "Asia/Shanghai", access_file=access_file,
        store_max_age_s=float(_number("CASES_STORE_MAX_AGE_S", float)),
        auth_header=variable("CASES_AUTH_HEADER"), allow_demo_mode=_flag("CASES_ALLOW_DEMO_MODE"),
        complaint_sla_days=int(_number("CASES_COMPLAINT_SLA_DAYS", int, 1)),
        rules_file=variable("CASES_RULES_FILE"),
        rules_dir=variable("CASES_RULES_DIR"),
        sync_month_workers=int(_number("CASES_SYNC_MONTH_WORKERS", int, 1)),
        store_cache_mb=int(_number("CASES_STORE_CACHE_MB", int, 1)),
        query_log=variable("CASES_QUERY_LOG"),
        audit_key=variable("CASES_AUDIT_KEY") or secrets.get("audit", {}).get("key"),
        audit_anchor_dir=variable("CASES_AUDIT_ANCHOR_DIR"),
        dashboard_url=(variable("CASES_DASHBOARD_URL") or "").rstrip("/"),
        alerts_file=Path(alerts) if alerts else (default_alerts if default_alerts.is_file() else None),
        smtp_url=variable("CASES_SMTP_URL"), notify_robots=variable("CASES_NOTIFY_ROBOTS"),
        notify_retries=int(_number("CASES_NOTIFY_RETRIES", int, 1)),
        notify_backoff_s=float(_number("CASES_NOTIFY_BACKOFF_S", float, 0)),
        secrets_file=secrets_path if secrets_path.is_file() else None,
    )
