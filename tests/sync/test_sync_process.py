"""A sync process's start (queries.settings.SYNC_ENVIRONMENT): it returns the memory Polars frees as it goes (the sync
command sets the allocator before Polars is loaded and keeps an operator's own setting), keeps NumPy's OpenBLAS to one
thread, and keeps its imports' objects out of the garbage collector's later passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from queries.settings import SYNC_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env: dict[str, str]) -> list[str]:
    """Lines a fresh interpreter prints, without this process's sync environment settings, with `env` added."""
    base = {k: v for k, v in os.environ.items() if k not in SYNC_ENVIRONMENT}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**base, **env}, cwd=ROOT, timeout=120)
    return out.stdout.strip().splitlines()


def _absent_source(tmp_path: Path) -> dict[str, str]:
    """Settings for a sync whose source does not exist: it stops right after its imports."""
    return {"CASES_DB_URL": f"sqlite:///{tmp_path / 'absent.sqlite'}", "CASES_STORE_DIR": str(tmp_path / "store")}


def test_the_sync_command_sets_the_allocator_before_polars_is_loaded(tmp_path) -> None:
    """Polars appends the value it finds to its own defaults when it is loaded: the sync command's value comes last
    (it wins) only if it was set before; an operator's own value is kept instead."""
    code = ("import os; from queries.cli import main; main(['sync']); "
            "print(os.environ.get('_RJEM_MALLOC_CONF'))")
    env = _absent_source(tmp_path)
    conf = _run(code, env=env)[-1]
    assert conf.startswith("dirty_decay_ms:") and conf.endswith(",muzzy_decay_ms:0"), conf
    own = _run(code, env={**env, "_RJEM_MALLOC_CONF": "dirty_decay_ms:100"})[-1]
    assert own.endswith(",dirty_decay_ms:100") and "muzzy_decay_ms:0" not in own, own


def test_the_sync_commands_imports_are_frozen_out_of_the_collector(tmp_path) -> None:
    """The sync command imports Polars, SQLAlchemy and NumPy with the cyclic collector paused (no pass runs until
    they are loaded) and then freezes their objects; the collector is on again for the sync's own objects. A process
    that has them loaded already (one calling the command again) is left as it is."""
    # a pass "during the imports": one of the three is loading, and the sync's own module is not loaded yet
    code = ("import gc, sys\n"
            "heavy = lambda: any(m in sys.modules for m in ('polars', 'sqlalchemy', 'numpy'))\n"
            "loaded = lambda: hasattr(sys.modules.get('queries.sync.child'), 'safe_sync')\n"
            "seen = []\n"
            "gc.callbacks.append(lambda phase, info: phase == 'start' and seen.append(heavy() and not loaded()))\n"
            "from queries.cli import main\n"
            "main(['sync'])\n"
            "print(gc.get_freeze_count(), gc.isenabled(), seen.count(True), 'polars' in sys.modules)")
    frozen, enabled, during_imports, polars = _run(code, env=_absent_source(tmp_path))[-1].split()
    assert polars == "True" and enabled == "True" and during_imports == "0"
    assert int(frozen) > 50_000, frozen
    again = "import gc, queries.sync.child; from queries.cli import main; main(['sync']); print(gc.get_freeze_count())"
    assert _run(again, env=_absent_source(tmp_path))[-1] == "0"


def test_the_sync_command_keeps_openblas_to_one_thread(tmp_path) -> None:
    """OpenBLAS reads its thread count when NumPy is loaded: the sync command sets it first; an operator's own value
    is kept."""
    code = ("import os, sys; from queries.cli import main; print('numpy' in sys.modules); main(['sync']); "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = _absent_source(tmp_path)
    assert _run(code, env=env)[-2:] == ["False", "1"]
    assert _run(code, env={**env, "OPENBLAS_NUM_THREADS": "2"})[-1] == "2"
