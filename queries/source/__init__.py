"""The case database, read-only: the contract's tables (contract), engines, bulk readers, doctor, summary."""
