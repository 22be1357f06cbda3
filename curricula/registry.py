"""Scheduler names, :func:`make_scheduler` and :func:`load_config` (YAML options)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from curricula.adversarial import AdversarialScheduler
from curricula.base import CurriculumScheduler
from curricula.learning_progress import LearningProgressScheduler
from curricula.plr import PLRScheduler
from curricula.schedulers import (
    LinearScheduler,
    NarrowScheduler,
    StagesScheduler,
    UniformScheduler,
)
from envs.scenarios import ScenarioSpace

__all__ = ["SCHEDULERS", "load_config", "make_scheduler"]

SCHEDULERS: dict[str, type[CurriculumScheduler]] = {
    cls.name: cls
    for cls in (
        UniformScheduler,
        NarrowScheduler,
        LinearScheduler,
        StagesScheduler,
        LearningProgressScheduler,
        PLRScheduler,
        AdversarialScheduler,
    )
}


def make_scheduler(
    name: str,
    space: ScenarioSpace,
    *,
    seed: int,
    total_timesteps: int,
    config: Mapping[str, Any] | None = None,
) -> CurriculumScheduler:
    """Builds the scheduler called ``name``.

    Args:
        name: One of :data:`SCHEDULERS`.
        space: The env's scenario space (``env.unwrapped.scenario_space``).
        seed: Seed of the scheduler's own RNG.
        total_timesteps: Training budget.
        config: Options, e.g. from :func:`load_config`; unknown keys raise ``ValueError``.

    Raises:
        ValueError: Unknown name (with a suggestion) or invalid options.

    Example:
        >>> from envs.scenarios import Continuous, ScenarioSpace
        >>> space = ScenarioSpace(
        ...     [Continuous("gap", 0.0, 2.0)],
        ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
        ...      "heldout-b": {"gap": (1.2, 1.4)}},
        ... )
        >>> make_scheduler("stages", space, seed=0, total_timesteps=100,
        ...                config={"stages": [{"difficulty": 0.5}, {"difficulty": 1.0}]})
        ... # doctest: +ELLIPSIS
        StagesScheduler(seed=0, config=StagesConfig(stages=(Stage(difficulty=0.5, ...
        >>> make_scheduler("learning_progress", space, seed=0, total_timesteps=100)
        Traceback (most recent call last):
        ...
        ValueError: unknown curriculum 'learning_progress'; did you mean 'learning-progress'? \
valid: ['uniform', 'narrow', 'linear', 'stages', 'learning-progress', 'plr', 'adversarial']
    """
    if name not in SCHEDULERS:
        close = difflib.get_close_matches(name, list(SCHEDULERS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown curriculum {name!r}; {hint}valid: {list(SCHEDULERS)}")
    return SCHEDULERS[name](space, seed=seed, total_timesteps=total_timesteps, config=config)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a scheduler's options from a YAML file (``yaml.safe_load``; empty file -> {}).

    Raises:
        ValueError: The file cannot be read, is not valid YAML or is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ValueError(f"cannot read curriculum config {str(path)!r}: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(
            f"curriculum config {str(path)!r} is not valid YAML: {problem}{where}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"curriculum config {str(path)!r} must be a mapping of options, got "
            f"{type(data).__name__}"
        )
    return data
