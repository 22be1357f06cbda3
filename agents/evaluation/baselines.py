"""The random and expert baselines' episodes, cached per process and optionally on disk.

They depend only on the env, its kwargs, the splits, the episode count and the seed, so
comparing many policies pays for them once (see :data:`BASELINE_CACHE_ENV`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from agents.evaluation.files import json_default
from agents.evaluation.rollout import EpisodeResult
from envs.fileio import atomic_write

__all__ = ["BASELINE_CACHE_ENV", "CACHE", "load", "remember", "store"]

BASELINE_CACHE_ENV = "PRACTICEGYMCACHE"
"""Environment variable naming a folder where baseline episodes are kept across processes.

Unset (the default), the random and expert baselines are cached in memory per process only.
Set, :func:`agents.evaluation.evaluate_transfer` also reads and writes them there as JSON
(one file per env, env kwargs, splits, episodes, seed and baseline), so a sweep whose runs
each evaluate in a fresh process pays for the baselines once. Results are identical either
way (the baselines' episodes are fixed by their seeds); delete the folder when env code
changes."""
CACHE: dict[tuple[Any, ...], list[EpisodeResult]] = {}
"""The in-process cache, newest last."""
CACHE_SIZE = 16


def _file(key: tuple[Any, ...]) -> Path | None:
    folder = os.environ.get(BASELINE_CACHE_ENV)
    if not folder:
        return None
    digest = hashlib.sha256(json.dumps(key, default=repr).encode()).hexdigest()[:24]
    return Path(folder) / f"{key[0]}-{key[-1]}-{digest}.json"


def load(key: tuple[Any, ...]) -> list[EpisodeResult] | None:
    """Baseline episodes stored by an earlier process (``None``: none, or unreadable)."""
    path = _file(key)
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data["key"] != json.loads(json.dumps(key, default=repr)):
            return None
        return [EpisodeResult(**e) for e in data["episodes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(key: tuple[Any, ...], results: list[EpisodeResult]) -> None:
    """Writes baseline episodes for later processes (when :data:`BASELINE_CACHE_ENV` is set)."""
    path = _file(key)
    if path is None:
        return
    episodes = [
        {
            "ret": r.ret,
            "length": r.length,
            "success": r.success,
            "scenario": r.scenario,
            "info": r.info,
        }
        for r in results
    ]
    text = json.dumps({"key": key, "episodes": episodes}, default=json_default)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def remember(key: tuple[Any, ...], results: list[EpisodeResult]) -> None:
    """Keeps baseline episodes in this process (the :data:`CACHE_SIZE` newest keys)."""
    CACHE[key] = results
    while len(CACHE) > CACHE_SIZE:
        del CACHE[next(iter(CACHE))]
