"""Shared by every layer's tests: this folder is on sys.path, so each layer's conftest.py imports the fixtures it
needs from the fixtures_*.py modules here (demo centres, hand-made sources, the app under AppTest)."""

import functools

import streamlit.components.v2.manifest_scanner as _manifests

# Each new AppTest scans every installed package for Streamlit component manifests (~5% of the suite's time). The
# installed packages do not change while the tests run, so the scan's answer is kept for the process.
_manifests.scan_component_manifests = functools.cache(_manifests.scan_component_manifests)
