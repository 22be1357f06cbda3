"""Writing report folders atomically, and the versions a report records."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from agents.runs import atomic_write, versions

__all__ = ["atomic_write_all", "report_versions"]


def atomic_write_all(out_dir: Path, files: Mapping[str, bytes | str]) -> None:
    """Writes every ``name -> content`` into ``out_dir``, each through temp file + rename.

    Contents are rendered by the caller before this is called, so an interruption
    while evaluating or plotting writes nothing; files are replaced in the given order
    (put the one readers look for, ``report.json``, last).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        atomic_write(out_dir / name, content)


def report_versions() -> dict[str, str]:
    """The run-folder versions plus the statistics and plotting packages."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    out = versions()
    for pkg in ("rliable", "scipy", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
