"""Test-suite set-up: make the example plugin discoverable through real entry points.

The example plugin in ``examples/plugin`` is exposed the way ``pip install`` would expose
it — a ``*.dist-info`` folder with ``entry_points.txt`` on ``sys.path`` — so
``envs.names()`` finds ``point`` through ``importlib.metadata`` whether or not the plugin
was pip-installed. ``PYTHONPATH`` carries the same paths into subprocesses (vector-env
workers, CLI subprocess tests, Ray workers).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SRC = ROOT / "examples" / "plugin"


def _expose_example_plugin() -> None:
    site = Path(tempfile.mkdtemp(prefix="practicegym-plugin-site-"))
    atexit.register(shutil.rmtree, site, ignore_errors=True)
    dist_info = site / "practicegym_point-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: practicegym-point\nVersion: 0.1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[practicegym.envs]\npoint = practicegym_point:register_envs\n"
    )
    paths = [str(PLUGIN_SRC), str(site)]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *([old] if old else [])])


_expose_example_plugin()
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items) -> None:
    """Slow learning checks get 30 minutes each (the ini's 10-minute timeout is for the rest)."""
    import pytest

    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(1800))
