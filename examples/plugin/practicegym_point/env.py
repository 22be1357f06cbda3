"""A point mass on a plane that must reach a goal: the smallest complete practicegym env."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from envs import Categorical, Continuous, ScenarioEnv, ScenarioSpace

SCENARIO_SPACE = ScenarioSpace(
    params=[
        Continuous("goal_distance", 0.1, 2.0, unit="m", description="start-goal distance"),
        Continuous("drag", 0.0, 0.9, description="velocity lost per step", easy="low"),
        Continuous("action_noise", 0.0, 0.5, description="std of actuation noise"),
        Categorical("colour", ("white", "red", "blue"), easy="white"),
    ],
    splits={
        "train": {
            "goal_distance": (0.1, 1.0),
            "drag": (0.0, 0.3),
            "action_noise": (0.0, 0.1),
            "colour": ["white", "red"],
        },
        "heldout-far": {"goal_distance": (1.4, 2.0)},
        "heldout-drag": {"drag": (0.6, 0.9), "colour": "blue"},
    },
)
MAX_STEPS = 50
GOAL_RADIUS = 0.1
MAX_SPEED = 0.1


class PointEnv(ScenarioEnv):
    """Point mass that must reach a goal.

    ## Description
    A point starts at the origin; the goal lies ``goal_distance`` away in a random
    direction. Actions are velocity commands, slowed by ``drag`` and perturbed by noise.

    ## Action Space
    ``Box(-1, 1, (2,))``: velocity command, scaled by 0.1 m/step.

    ## Observation Space
    ``Box(-3, 3, (4,))``: position (x, y) and goal offset (dx, dy).

    ## Rewards
    Negative distance to the goal each step; ``progress`` term in ``info["reward_terms"]``.

    ## Episode End
    Terminated within 0.1 m of the goal (success); truncated after 50 steps.

    ## Copies
    All state is plain Python and NumPy, so ``copy.deepcopy`` and ``pickle`` copies are
    exact and independent (the conformance kit checks it).

    ## Version History
    * v0: first version.

    >>> env = PointEnv()
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, sorted(info["scenario"])
    ((4,), ['action_noise', 'colour', 'drag', 'goal_distance'])
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    episode_info_keys = ("distance",)

    def __init__(
        self, split: str = "train", context: str = "hidden", render_mode: str | None = None
    ) -> None:
        super().__init__(SCENARIO_SPACE, split=split, context=context, render_mode=render_mode)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._declare_observation_space(spaces.Box(-3.0, 3.0, shape=(4,), dtype=np.float32))
        self._pos = np.zeros(2)
        self._vel = np.zeros(2)
        self._goal = np.zeros(2)
        self._steps = 0

    def _obs(self) -> np.ndarray:
        return np.clip(np.concatenate([self._pos, self._goal - self._pos]), -3, 3).astype(
            np.float32
        )

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        angle = self.np_random.uniform(0, 2 * np.pi)
        self._goal = scenario["goal_distance"] * np.array([np.cos(angle), np.sin(angle)])
        self._pos = np.zeros(2)
        self._vel = np.zeros(2)
        self._steps = 0
        return self._obs(), {}

    def _step_world(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        s = self.scenario
        noise = self.np_random.normal(0.0, s["action_noise"], size=2)
        self._vel = (1 - s["drag"]) * self._vel + 0.5 * (action + noise) * MAX_SPEED
        self._pos = np.clip(self._pos + self._vel, -1.5, 1.5)
        self._steps += 1
        distance = float(np.linalg.norm(self._goal - self._pos))
        success = distance < GOAL_RADIUS
        truncated = self._steps >= MAX_STEPS and not success
        info = {
            "reward_terms": {"progress": -distance},
            "is_success": success,
            "distance": distance,
        }
        return self._obs(), -distance, success, truncated, info

    def render(self) -> np.ndarray:
        """A 64x64 top view: the point in the scenario's colour, the goal in green."""
        frame = np.full((64, 64, 3), 30, dtype=np.uint8)
        colour = {"white": (255, 255, 255), "red": (255, 0, 0), "blue": (0, 0, 255)}
        for xy, rgb in ((self._goal, (0, 200, 0)), (self._pos, colour[self.scenario["colour"]])):
            col, row = (np.clip((xy + 2.0) / 4.0 * 63, 0, 63)).astype(int)
            frame[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3] = rgb
        return frame


class PointExpert:
    """Scripted expert: a damped proportional controller toward the goal."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """Returns the action for one (unbatched) observation."""
        offset = np.asarray(observation, dtype=np.float64)[2:4]
        vel = self.env.unwrapped._vel
        return np.clip(4.0 * offset - 3.0 * vel / MAX_SPEED, -1, 1).astype(np.float32), state
