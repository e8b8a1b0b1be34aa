"""What the pages and the command line read: the scoped facade (scoped), page compositions (pages), drill-down."""
