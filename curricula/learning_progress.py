"""``learning-progress``: a bandit over bins of the scenario space, paid by learning progress.

The ``train`` split is cut into a grid of bins ("arms") along one or more axes:

* ``difficulty`` — bands of :meth:`~envs.scenarios.ScenarioSpace.at`: band ``k`` of
  ``n_bins`` holds every graded continuous parameter in its ``k``-th slice from the easy
  end (graded integer/categorical parameters take their cumulative ``at((k+1)/n)`` set);
  a scenario's band is that of its hardest parameter;
* a parameter name — ``n_bins`` equal slices of that parameter's train range (one bin
  per allowed choice for categoricals); it overrides the parameter in other axes.

For each arm the scheduler keeps a fast and a slow exponential moving average of the
episode signal (success, or return scaled to [0, 1] by the range seen so far); absolute
learning progress is ``|fast - slow|``. Each worker, at each of its episode ends, gets the
distribution of an arm drawn with probability ``(1 - exploration) * LP / sum(LP) +
exploration / n_arms`` (uniform while no arm shows progress). Episodes are attributed to
the arm that contains their scenario, so the one-episode delay of SB3's auto-reset never
credits the wrong arm.

Example:
    >>> from envs.scenarios import Continuous, ScenarioSpace
    >>> space = ScenarioSpace(
    ...     [Continuous("gap", 0.0, 2.0)],
    ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
    ...      "heldout-b": {"gap": (1.2, 1.4)}},
    ... )
    >>> lp = LearningProgressScheduler(space, seed=0, total_timesteps=1000,
    ...                                config={"n_bins": 4})
    >>> lp.arm_labels
    ['difficulty=0', 'difficulty=1', 'difficulty=2', 'difficulty=3']
    >>> lp.arm_of({"gap": 0.6})
    2
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from curricula.base import CurriculumScheduler, check_fraction, check_positive_int
from envs.scenarios import (
    Categorical,
    Choice,
    Continuous,
    Distribution,
    Fixed,
    Integer,
    ParamDistribution,
    Range,
    ScenarioSpace,
)

__all__ = ["LearningProgressConfig", "LearningProgressScheduler"]

DIFFICULTY_AXIS = "difficulty"
MAX_ARMS = 1024
SIGNALS = ("success", "return")


@dataclass(frozen=True)
class LearningProgressConfig:
    """Options of the ``learning-progress`` curriculum.

    Attributes:
        axes: ``"difficulty"`` and/or parameter names; the arms are their grid.
        n_bins: Bins per axis (categorical parameter axes use one bin per choice).
        fast_rate: Step size of the fast moving average of the signal.
        slow_rate: Step size of the slow moving average (smaller than ``fast_rate``).
        exploration: Share of draws made uniformly over arms, in [0, 1].
        signal: ``"success"`` (``info["is_success"]``) or ``"return"``.
    """

    axes: tuple[str, ...] = (DIFFICULTY_AXIS,)
    n_bins: int = 5
    fast_rate: float = 0.1
    slow_rate: float = 0.02
    exploration: float = 0.2
    signal: str = "success"

    def __post_init__(self) -> None:
        if not self.axes or len(set(self.axes)) != len(self.axes):
            raise ValueError(f"learning-progress.axes must be non-empty and unique: {self.axes}")
        check_positive_int("learning-progress", "n_bins", self.n_bins)
        check_fraction("learning-progress", "fast_rate", self.fast_rate, open_low=True)
        check_fraction("learning-progress", "slow_rate", self.slow_rate, open_low=True)
        if self.slow_rate >= self.fast_rate:
            raise ValueError(
                f"learning-progress.slow_rate ({self.slow_rate}) must be smaller than "
                f"fast_rate ({self.fast_rate})"
            )
        check_fraction("learning-progress", "exploration", self.exploration)
        if self.signal not in SIGNALS:
            raise ValueError(
                f"learning-progress.signal must be one of {list(SIGNALS)}, got {self.signal!r}"
            )


# ------------------------------------------------------------------------------ axes


def _train(space: ScenarioSpace) -> Any:
    """The ``train`` split's per-parameter distribution (a split is always one).

    Typed ``Any``: which kind each parameter's entry is (a ``Range`` for a continuous
    parameter, ...) follows from the parameter, which a type checker cannot see.
    """
    train = space.distribution("train")
    assert isinstance(train, ParamDistribution), train
    return train


class _Axis:
    """One axis of the bin grid: per bin, overrides of some parameters' distributions."""

    name: str
    size: int

    def overrides(self, k: int) -> dict[str, Any]:
        raise NotImplementedError

    def index(self, scenario: Mapping[str, Any]) -> int:
        raise NotImplementedError


def _slice_index(u: float, n: int) -> int:
    """Bin of a position ``u`` in [0, 1] cut into ``n`` slices (upper edges inclusive)."""
    return int(min(max(math.ceil(u * n - 1e-12) - 1, 0), n - 1))


class _DifficultyAxis(_Axis):
    def __init__(self, space: ScenarioSpace, n: int, exclude: set[str]) -> None:
        train = _train(space)
        self.name, self.size = DIFFICULTY_AXIS, n
        self._continuous: list[tuple[Continuous, float, float]] = []
        self._discrete: list[Integer | Categorical] = []
        for p in space.params:
            dist = train.dists[p.name]
            if p.easy is None or isinstance(dist, Fixed) or p.name in exclude:
                continue
            if isinstance(p, Continuous):
                self._continuous.append((p, dist.low, dist.high))
            else:
                self._discrete.append(p)
        if not self._continuous and not self._discrete:
            raise ValueError(
                "the difficulty axis needs a graded parameter (one with an easy end that "
                "varies in train); bin named parameters instead: axes: "
                f"{[p.name for p in space.params]}"
            )
        self._levels = [space.at((k + 1) / n) for k in range(n)]

    def overrides(self, k: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p, lo, hi in self._continuous:
            edges = np.linspace(lo, hi, self.size + 1)
            if p.easy == "low":
                out[p.name] = Range(float(edges[k]), float(edges[k + 1]))
            else:
                edges = edges[::-1]
                out[p.name] = Range(float(edges[k + 1]), float(edges[k]))
        for q in self._discrete:
            out[q.name] = self._levels[k].dists[q.name]
        return out

    def index(self, scenario: Mapping[str, Any]) -> int:
        band = 0
        for p, lo, hi in self._continuous:
            u = (scenario[p.name] - lo) / (hi - lo)
            band = max(band, _slice_index(u if p.easy == "low" else 1.0 - u, self.size))
        for q in self._discrete:
            value = scenario[q.name]
            k = next(
                (k for k in range(self.size) if self._levels[k].dists[q.name].contains(value)),
                self.size - 1,
            )
            band = max(band, k)
        return band


class _ParamAxis(_Axis):
    def __init__(self, space: ScenarioSpace, name: str, n: int) -> None:
        param = space.param(name)
        dist = _train(space).dists[name]
        if isinstance(dist, Fixed):
            raise ValueError(f"parameter {name!r} is fixed in train, so it cannot be binned")
        self.name = name
        self._param = param
        self._bins: list[Any]
        if isinstance(param, Continuous):
            edges = np.linspace(dist.low, dist.high, n + 1)
            self._edges = (float(dist.low), float(dist.high))
            self._bins = [Range(float(edges[k]), float(edges[k + 1])) for k in range(n)]
        elif isinstance(param, Integer):
            values = np.arange(int(dist.low), int(dist.high) + 1)
            groups = [g for g in np.array_split(values, min(n, len(values))) if len(g)]
            self._bins = [
                Fixed(int(g[0])) if len(g) == 1 else Range(int(g[0]), int(g[-1])) for g in groups
            ]
        else:
            choices = dist.values if isinstance(dist, Choice) else tuple(param.choices)
            self._bins = [Fixed(v) for v in choices]
        self.size = len(self._bins)

    def overrides(self, k: int) -> dict[str, Any]:
        return {self.name: self._bins[k]}

    def index(self, scenario: Mapping[str, Any]) -> int:
        value = scenario[self.name]
        if isinstance(self._param, Continuous):
            lo, hi = self._edges
            return _slice_index((value - lo) / (hi - lo), self.size)
        for k, b in enumerate(self._bins):
            if b.contains(value):
                return k
        return self.size - 1


# ------------------------------------------------------------------------- scheduler


class LearningProgressScheduler(CurriculumScheduler):
    """Absolute-learning-progress bandit over bins of the scenario space (see module doc)."""

    name = "learning-progress"
    config_class = LearningProgressConfig
    per_worker = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        param_axes = [a for a in c.axes if a != DIFFICULTY_AXIS]
        for a in param_axes:
            if a not in self.space.param_names:
                raise ValueError(
                    f"learning-progress axis {a!r} is neither 'difficulty' nor a parameter; "
                    f"valid: {[DIFFICULTY_AXIS, *self.space.param_names]}"
                )
        self._axes: list[_Axis] = []
        for a in c.axes:
            if a == DIFFICULTY_AXIS:
                self._axes.append(_DifficultyAxis(self.space, c.n_bins, set(param_axes)))
            else:
                self._axes.append(_ParamAxis(self.space, a, c.n_bins))
        self._shape = tuple(axis.size for axis in self._axes)
        n_arms = int(np.prod(self._shape))
        if n_arms > MAX_ARMS:
            raise ValueError(
                f"learning-progress would have {n_arms} arms (> {MAX_ARMS}); use fewer axes or bins"
            )
        train = _train(self.space)
        self._arms: list[ParamDistribution] = []
        self.arm_labels: list[str] = []
        for idx in itertools.product(*(range(s) for s in self._shape)):
            dists = dict(train.dists)
            for axis, k in zip(self._axes, idx, strict=True):
                dists.update(axis.overrides(k))
            arm = ParamDistribution(self.space, dists)
            self.check_within_train(arm)
            self._arms.append(arm)
            self.arm_labels.append(
                ",".join(f"{a.name}={k}" for a, k in zip(self._axes, idx, strict=True))
            )
        self.counts = np.zeros(n_arms, dtype=int)
        self.fast = np.zeros(n_arms)
        self.slow = np.zeros(n_arms)
        self._return_range: list[float] | None = None

    @property
    def n_arms(self) -> int:
        """Number of bins in the grid."""
        return len(self._arms)

    def arm_distribution(self, arm: int) -> ParamDistribution:
        """The distribution of bin ``arm``."""
        return self._arms[arm]

    def arm_of(self, scenario: Mapping[str, Any]) -> int:
        """The bin a scenario belongs to."""
        scenario = self.space.validate(scenario)
        idx = tuple(axis.index(scenario) for axis in self._axes)
        return int(np.ravel_multi_index(idx, self._shape))

    @property
    def learning_progress(self) -> np.ndarray:
        """Absolute learning progress ``|fast - slow|`` per arm."""
        return np.abs(self.fast - self.slow)

    @property
    def weights(self) -> np.ndarray:
        """Probability of drawing each arm next."""
        lp = self.learning_progress
        uniform = np.full(self.n_arms, 1.0 / self.n_arms)
        if lp.sum() <= 0:
            return uniform
        eps = self.config.exploration
        return (1.0 - eps) * lp / lp.sum() + eps * uniform

    def _propose(self, worker: int | None) -> Distribution:
        return self._arms[int(self.rng.choice(self.n_arms, p=self.weights))]

    def _update(
        self,
        scenario: dict[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        worker: int | None,
        version: int | None,
    ) -> None:
        if self.config.signal == "success":
            if success is None:
                raise ValueError(
                    "learning-progress with signal 'success' needs info['is_success'] at "
                    "episode end; the env did not report it (use signal: return)"
                )
            value = float(success)
        else:
            if self._return_range is None:
                self._return_range = [episode_return, episode_return]
            lo, hi = self._return_range
            lo, hi = min(lo, episode_return), max(hi, episode_return)
            self._return_range = [lo, hi]
            value = 0.5 if hi == lo else (episode_return - lo) / (hi - lo)
        arm = self.arm_of(scenario)
        if self.counts[arm] == 0:
            self.fast[arm] = self.slow[arm] = value
        else:
            self.fast[arm] += self.config.fast_rate * (value - self.fast[arm])
            self.slow[arm] += self.config.slow_rate * (value - self.slow[arm])
        self.counts[arm] += 1

    def metrics(self) -> dict[str, float]:
        """Per bin: the fast average signal (``success`` for success), LP and weight."""
        out: dict[str, float] = {}
        weights = self.weights
        for k, label in enumerate(self.arm_labels):
            out[f"{label}/{self.config.signal}"] = float(self.fast[k])
            out[f"{label}/lp"] = float(self.learning_progress[k])
            out[f"{label}/weight"] = float(weights[k])
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "counts": self.counts.tolist(),
            "fast": self.fast.tolist(),
            "slow": self.slow.tolist(),
            "return_range": self._return_range,
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        counts = np.asarray(state["counts"], dtype=int)
        if counts.shape != (self.n_arms,):
            raise ValueError(f"saved state has {counts.size} arms, this scheduler {self.n_arms}")
        self.counts = counts
        self.fast = np.asarray(state["fast"], dtype=float)
        self.slow = np.asarray(state["slow"], dtype=float)
        rr = state["return_range"]
        self._return_range = None if rr is None else [float(rr[0]), float(rr[1])]
