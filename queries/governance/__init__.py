"""Who may see what (access), personal data masked (masking), and the append-only audit log (audit)."""
