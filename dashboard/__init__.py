"""Streamlit layer of the collections dashboard: cached loaders, filters, charts and pages."""

# Plotly looks numpy and pandas up lazily in sys.modules. When several sessions start at once on a
# fresh server, one of them can find the module another thread is still importing, half
# initialised, and fail with "partially initialized module 'numpy'". Importing both here goes
# through the import lock, so every session waits for complete modules.
import numpy  # noqa: F401
import pandas  # noqa: F401
