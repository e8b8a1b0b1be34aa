"""Access file, masking and audit log tests."""
