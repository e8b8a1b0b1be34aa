"""The analytics store: versioned directories of Parquet rollups, swapped in atomically (see catalogue)."""

from queries.store.catalogue import PARTITIONED, ROLLUPS, SCANNED
from queries.store.manifest import FORMAT_VERSION, MANIFEST, Manifest, Watermarks
from queries.store.versions import (
           CURRENT,
           Store,
           StoreMissing,
           current_version,
           read_manifest,
)
from queries.store.writer import StoreWriter

__all__ = ["CURRENT", "FORMAT_VERSION", "MANIFEST", "PARTITIONED", "ROLLUPS", "SCANNED", "Manifest", "Store",
           "StoreMissing", "StoreWriter", "Watermarks", "current_version", "read_manifest"]
