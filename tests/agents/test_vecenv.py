"""The SB3 adapter over Gymnasium vector envs (``agents.vecenv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import load_results
from stable_baselines3.common.vec_env import VecNormalize

import curricula
import envs
from agents.vecenv import GymVectorAdapter, autoreset_mode, make_batched_vec_env, split_infos
from tests import toy_vector
from tests.toy_vector import PointVectorEnv

ZERO = np.zeros((3, 2), dtype=np.float32)


def _adapter(mode: AutoresetMode = AutoresetMode.SAME_STEP, n: int = 3) -> GymVectorAdapter:
    return GymVectorAdapter(PointVectorEnv(n, autoreset_mode=mode))


def _run_to_episode_end(venv: GymVectorAdapter) -> tuple[np.ndarray, list[dict]]:
    venv.seed(0)  # unseeded point goals can start within reach: a termination, not a time limit
    venv.reset()
    for _ in range(60):
        obs, _, dones, infos = venv.step(ZERO)
        if dones.any():
            return obs, infos
    raise AssertionError("no episode ended")


def test_split_infos_handles_nested_and_masked_keys() -> None:
    env = PointVectorEnv(2)
    _, info = env.reset(seed=0)
    rows = split_infos(info, 2)
    assert set(rows[0]["scenario"]) == {"goal_distance", "drag", "action_noise", "colour"}
    assert isinstance(rows[1]["scenario"]["colour"], str)
    assert isinstance(rows[1]["scenario"]["drag"], float)


def test_terminal_observation_and_time_limit_truncated() -> None:
    venv = _adapter()
    obs, infos = _run_to_episode_end(venv)
    # Point with zero actions: every world is truncated at step 50.
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == (4,)
        assert "is_success" in info and "scenario" in info and "distance" in info
        # the new episode starts at the origin: the returned obs is the reset obs
        np.testing.assert_allclose(obs[i][:2], 0.0)
        assert not np.allclose(info["terminal_observation"], obs[i])
        assert "scenario" in venv.reset_infos[i]
    _, _, _, infos = venv.step(ZERO)
    assert all(info["TimeLimit.truncated"] is False for info in infos)
    assert "terminal_observation" not in infos[0]
    venv.close()


class _Recorder(gym.vector.VectorWrapper):
    """Keeps the raw vector info of the last step and reset."""

    def step(self, actions: Any) -> Any:
        out = super().step(actions)
        self.last_step = out[4]
        return out

    def reset(self, **kwargs: Any) -> Any:
        out = super().reset(**kwargs)
        self.last_reset = out[1]
        return out


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_scenario_rows_split_once_per_episode_are_what_a_full_split_gives(
    mode: AutoresetMode,
) -> None:
    n, kwargs = 6, {"action_type": "discrete", "config": {"horizon": 6.0}}
    if mode == AutoresetMode.SAME_STEP:  # the native batch
        batch = envs.make_vec("driving", num_envs=n, autoreset_mode=mode, **kwargs)
    else:  # Gymnasium's own vectorisation, reset by the adapter
        fns = [lambda: envs.make("driving", **kwargs)] * n
        batch = gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
    raw = _Recorder(batch)
    venv = GymVectorAdapter(raw)
    venv.seed(3)
    venv.reset()
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(120):
        _, _, dones, infos = venv.step(rng.integers(0, 5, n))
        if mode == AutoresetMode.SAME_STEP:
            expected = split_infos(raw.last_step, n)  # a done world's row: the new episode
            finals = split_infos(raw.last_step["final_info"], n) if dones.any() else None
        else:
            expected = split_infos(raw.last_step, n)  # a done world's row: the ended one
            resets = split_infos(raw.last_reset, n) if dones.any() else None
        for i in range(n):
            if not dones[i]:
                assert infos[i]["scenario"] == expected[i]["scenario"]
            elif mode == AutoresetMode.SAME_STEP:
                assert infos[i]["scenario"] == finals[i]["scenario"]
                assert venv.reset_infos[i]["scenario"] == expected[i]["scenario"]
            else:
                assert infos[i]["scenario"] == expected[i]["scenario"]
                assert venv.reset_infos[i]["scenario"] == resets[i]["scenario"]
        ended += int(dones.sum())
    assert ended >= 2 * n
    infos[0]["scenario"]["lanes"] = -1  # a copy: the next step's row is untouched
    _, _, _, infos = venv.step(rng.integers(0, 5, n))
    assert infos[0]["scenario"]["lanes"] > 0


def test_disabled_autoreset_resets_done_worlds_itself() -> None:
    base = gym.vector.SyncVectorEnv(
        [lambda: envs.make("point")] * 3, autoreset_mode=AutoresetMode.DISABLED
    )
    venv = GymVectorAdapter(base)
    venv.seed(0)
    obs, infos = _run_to_episode_end(venv)
    np.testing.assert_allclose(obs[:, :2], 0.0)
    assert all(info["TimeLimit.truncated"] for info in infos)
    assert all(info["terminal_observation"].shape == (4,) for info in infos)
    venv.close()


def test_next_step_autoreset_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="SAME_STEP"):
        _adapter(AutoresetMode.NEXT_STEP)


class _NextStepByDefault(PointVectorEnv):
    def __init__(self, num_envs: int = 1, autoreset_mode: str = "NextStep", **kwargs: Any) -> None:
        super().__init__(num_envs, autoreset_mode, **kwargs)


def test_native_batches_are_asked_for_same_step() -> None:
    assert autoreset_mode(_NextStepByDefault(2)) == AutoresetMode.NEXT_STEP
    with toy_vector.registered(_NextStepByDefault) as name:
        venv = make_batched_vec_env(name, 2, seed=0)
        assert venv.venv.autoreset_mode == AutoresetMode.SAME_STEP
        venv.close()


def test_seeding_follows_dummy_vec_env() -> None:
    a, b = _adapter(), _adapter()
    a.seed(5)
    base = PointVectorEnv(3)
    expected, _ = base.reset(seed=[5, 6, 7])
    np.testing.assert_array_equal(a.reset(), expected)
    b.seed(5)
    np.testing.assert_array_equal(b.reset(), expected)


def test_per_world_routing_through_the_world_protocol() -> None:
    venv = _adapter()
    venv.env_method("set_distribution", "heldout-far", indices=[1])
    assert venv.get_attr("split") == ["train", "heldout-far", "train"]
    venv.set_attr("split", "x", indices=2)
    assert venv.get_attr("split", indices=[2]) == ["x"]
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * 3
    assert not venv.has_attr("action_masks")
    venv.close()


def test_per_world_routing_on_sync_vector_env() -> None:
    venv = make_batched_vec_env("point", 3, seed=0)
    venv.env_method("set_distribution", "heldout-far", indices=[0])
    assert venv.get_attr("split") == ["heldout-far", "train", "train"]
    venv.close()


class _Masked(PointVectorEnv):
    def action_masks(self) -> np.ndarray:
        return np.arange(self.num_envs * 2).reshape(self.num_envs, 2) % 2 == 0


def test_batched_action_masks_as_sb3_contrib_reads_them() -> None:
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    venv = GymVectorAdapter(_Masked(3))
    assert is_masking_supported(venv)
    np.testing.assert_array_equal(get_action_masks(venv), venv.action_masks())
    assert venv.env_method("action_masks", indices=[1])[0].tolist() == [True, False]


def test_render_returns_the_first_world_frame() -> None:
    venv = GymVectorAdapter(PointVectorEnv(2, render_mode="rgb_array"))
    venv.reset()
    frame = venv.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert len(venv.get_images()) == 2


def test_ppo_round_trip_with_monitor_csv(tmp_path: Path) -> None:
    with toy_vector.registered() as name:
        venv = make_batched_vec_env(
            name, 2, seed=0, monitor_file=str(tmp_path / "s0-0"), keywords=("is_success",)
        )
        venv = VecNormalize(venv)
        model = PPO(
            "MlpPolicy",
            venv,
            n_steps=16,
            batch_size=16,
            n_epochs=1,
            seed=0,
            policy_kwargs={"net_arch": [16]},
        )
        model.learn(128)
        model.save(tmp_path / "model")
        venv.close()
    loaded = PPO.load(tmp_path / "model", device="cpu")
    action, _ = loaded.predict(np.zeros((2, 4), dtype=np.float32), deterministic=True)
    assert action.shape == (2, 2)
    results = load_results(str(tmp_path))
    assert len(results) >= 2 and {"r", "l", "t", "is_success"} <= set(results.columns)


def test_curriculum_callback_sends_per_world_distributions() -> None:
    with toy_vector.registered() as name:
        venv = make_batched_vec_env(name, 2, seed=0)
        space = venv.get_attr("scenario_space")[0]
        scheduler = curricula.make_scheduler(
            "learning-progress", space, seed=0, total_timesteps=256
        )
        sent: dict[int, dict] = {}
        propose = scheduler.distribution

        def recording(worker: int | None = None) -> Any:
            dist = propose(worker)
            assert worker is not None  # a per-worker scheduler
            sent[worker] = dist.to_dict()
            return dist

        scheduler.distribution = recording  # type: ignore[method-assign]
        model = PPO(
            "MlpPolicy",
            venv,
            n_steps=64,
            batch_size=64,
            n_epochs=1,
            seed=0,
            policy_kwargs={"net_arch": [16]},
        )
        model.learn(256, callback=curricula.CurriculumCallback(scheduler))
        assert scheduler.episodes > 0
        held = [d.to_dict() for d in venv.env_method("get_distribution")]
        assert held == [sent[0], sent[1]]
        venv.close()
