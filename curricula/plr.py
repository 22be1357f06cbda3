"""``plr``: prioritized level replay (Jiang et al., 2021) over concrete scenarios.

A *level* is one complete scenario of the ``train`` split. At each of a worker's
episode ends the scheduler either draws a fresh level from ``train`` with its own RNG, or
(with probability ``replay_prob`` once ``min_levels`` levels are stored) replays a stored
level drawn with probability ``(1 - staleness_coef) * P_score + staleness_coef *
P_staleness``, where ``P_score`` is rank-based (``(1/rank) ** (1/temperature)``) and
``P_staleness`` grows with the number of draws since the level was last chosen. The
worker receives a one-level :class:`~envs.scenarios.Levels`; the env still draws its
within-level randomness (e.g. start states) from its own seeded RNG.

Scores:

* ``return-surprise`` (default, any algorithm): a TD-error proxy from returns alone —
  ``|G - baseline|`` where the baseline is the level's mean past return (the mean over
  all episodes for a first visit). Levels whose outcome is still changing score high;
  levels reliably solved or reliably failed decay to zero.
* ``value-l1`` (on-policy algorithms): PLR's L1 value loss (its reference code's
  default strategy), the mean of ``|GAE advantage|`` over the level's steps in each
  rollout, which
  :class:`~curricula.callback.CurriculumCallback` computes from the rollout buffer and
  passes to :meth:`PLRScheduler.observe_score`.

A finished level enters the buffer when there is room, or replaces the lowest-scoring
stored level when its score is higher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from curricula.base import (
    CurriculumScheduler,
    check_fraction,
    check_positive_int,
    scenario_key,
)
from envs.scenarios import Distribution, Levels

__all__ = ["PLRConfig", "PLRScheduler"]

SCORES = ("return-surprise", "value-l1")


@dataclass(frozen=True)
class PLRConfig:
    """Options of the ``plr`` curriculum.

    Attributes:
        buffer_size: Most levels kept for replay.
        replay_prob: Probability of replaying a stored level instead of a new one.
        min_levels: Stored levels needed before any replay.
        temperature: Rank prioritisation temperature (PLR's beta; smaller is greedier).
        staleness_coef: Weight of staleness in the replay distribution (PLR's rho).
        score: ``"return-surprise"`` or ``"value-l1"`` (see the module doc).
        score_rate: Step size of a level's score average (1 keeps the latest score).
    """

    buffer_size: int = 64
    replay_prob: float = 0.5
    min_levels: int = 8
    temperature: float = 0.1
    staleness_coef: float = 0.1
    score: str = "return-surprise"
    score_rate: float = 1.0

    def __post_init__(self) -> None:
        check_positive_int("plr", "buffer_size", self.buffer_size)
        check_fraction("plr", "replay_prob", self.replay_prob)
        check_positive_int("plr", "min_levels", self.min_levels)
        if self.min_levels > self.buffer_size:
            raise ValueError(
                f"plr.min_levels ({self.min_levels}) must not exceed buffer_size "
                f"({self.buffer_size})"
            )
        check_fraction("plr", "temperature", self.temperature, open_low=True)
        check_fraction("plr", "staleness_coef", self.staleness_coef)
        if self.score not in SCORES:
            raise ValueError(f"plr.score must be one of {list(SCORES)}, got {self.score!r}")
        check_fraction("plr", "score_rate", self.score_rate, open_low=True)


class PLRScheduler(CurriculumScheduler):
    """Prioritized level replay over concrete ``train`` scenarios (see the module doc)."""

    name = "plr"
    config_class = PLRConfig
    per_worker = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.levels: list[dict[str, Any]] = []
        self.scores: list[float] = []
        self.last_drawn: list[int] = []
        self._level_returns: list[list[float]] = []  # [sum, count] per stored level
        self._index: dict[str, int] = {}
        self.draws = 0
        self.replays = 0
        self._return_sum = 0.0

    @property
    def wants_value_l1(self) -> bool:
        """Whether the SB3 callback should compute value-l1 scores for this scheduler."""
        return self.config.score == "value-l1"

    @property
    def replay_weights(self) -> np.ndarray:
        """Probability of each stored level when replaying."""
        n = len(self.levels)
        if n == 0:
            return np.zeros(0)
        scores = np.asarray(self.scores)
        ranks = np.empty(n)
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, n + 1)
        h = (1.0 / ranks) ** (1.0 / self.config.temperature)
        p_score = h / h.sum()
        stale = self.draws - np.asarray(self.last_drawn, dtype=float)
        p_stale = stale / stale.sum() if stale.sum() > 0 else np.full(n, 1.0 / n)
        rho = self.config.staleness_coef
        return (1.0 - rho) * p_score + rho * p_stale

    def _propose(self, worker: int | None) -> Distribution:
        c = self.config
        replay = len(self.levels) >= c.min_levels and self.rng.random() < c.replay_prob
        self.draws += 1
        if replay:
            i = int(self.rng.choice(len(self.levels), p=self.replay_weights))
            self.last_drawn[i] = self.draws
            self.replays += 1
            scenario = self.levels[i]
        else:
            scenario = self.space.sample(self.rng, "train")
        return Levels(self.space, [scenario])

    def _update(
        self,
        scenario: dict[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        worker: int | None,
        version: int | None,
    ) -> None:
        i = self._index.get(scenario_key(scenario))
        if i is not None and self._level_returns[i][1] > 0:
            baseline = self._level_returns[i][0] / self._level_returns[i][1]
        elif self.episodes > 1:
            baseline = self._return_sum / (self.episodes - 1)
        else:
            baseline = episode_return
        self._return_sum += episode_return
        if self.config.score == "return-surprise":
            i = self.observe_score(scenario, abs(episode_return - baseline))
        if i is not None:
            self._level_returns[i][0] += episode_return
            self._level_returns[i][1] += 1

    def observe_score(self, scenario: Mapping[str, Any], score: float) -> int | None:
        """Records a score for a level; returns its buffer index (``None`` if not kept)."""
        scenario = self.space.validate(scenario)
        key = scenario_key(scenario)
        score = float(score)
        i = self._index.get(key)
        if i is not None:
            self.scores[i] += self.config.score_rate * (score - self.scores[i])
            return i
        if not self.space.contains(scenario, "train"):
            return None
        if len(self.levels) < self.config.buffer_size:
            i = len(self.levels)
            self.levels.append(scenario)
            self.scores.append(score)
            self.last_drawn.append(self.draws)
            self._level_returns.append([0.0, 0])
        else:
            i = int(np.argmin(self.scores))
            if score <= self.scores[i]:
                return None
            del self._index[scenario_key(self.levels[i])]
            self.levels[i] = scenario
            self.scores[i] = score
            self.last_drawn[i] = self.draws
            self._level_returns[i] = [0.0, 0]
        self._index[key] = i
        return i

    def metrics(self) -> dict[str, float]:
        """Stored levels, their score statistics and the share of replayed draws."""
        scores = np.asarray(self.scores) if self.scores else np.zeros(1)
        return {
            "levels": float(len(self.levels)),
            "score_mean": float(scores.mean()),
            "score_max": float(scores.max()),
            "replay_share": self.replays / self.draws if self.draws else 0.0,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "scores": self.scores,
            "last_drawn": self.last_drawn,
            "level_returns": self._level_returns,
            "draws": self.draws,
            "replays": self.replays,
            "return_sum": self._return_sum,
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.levels = [self.space.validate(s) for s in state["levels"]]
        self.scores = [float(s) for s in state["scores"]]
        self.last_drawn = [int(t) for t in state["last_drawn"]]
        self._level_returns = [[float(s), int(n)] for s, n in state["level_returns"]]
        if not len(self.levels) == len(self.scores) == len(self.last_drawn):
            raise ValueError("saved plr state has levels, scores and draws of different lengths")
        self._index = {scenario_key(s): i for i, s in enumerate(self.levels)}
        self.draws = int(state["draws"])
        self.replays = int(state["replays"])
        self._return_sum = float(state["return_sum"])
