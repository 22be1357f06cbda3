"""A toy env with a known failure region, for the probe tests (registered as ``probe-toy``).

One-step episodes. Four parameters ``a, b, c, d`` in [0, 1] and a categorical ``shade``.
The episode fails exactly when ``(a, b)`` lies within :data:`RADIUS` of
:data:`CENTRE`; its return is the distance to the failure region's centre plus a little
seed-dependent noise, so a search has a gradient towards it. The train split covers
``a, b <= 0.9``; held-out splits reach beyond it. A policy's action does not matter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

import envs
from envs import Categorical, Continuous, ScenarioEnv, ScenarioSpace

NAME = "probe-toy"
ENV_ID = "practicegym_test/ProbeToy-v0"
CENTRE = (0.8, 0.3)
RADIUS = 0.06

SPACE = ScenarioSpace(
    [
        Continuous("a", 0.0, 1.0),
        Continuous("b", 0.0, 1.0),
        Continuous("c", 0.0, 1.0),
        Continuous("d", 0.0, 1.0),
        Categorical("shade", ("light", "dark", "grey")),
    ],
    {
        "train": {"a": (0.0, 0.9), "b": (0.0, 0.9), "shade": ["light", "dark"]},
        "heldout-edge": {"a": (0.95, 1.0)},
        "heldout-grey": {"shade": "grey", "b": (0.95, 1.0)},
    },
)


def distance(scenario: dict[str, Any]) -> float:
    """Distance of ``(a, b)`` to the failure region's centre."""
    return float(np.hypot(scenario["a"] - CENTRE[0], scenario["b"] - CENTRE[1]))


class ProbeToyEnv(ScenarioEnv):
    """One step; fails inside the disc around :data:`CENTRE` (see the module doc)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, split: str = "train", render_mode: str | None = None, **kwargs: Any):
        super().__init__(SPACE, split=split, render_mode=render_mode, **kwargs)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._declare_observation_space(spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32))

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self._noise = float(self.np_random.uniform(0.0, 0.01))
        return np.array([scenario["c"], scenario["d"]], dtype=np.float32), {}

    def _step_world(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        d = distance(self.scenario)
        obs = np.zeros(2, dtype=np.float32)
        return obs, d + self._noise, True, False, {"is_success": d > RADIUS}

    def render(self) -> np.ndarray:
        """A small image whose brightness is the distance to the failure region."""
        return np.full((8, 8, 3), int(min(1.0, distance(self.scenario)) * 255), dtype=np.uint8)


class ConstantPolicy:
    """Always the same action (the toy's outcome does not depend on it)."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """Returns zero."""
        return np.zeros(1, dtype=np.float32), state


envs.register(NAME, ENV_ID, f"{__name__}:ProbeToyEnv", description="probe test env")
