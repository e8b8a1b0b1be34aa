"""Data layer of the collections dashboard: schema, sync, store and metrics (never imports Streamlit)."""
