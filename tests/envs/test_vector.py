"""Vector envs: ``envs.make_vec``, the registry's vector entry point and ``check_vector_env``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs
from envs.testing import ConformanceError, check_vector_env
from tests import toy_vector
from tests.toy_vector import PointVectorEnv


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_toy_native_vector_env_passes(mode: AutoresetMode) -> None:
    check_vector_env(lambda: PointVectorEnv(3, autoreset_mode=mode), steps=60)


def test_gymnasium_sync_vectorisation_passes() -> None:
    check_vector_env(lambda: envs.make_vec("point", 2), steps=60)


class _NoMasks(PointVectorEnv):
    def step(self, actions: Any) -> Any:
        obs, rew, term, trunc, info = super().step(actions)
        return obs, rew, term, trunc, {k: v for k, v in info.items() if not k.startswith("_")}


class _SameSeedEverywhere(PointVectorEnv):
    def _seeds(self, seed: Any) -> list[Any]:
        return [seed] * self.num_envs if isinstance(seed, int) else super()._seeds(seed)


class _NoActionCheck(PointVectorEnv):
    def step(self, actions: Any) -> Any:
        actions = np.nan_to_num(np.asarray(actions, dtype=np.float32))[: self.num_envs]
        return super().step(actions)


class _WrongDtype(PointVectorEnv):
    def reset(self, **kwargs: Any) -> Any:
        obs, info = super().reset(**kwargs)
        return obs.astype(np.float64), info


class _NoFinalObs(PointVectorEnv):
    def step(self, actions: Any) -> Any:
        obs, rew, term, trunc, info = super().step(actions)
        info.pop("_final_obs", None)
        info.pop("final_obs", None)
        return obs, rew, term, trunc, info


class _SharedRandomness(PointVectorEnv):
    def reset(self, *, seed: Any = None, options: Any = None) -> Any:
        out = super().reset(seed=seed, options=options)
        for world in self.worlds[1:]:  # every world draws from world 0's generator
            world._np_random = self.worlds[0].np_random
        return out


class _NextStepRewarded(PointVectorEnv):
    def step(self, actions: Any) -> Any:
        pending = self._pending_reset.copy()
        obs, rew, term, trunc, info = super().step(actions)
        return obs, np.where(pending, 1.0, rew), term, trunc, info


@pytest.mark.parametrize(
    ("cls", "mode", "match"),
    [
        (_NoMasks, AutoresetMode.SAME_STEP, "mask"),
        (_SameSeedEverywhere, AutoresetMode.SAME_STEP, r"reset\(seed=0\)"),
        (_NoActionCheck, AutoresetMode.SAME_STEP, "ValueError"),
        (_WrongDtype, AutoresetMode.SAME_STEP, "outside|dtype"),
        (_NoFinalObs, AutoresetMode.SAME_STEP, "_final_obs"),
        (_NextStepRewarded, AutoresetMode.NEXT_STEP, "NEXT_STEP"),
        (_SharedRandomness, AutoresetMode.SAME_STEP, "neighbours"),
    ],
)
def test_broken_vector_envs_fail(cls: type, mode: AutoresetMode, match: str) -> None:
    with pytest.raises(ConformanceError, match=match):
        check_vector_env(lambda: cls(3, autoreset_mode=mode), steps=60)


def test_make_vec_uses_the_vector_entry_point() -> None:
    with toy_vector.registered() as name:
        venv = envs.make_vec(name, 3, split="heldout-far")
        assert isinstance(venv, PointVectorEnv)
        assert venv.num_envs == 3
        assert venv.get_world_attr(2, "split") == "heldout-far"
        venv.close()
        native = gym.make_vec(
            toy_vector.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point"
        )
        assert isinstance(native, PointVectorEnv)
        native.close()
        sync = envs.make_vec(name, 2, vectorization_mode="sync")
        assert isinstance(sync, gym.vector.SyncVectorEnv)
        sync.close()
    assert name not in envs.names()


def test_make_vec_without_vector_entry_point_is_sync() -> None:
    venv = envs.make_vec("point", 2, split="heldout-drag", context="visible")
    assert isinstance(venv, gym.vector.SyncVectorEnv)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (2, venv.single_observation_space.shape[0])
    assert list(info["scenario"]["colour"]) == ["blue", "blue"]
    venv.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "pointt"}, "Did you mean 'point'"),
        ({"num_envs": 0}, "num_envs must be an integer >= 1"),
        ({"vectorization_mode": "magic"}, "vectorization_mode must be one of"),
        ({"vectorization_mode": "vector_entry_point"}, "declares no vector_entry_point"),
    ],
)
def test_make_vec_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    kwargs = {"name": "point", **kwargs}
    with pytest.raises(ValueError, match=match):
        envs.make_vec(**kwargs)


def test_conformance_kit_checks_a_native_batch() -> None:
    from envs.testing import check_env_conformance

    with toy_vector.registered() as name:
        check_env_conformance(name, determinism_steps=60, steps_per_split=10, check_render=False)
    with toy_vector.registered(_NoMasks) as name, pytest.raises(ConformanceError, match="mask"):
        check_env_conformance(name, determinism_steps=60, steps_per_split=10, check_render=False)
