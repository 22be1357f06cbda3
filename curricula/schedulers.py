"""Shared-distribution curricula: ``uniform``, ``narrow``, ``linear`` and success-gated ``stages``.

Each sends one distribution to every worker and re-sends it when it changes.

Example:
    >>> from envs.scenarios import Continuous, ScenarioSpace
    >>> space = ScenarioSpace(
    ...     [Continuous("gap", 0.0, 2.0)],
    ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
    ...      "heldout-b": {"gap": (1.2, 1.4)}},
    ... )
    >>> ramp = LinearScheduler(space, seed=0, total_timesteps=1000, config={"fraction": 0.5})
    >>> ramp.on_timesteps(250)
    >>> ramp.distribution().to_dict()
    {'gap': [0.0, 0.5]}
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from curricula.base import (
    CurriculumScheduler,
    check_fraction,
    check_positive_int,
)
from envs.config import from_mapping
from envs.scenarios import Distribution

__all__ = [
    "LinearConfig",
    "LinearScheduler",
    "NarrowConfig",
    "NarrowScheduler",
    "Stage",
    "StagesConfig",
    "StagesScheduler",
    "UniformConfig",
    "UniformScheduler",
]


# --------------------------------------------------------------------------- uniform


@dataclass(frozen=True)
class UniformConfig:
    """``uniform`` takes no options: it is domain randomisation over ``train``."""


class UniformScheduler(CurriculumScheduler):
    """Domain randomisation over the whole ``train`` split: the baseline of comparisons."""

    name = "uniform"
    config_class = UniformConfig

    def _propose(self, worker: int | None) -> Distribution:
        return self.space.distribution("train")

    def metrics(self) -> dict[str, float]:
        """``difficulty`` is always 1 (all of train)."""
        return {"difficulty": 1.0}


# ---------------------------------------------------------------------------- narrow


@dataclass(frozen=True)
class NarrowConfig:
    """Options of ``narrow`` practice.

    Attributes:
        difficulty: Practise ``space.at(difficulty)`` for the whole run; 0 (the default)
            is train's easiest corner, the no-variety baseline of the transfer study.
    """

    difficulty: float = 0.0

    def __post_init__(self) -> None:
        check_fraction("narrow", "difficulty", self.difficulty)


class NarrowScheduler(CurriculumScheduler):
    """Fixed practice at one difficulty of ``train`` (default 0: its easiest corner).

    Not a curriculum in the adaptive sense: the no-variety baseline that domain
    randomisation and curricula are compared with. Parameters without an ``easy`` end
    keep their whole train range (:meth:`~envs.scenarios.ScenarioSpace.at`).

    Example:
        >>> from envs.scenarios import Continuous, ScenarioSpace
        >>> space = ScenarioSpace(
        ...     [Continuous("gap", 0.0, 2.0, easy="low")],
        ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
        ...      "heldout-b": {"gap": (1.2, 1.4)}},
        ... )
        >>> NarrowScheduler(space, seed=0, total_timesteps=100).distribution().to_dict()
        {'gap': 0.0}
    """

    name = "narrow"
    config_class = NarrowConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dist = self.space.at(self.config.difficulty)
        self.check_within_train(self._dist)

    def _propose(self, worker: int | None) -> Distribution:
        return self._dist

    def metrics(self) -> dict[str, float]:
        """The fixed difficulty."""
        return {"difficulty": float(self.config.difficulty)}


# ---------------------------------------------------------------------------- linear


@dataclass(frozen=True)
class LinearConfig:
    """Options of the ``linear`` difficulty ramp.

    Attributes:
        start: Difficulty at step 0.
        end: Difficulty reached at ``fraction * total_timesteps`` and kept afterwards.
        fraction: Share of the training budget the ramp takes, in (0, 1].
        resolution: Difficulty moves in steps of this size (fewer pushes to workers).
    """

    start: float = 0.0
    end: float = 1.0
    fraction: float = 0.8
    resolution: float = 0.01

    def __post_init__(self) -> None:
        check_fraction("linear", "start", self.start)
        check_fraction("linear", "end", self.end)
        check_fraction("linear", "fraction", self.fraction, open_low=True)
        check_fraction("linear", "resolution", self.resolution, open_low=True)


class LinearScheduler(CurriculumScheduler):
    """Difficulty ramps linearly from ``start`` to ``end`` over a fraction of training."""

    name = "linear"
    config_class = LinearConfig

    @property
    def difficulty(self) -> float:
        """The current difficulty, quantised to ``resolution``."""
        c = self.config
        progress = min(1.0, self.num_timesteps / (c.fraction * self.total_timesteps))
        if progress >= 1.0:
            return c.end
        raw = c.start + (c.end - c.start) * progress
        steps = (
            math.floor(raw / c.resolution + 1e-9)
            if c.end >= c.start
            else math.ceil(raw / c.resolution - 1e-9)
        )
        return min(max(steps * c.resolution, min(c.start, c.end)), max(c.start, c.end))

    def on_timesteps(self, num_timesteps: int) -> None:
        """Advances the ramp (bumps :attr:`version` when the difficulty changes)."""
        before = self.difficulty
        super().on_timesteps(num_timesteps)
        if self.difficulty != before:
            self.version += 1

    def _propose(self, worker: int | None) -> Distribution:
        return self.space.at(self.difficulty)

    def metrics(self) -> dict[str, float]:
        """The current difficulty."""
        return {"difficulty": self.difficulty}


# ---------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class Stage:
    """One stage of a ``stages`` curriculum: a difficulty or an explicit distribution.

    Attributes:
        difficulty: Practise ``space.at(difficulty)``.
        distribution: Or practise this distribution, in the form of
            ``Distribution.to_dict()`` (parameters it omits keep their train spec).
        threshold: Rolling success needed to advance (overrides the curriculum's).
        window: Episodes in the rolling window (overrides the curriculum's).
    """

    difficulty: float | None = None
    distribution: Mapping[str, Any] | None = None
    threshold: float | None = None
    window: int | None = None

    def __post_init__(self) -> None:
        if (self.difficulty is None) == (self.distribution is None):
            raise ValueError(
                "each stage needs exactly one of 'difficulty' (a number in [0, 1]) or "
                f"'distribution' (a mapping); got {self}"
            )
        if self.difficulty is not None:
            check_fraction("stage", "difficulty", self.difficulty)
        if self.distribution is not None and not isinstance(self.distribution, Mapping):
            raise ValueError(f"stage distribution must be a mapping, got {self.distribution!r}")
        if self.threshold is not None:
            check_fraction("stage", "threshold", self.threshold)
        if self.window is not None:
            check_positive_int("stage", "window", self.window)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        """Parses one stage from YAML data (unknown keys raise ``ValueError``)."""
        return from_mapping(cls, data)


def _default_stages() -> tuple[Stage, ...]:
    return tuple(Stage(difficulty=d) for d in (0.0, 0.25, 0.5, 0.75, 1.0))


@dataclass(frozen=True)
class StagesConfig:
    """Options of the success-gated ``stages`` curriculum.

    Attributes:
        stages: The stages in order; the last one is kept once reached.
        threshold: Rolling success rate (over the last ``window`` episodes of the
            current stage) at or above which the curriculum advances.
        window: Episodes in the rolling window; no advance before it is full.
    """

    stages: tuple[Stage, ...] = field(default_factory=_default_stages)
    threshold: float = 0.7
    window: int = 50

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("stages needs at least one stage")
        for stage in self.stages:
            if not isinstance(stage, Stage):
                raise ValueError(f"each stage must be a Stage or a mapping, got {stage!r}")
        check_fraction("stages", "threshold", self.threshold)
        check_positive_int("stages", "window", self.window)


class StagesScheduler(CurriculumScheduler):
    """Typed stages advanced when rolling success over a window reaches a threshold.

    Only episodes drawn under the current stage count (the callback reports the
    version — here the stage index — each episode was drawn under; episodes without a
    version count when the stage's distribution contains their scenario). The window
    restarts at each advance. Advancement happens exactly when
    ``successes >= ceil(threshold * window)`` within a full window.
    """

    name = "stages"
    config_class = StagesConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dists: list[Distribution] = []
        for i, stage in enumerate(self.config.stages):
            dist: Distribution
            if stage.difficulty is not None:
                dist = self.space.at(stage.difficulty)
            else:
                try:
                    dist = self.space.distribution_from_dict(stage.distribution)
                except ValueError as err:
                    raise ValueError(f"stage {i}: {err}") from None
            self.check_within_train(dist)
            self._dists.append(dist)
        self.stage = 0
        self._window: deque[bool] = deque(maxlen=self._stage_window)

    @property
    def _stage_window(self) -> int:
        return self.config.stages[self.stage].window or self.config.window

    @property
    def _stage_threshold(self) -> float:
        stage = self.config.stages[self.stage]
        return self.config.threshold if stage.threshold is None else stage.threshold

    @property
    def success_rate(self) -> float:
        """Success rate over the current stage's window so far (0 when empty)."""
        return sum(self._window) / len(self._window) if self._window else 0.0

    def _propose(self, worker: int | None) -> Distribution:
        return self._dists[self.stage]

    def _update(
        self,
        scenario: dict[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        worker: int | None,
        version: int | None,
    ) -> None:
        if success is None:
            raise ValueError(
                "the stages curriculum needs info['is_success'] at episode end; the env did "
                "not report it"
            )
        if self.stage == len(self._dists) - 1:
            return
        current = self._dists[self.stage]
        if version is not None and version != self.stage:
            return
        if version is None and not _contains(current, scenario):
            return
        self._window.append(success)
        needed = math.ceil(self._stage_threshold * self._stage_window - 1e-9)
        if len(self._window) == self._stage_window and sum(self._window) >= needed:
            self.stage += 1
            self.version = self.stage
            self._window = deque(maxlen=self._stage_window)

    def metrics(self) -> dict[str, float]:
        """Stage index, its difficulty (when it has one) and rolling success."""
        out = {"stage": float(self.stage), "stage_success": self.success_rate}
        difficulty = self.config.stages[self.stage].difficulty
        if difficulty is not None:
            out["difficulty"] = float(difficulty)
        return out

    def _state(self) -> dict[str, Any]:
        return {"stage": self.stage, "window": [bool(s) for s in self._window]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        stage = int(state["stage"])
        if not 0 <= stage < len(self._dists):
            raise ValueError(f"saved stage {stage} is not in [0, {len(self._dists) - 1}]")
        self.stage = stage
        self._window = deque((bool(s) for s in state["window"]), maxlen=self._stage_window)


def _contains(dist: Distribution, scenario: Mapping[str, Any]) -> bool:
    contains = getattr(dist, "contains", None)
    if contains is not None:
        return bool(contains(scenario))
    return any(s == dict(scenario) for s in getattr(dist, "scenarios", ()))
