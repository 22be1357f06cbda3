"""A toy native ``VectorEnv`` for tests: N independent worlds of the example plugin's point env.

It stands in for a native batch (like driving's) in tests of the generic vector plumbing:
its own ``reset``/``step`` (not Gymnasium's ``SyncVectorEnv``), both autoreset modes, the
world protocol (``call_world``/``get_world_attr``/``set_world_attr``) and seeding where
world ``i`` depends only on its own seed, scenario and actions. :func:`registered` adds
it to the registry as ``point-vec`` (with a ``vector_entry_point``) for one test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array
from practicegym_point.env import PointEnv

import envs
from envs import registry

NAME = "point-vec"
ENV_ID = "practicegym_test/PointVec-v0"


class PointVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` point worlds stepped together, autoresetting as asked.

    Args:
        num_envs: Worlds.
        autoreset_mode: ``SAME_STEP`` (default) or ``NEXT_STEP``.
        **kwargs: Constructor kwargs of each world (``split``, ``context``, ...).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"]}

    def __init__(
        self,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        **kwargs: Any,
    ) -> None:
        self.worlds = [PointEnv(**kwargs) for _ in range(num_envs)]
        self.num_envs = num_envs
        self.metadata = {**type(self).metadata, "autoreset_mode": AutoresetMode(autoreset_mode)}
        self.render_mode = self.worlds[0].render_mode
        self.single_observation_space = self.worlds[0].observation_space
        self.single_action_space = self.worlds[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._pending_reset = np.zeros(num_envs, dtype=bool)

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, int):
            return [seed + i for i in range(self.num_envs)]
        if len(seed) != self.num_envs:
            raise ValueError(f"seed needs {self.num_envs} entries, got {len(seed)}")
        return list(seed)

    def _batch(self, observations: list[Any]) -> Any:
        out = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, observations, out)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Resets every world; world ``i`` gets seed ``seed + i`` (or ``seed[i]``)."""
        infos: dict[str, Any] = {}
        observations = []
        for i, (world, s) in enumerate(zip(self.worlds, self._seeds(seed), strict=True)):
            obs, info = world.reset(seed=s, options=options)
            observations.append(obs)
            infos = self._add_info(infos, info, i)
        self._pending_reset[:] = False
        return self._batch(observations), infos

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Steps every world (see the class docstring for autoreset)."""
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != self.action_space.shape or not np.isfinite(actions).all():
            raise ValueError(
                f"actions must be finite with shape {self.action_space.shape}, got {actions!r}"
            )
        n = self.num_envs
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        observations, infos = [], {}
        same_step = self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        for i, world in enumerate(self.worlds):
            if self._pending_reset[i]:
                obs, info = world.reset()
            else:
                obs, rewards[i], terminated[i], truncated[i], info = world.step(actions[i])
                if same_step and (terminated[i] or truncated[i]):
                    infos = self._add_info(infos, {"final_obs": obs, "final_info": info}, i)
                    obs, info = world.reset()
            observations.append(obs)
            infos = self._add_info(infos, info, i)
        self._pending_reset = (terminated | truncated) & (not same_step)
        return self._batch(observations), rewards, terminated, truncated, infos

    def render(self) -> tuple[Any, ...]:
        """One frame per world."""
        return tuple(world.render() for world in self.worlds)

    def call_world(self, index: int, name: str, *args: Any, **kwargs: Any) -> Any:
        """Calls world ``index``'s method ``name``."""
        return getattr(self.worlds[index], name)(*args, **kwargs)

    def get_world_attr(self, index: int, name: str) -> Any:
        """World ``index``'s attribute ``name``."""
        return getattr(self.worlds[index], name)

    def set_world_attr(self, index: int, name: str, value: Any) -> None:
        """Sets world ``index``'s attribute ``name``."""
        setattr(self.worlds[index], name, value)

    def close_extras(self, **kwargs: Any) -> None:
        """Closes every world."""
        for world in self.worlds:
            world.close()


@contextlib.contextmanager
def registered(vector_entry_point: Any = PointVectorEnv) -> Iterator[str]:
    """Registers ``point-vec`` (point with a native batch) for the ``with`` block."""
    envs.register(
        NAME,
        ENV_ID,
        PointEnv,
        vector_entry_point=vector_entry_point,
        expert="practicegym_point.env:PointExpert",
        description="point with a native vector entry point (tests only)",
        max_episode_steps=50,
    )
    try:
        yield NAME
    finally:
        registry._SPECS.pop(NAME, None)
        gym.registry.pop(ENV_ID, None)
