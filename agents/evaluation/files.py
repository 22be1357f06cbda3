"""The versions a report records (its files are written with :mod:`envs.fileio`)."""

from __future__ import annotations

import functools

from envs.fileio import atomic_write_all, versions

__all__ = ["atomic_write_all", "report_versions"]


def report_versions() -> dict[str, str]:
    """The run-folder versions plus the statistics and plotting packages."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    return versions("rliable", "scipy", "matplotlib")
