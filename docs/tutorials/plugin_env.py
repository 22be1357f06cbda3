"""Tutorial: write a plugin env that gets curricula, training and evaluation for free.

The smallest complete env: a cart on a line must stop on a target. Run it with::

    python docs/tutorials/plugin_env.py

In a real plugin the classes live in your package and ``register_envs`` is its
``practicegym.envs`` entry point (see ``examples/plugin/``); here the script registers
the env itself, the way ``--env-module`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

import envs
from envs import Categorical, Continuous, EnvSpec, ScenarioEnv, ScenarioSpace
from envs.testing import check_env_conformance

# 1. The scenario space: typed parameters, a `train` split and >= 2 held-out splits, each
#    leaving train's range on at least one parameter (checked when the space is built).
SPACE = ScenarioSpace(
    params=[
        Continuous("distance", 0.1, 2.0, unit="m", description="start-target distance"),
        Continuous("friction", 0.0, 0.5, description="velocity lost per step", easy="high"),
        Categorical("colour", ("white", "red", "blue"), easy="white"),
    ],
    splits={
        "train": {"distance": (0.1, 1.0), "friction": (0.2, 0.5), "colour": ["white", "red"]},
        "heldout-far": {"distance": (1.5, 2.0)},
        "heldout-slippery": {"friction": (0.0, 0.1), "colour": "blue"},
    },
)


# 2. The env: subclass ScenarioEnv, declare spaces in __init__, fill two hooks. The base
#    class samples the scenario at reset, validates actions, reports info["scenario"]
#    and appends the context with context="visible".
class LineEnv(ScenarioEnv):
    """A cart on a line that must stop on a target.

    ## Description
    The cart starts at 0; the target is ``distance`` away on either side.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: acceleration.

    ## Observation Space
    ``Box(-3, 3, (2,), float32)``: offset to the target, velocity.

    ## Rewards
    ``progress``: minus the distance to the target.

    ## Episode End
    Success when within 5 cm at low speed; truncated after 60 steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    episode_info_keys = ("distance",)

    def __init__(
        self, split: str = "train", context: str = "hidden", render_mode: str | None = None
    ) -> None:
        super().__init__(SPACE, split=split, context=context, render_mode=render_mode)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._declare_observation_space(spaces.Box(-3.0, 3.0, shape=(2,), dtype=np.float32))
        self._x = self._v = self._target = 0.0
        self._steps = 0

    def _obs(self) -> np.ndarray:
        return np.clip([self._target - self._x, self._v], -3, 3).astype(np.float32)

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        side = self.np_random.choice([-1.0, 1.0])  # all randomness from self.np_random
        self._target, self._x, self._v, self._steps = side * scenario["distance"], 0.0, 0.0, 0
        return self._obs(), {}

    def _step_world(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._v = (1 - self.scenario["friction"]) * self._v + 0.05 * float(action[0])
        self._x = float(np.clip(self._x + self._v, -2.5, 2.5))
        self._steps += 1
        distance = abs(self._target - self._x)
        success = distance < 0.05 and abs(self._v) < 0.05
        info = {"reward_terms": {"progress": -distance}, "is_success": success}
        info["distance"] = distance
        return self._obs(), -distance, success, self._steps >= 60 and not success, info

    def render(self) -> np.ndarray:
        """A 16x64 strip: the cart in its colour, the target in green."""
        frame = np.full((16, 64, 3), 30, dtype=np.uint8)
        rgb = {"white": (255, 255, 255), "red": (255, 0, 0), "blue": (0, 0, 255)}
        for x, colour in ((self._target, (0, 200, 0)), (self._x, rgb[self.scenario["colour"]])):
            col = int(np.clip((x + 2.5) / 5.0 * 63, 0, 63))
            frame[4:12, max(col - 1, 0) : col + 2] = colour
        return frame


# 3. A scripted expert (SB3's predict): it normalises scores in transfer reports.
class LineExpert:
    def __init__(self, env: Any) -> None:
        self.env = env

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        offset, velocity = np.asarray(observation, dtype=np.float64)[:2]
        return np.clip([2.0 * offset - 8.0 * velocity], -1, 1).astype(np.float32), state


# 4. Registration. A plugin package returns this list from the function its
#    pyproject.toml names in [project.entry-points."practicegym.envs"].
def register_envs() -> list[EnvSpec]:
    return [
        EnvSpec(
            name="line",
            env_id="tutorial/Line-v0",
            entry_point=LineEnv,
            expert=LineExpert,
            description="A cart on a line must stop on a target (tutorial).",
            default_algo="ppo",
            max_episode_steps=60,  # LineEnv truncates after 60 steps
        )
    ]


def main() -> int:
    for spec in register_envs():
        if spec.name not in envs.names():
            envs.register(
                spec.name,
                spec.env_id,
                spec.entry_point,
                expert=spec.expert,
                description=spec.description,
                default_algo=spec.default_algo,
                max_episode_steps=spec.max_episode_steps,
            )

    # 5. The conformance kit: Gymnasium's and SB3's check_env, determinism under a seed,
    #    observations inside the space on every split, reward terms summing to the reward,
    #    episodes ending within max_episode_steps with their info keys, context="visible",
    #    the expert succeeding, actions validated, rendering, copies.
    check_env_conformance("line")
    print("line passes the conformance kit")

    # Everything that works on the built-ins now works on `line`: splits, forced
    # scenarios, the expert, curricula and the evaluator.
    env = envs.make("line", split="heldout-far")
    obs, info = env.reset(seed=0)
    print("scenario:", info["scenario"])
    print("held-out axes:", env.unwrapped.scenario_space.heldout_axes("heldout-far"))
    expert = envs.make_expert("line", env)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(expert.predict(obs)[0])
        done = terminated or truncated
    print("expert success on heldout-far:", info["is_success"])

    from agents.evaluation import evaluate_transfer  # the evaluator, unchanged

    print(evaluate_transfer("expert", "line", episodes=10, progress=False).table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
