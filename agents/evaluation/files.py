"""What a report file records beside its numbers: package versions, and NumPy values as JSON.

The files themselves are written with :mod:`envs.fileio`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.fileio import atomic_write_all, versions

__all__ = ["atomic_write_all", "json_default", "markdown_page", "md_row", "report_versions"]


def report_versions() -> dict[str, str]:
    """The run-folder versions plus the statistics and plotting packages."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    return versions("rliable", "scipy", "matplotlib")


def json_default(obj: Any) -> Any:
    """``json.dumps``' ``default`` for NumPy scalars and arrays."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def md_row(cells: Sequence[str]) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(cells) + " |"


def markdown_page(
    header: Sequence[str], table: str, notes: str, versions: Mapping[str, str]
) -> str:
    """A report's ``report.md``: its header lines, the table, how to read it, the versions."""
    stamp = "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())
    return "\n".join([*header, "", table, "", notes, "", stamp, ""])
