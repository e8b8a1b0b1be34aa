"""Shared by every layer's tests: this folder is on sys.path, so each layer's conftest.py imports the fixtures it
needs from the fixtures_*.py modules here (demo centres, hand-made sources, the app under AppTest)."""
