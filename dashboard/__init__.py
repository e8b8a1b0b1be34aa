"""Streamlit layer of the collections dashboard: cached loaders, filters, charts and pages."""
