"""Shared by every layer's tests: this folder is on sys.path, so each layer's conftest.py imports the fixtures it
needs from the fixtures_*.py modules here (demo centres, hand-made sources, the app under AppTest)."""

import functools

import streamlit.components.v2.manifest_scanner as _manifests
import streamlit.testing.v1.app_test as _app_test
import streamlit.testing.v1.local_script_runner as _local_runner
from streamlit.runtime.scriptrunner.script_cache import ScriptCache

# The session-wide fixtures are made visible here, once: a session fixture imported into several folders'
# conftest.py files is a separate fixture in each, built again for each folder.
from fixtures_app import app_source  # noqa: F401
from fixtures_demo import (  # noqa: F401
    demo_centre_db,
    demo_centre_store,
    demo_portfolio,
    shared_small_source,
    shared_small_store,
    small_portfolio,
)

# Each new AppTest scans every installed package for Streamlit component manifests (~5% of the suite's time). The
# installed packages do not change while the tests run, so the scan's answer is kept for the process.
_manifests.scan_component_manifests = functools.cache(_manifests.scan_component_manifests)

# Each AppTest run makes new ScriptCaches (its pages', its runner's for the app), so every run compiles the app and
# its page again, with Streamlit's magic rewrite of their syntax trees (~5% of a page's run). The scripts do not
# change while the tests run: one cache (keyed by the script's absolute path, thread-safe) serves every run of the
# process, as one does a real server.
_scripts = ScriptCache()
_app_test.ScriptCache = _local_runner.ScriptCache = lambda: _scripts
