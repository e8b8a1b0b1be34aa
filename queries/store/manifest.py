"""The typed manifest of a store version (manifest.json) and the sync's watermarks inside it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
#: Version of the store's layout; a store of another format is rebuilt by the next sync.
FORMAT_VERSION = 13


@dataclass
class Watermarks:
    """How far each source table has been read: ids for append-only tables, updated_at for mutable ones."""

    cases_updated_at: str | None = None
    promises_updated_at: str | None = None
    payments_id: int | None = None
    contacts_id: int | None = None
    snapshots: list[str] = field(default_factory=list)

    def last_id(self, table: str) -> int | None:
        """The highest id read of an append-only table ('payments' or 'contacts')."""
        return getattr(self, f"{table}_id")

    def set_last_id(self, table: str, value: int | None) -> None:
        """Record the highest id read of an append-only table (None: nothing read yet)."""
        setattr(self, f"{table}_id", value)

    def snapshot_dates(self) -> list[dt.date]:
        """The snapshot dates read, ascending."""
        return [dt.date.fromisoformat(s) for s in self.snapshots]

    @classmethod
    def from_json(cls, data: dict | None) -> Watermarks:
        """From the manifest's `watermarks` object (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def to_json(self) -> dict:
        """As the manifest stores it (only what has been read)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class Manifest:
    """What a store version is: where it came from, how it was built, how far it reaches, whether it reconciles."""

    format: int | None = None
    source: str | None = None
    backend: str | None = None
    reader: str | None = None
    synced_at: str | None = None
    full: bool = True
    bucket_upper: list[int] = field(default_factory=list)
    rules: str | None = None
    after_hours: list[int] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)
    data_as_of: str | None = None
    watermarks: Watermarks = field(default_factory=Watermarks)
    rows_read: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb_after: dict[str, int] = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)
    has_targets: bool = False
    #: the compliance stage: rule pack fingerprint and files, optional contract parts found, rows skipped per part
    compliance: dict = field(default_factory=dict)

    @property
    def as_of(self) -> dt.date | None:
        """Last day with events in the store (data as of)."""
        return dt.date.fromisoformat(self.data_as_of) if self.data_as_of else None

    @property
    def synced(self) -> dt.datetime | None:
        """When the store was synced (local time of the sync host)."""
        return dt.datetime.fromisoformat(self.synced_at) if self.synced_at else None

    def get(self, key: str, default: object = None) -> object:
        """A field by name (for code that shows a few of them)."""
        return getattr(self, key, default)

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        """From a parsed manifest.json (unknown keys ignored, missing ones defaulted)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["watermarks"] = Watermarks.from_json(data.get("watermarks"))
        return cls(**values)

    def to_json(self) -> dict:
        """As written to manifest.json."""
        out = dataclasses.asdict(self)
        out["watermarks"] = self.watermarks.to_json()
        return out


def load(version: Path) -> Manifest:
    """The manifest of a version directory (OSError or ValueError when it cannot be read)."""
    return Manifest.from_json(json.loads((Path(version) / MANIFEST).read_text(encoding="utf-8")))


def write(version: Path, manifest: Manifest) -> None:
    """Write a version's manifest."""
    (Path(version) / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2, default=str), encoding="utf-8")
