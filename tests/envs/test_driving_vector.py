"""The batched driving env: batch independence (bit-exact), Gymnasium vector semantics."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs
from envs.driving.env import DrivingEnv
from envs.driving.vector import DrivingVectorEnv

SHORT = {"horizon": 4.0}  # 20-step episodes: many resets within the run


def _rollout_batch(num: int, steps: int, seed: int, **kwargs: object) -> tuple[list, ...]:
    """Obs, rewards, dones and infos of a NEXT_STEP batch under seeded random actions."""
    env = DrivingVectorEnv(num, config=SHORT, **kwargs)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    single = env.single_action_space
    out: tuple[list, ...] = ([obs], [], [], [], [])
    for _ in range(steps):
        if hasattr(single, "n"):
            actions = rng.integers(0, single.n, num)
        else:
            actions = rng.uniform(-1.0, 1.0, (num, *single.shape)).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(actions)
        for store, value in zip(
            out, (obs, reward, terminated | truncated, info, actions), strict=True
        ):
            store.append(value)
    return out


def _rollout_single(world: int, batch: tuple[list, ...], seed: int, **kwargs: object) -> None:
    """Replays world ``world``'s actions in a DrivingEnv and compares every step exactly."""
    observations, rewards, dones, infos, actions = batch
    env = DrivingEnv(config=SHORT, **kwargs)
    obs, _ = env.reset(seed=seed + world)
    assert np.array_equal(obs, observations[0][world])
    needs_reset = False
    for t in range(len(rewards)):
        if needs_reset:  # NEXT_STEP: this step resets the world and ignores its action
            obs, info = env.reset()
            reward, done = 0.0, False
        else:
            obs, reward, terminated, truncated, info = env.step(actions[t][world])
            done = terminated or truncated
        assert np.array_equal(obs, observations[t + 1][world]), (world, t)
        assert reward == rewards[t][world], (world, t)
        assert done == dones[t][world], (world, t)
        if not needs_reset:
            for key in ("is_success", "crashed", "off_road", "speed", "distance"):
                assert info[key] == infos[t][key][world], (world, t, key)
            for term, value in info["reward_terms"].items():
                assert value == infos[t]["reward_terms"][term][world], (world, t, term)
        needs_reset = done


@pytest.mark.parametrize(
    ("kwargs", "num", "steps", "worlds"),
    [
        ({}, 256, 1000, (0, 77, 255)),
        ({"action_type": "discrete", "task": "highway"}, 32, 1000, (0, 31)),
        ({"obs_type": "birdseye", "split": "heldout-visual"}, 8, 1000, (0, 7)),
    ],
)
def test_a_worlds_trajectory_does_not_depend_on_the_batch(
    kwargs: dict, num: int, steps: int, worlds: tuple[int, ...]
) -> None:
    seed = 100
    batch = _rollout_batch(num, steps, seed, **kwargs)
    assert sum(int(d.sum()) for d in batch[2]) > num  # episodes ended and restarted
    for world in worlds:
        _rollout_single(world, batch, seed, **kwargs)


def test_same_step_autoreset_reports_final_observations() -> None:
    env = DrivingVectorEnv(8, config=SHORT, autoreset_mode="same_step")
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    env.reset(seed=0)
    seen = 0
    for _ in range(60):
        obs, _, terminated, truncated, info = env.step(np.zeros((8, 2), np.float32))
        done = terminated | truncated
        if done.any():
            assert np.array_equal(info["_final_obs"], done)
            assert np.array_equal(info["_final_info"], done)
            for k in np.flatnonzero(done):
                assert info["final_obs"][k].shape == (40,)
                assert not np.array_equal(info["final_obs"][k], obs[k])  # obs: the new episode
                assert info["final_info"]["_is_success"][k]
            seen += int(done.sum())
    assert seen >= 8


def test_seeding_with_int_and_list_and_per_world_distributions() -> None:
    a = DrivingVectorEnv(3)
    b = DrivingVectorEnv(3)
    obs_a, _ = a.reset(seed=5)
    obs_b, _ = b.reset(seed=[5, 6, 7])
    assert np.array_equal(obs_a, obs_b)
    a.set_distribution("heldout-curves", indices=[1])
    assert a.get_world_attr(1, "split") == "heldout-curves"
    assert a.get_world_attr(0, "split") == "train"
    a.call_world(2, "set_distribution", "heldout-friction")
    _, info = a.reset(seed=0)
    curvature = info["scenario"]["curvature"]
    assert curvature[1] > 0.012 and a.get_world_attr(2, "scenario")["friction"] < 0.7


def test_bad_action_batches_name_the_world() -> None:
    env = DrivingVectorEnv(4)
    env.reset(seed=0)
    bad = np.zeros((4, 2), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"worlds \[2\]"):
        env.step(bad)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 2), np.float32))
    discrete = DrivingVectorEnv(2, action_type="discrete")
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match=r"worlds \[1\]"):
        discrete.step(np.array([1, 7]))
    with pytest.raises(ValueError, match="num_envs"):
        DrivingVectorEnv(0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        DrivingVectorEnv(2, autoreset_mode="disabled")


def test_context_visible_and_perception_batches() -> None:
    env = DrivingVectorEnv(3, context="visible", obs_type="birdseye")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    frames, labels = env.perception_frames(), env.perception_labels()
    assert frames.shape == (3, 64, 64, 3) and labels["lead_gap"].shape == (3,)
    single = DrivingEnv(context="visible", obs_type="birdseye")
    single.reset(seed=1)
    assert np.array_equal(single.perception_frame(), frames[1])
    assert np.array_equal(env.call_world(1, "perception_frame"), frames[1])


def test_the_scripted_expert_drives_each_world_of_a_batch() -> None:
    env = DrivingVectorEnv(6, action_type="discrete", config={"horizon": 10.0})
    env.reset(seed=20)
    experts = [envs.make_expert("driving", env.world(k)) for k in range(6)]
    ended = won = 0
    for _ in range(60):
        actions = np.array([expert.predict(None)[0] for expert in experts])
        _, _, terminated, truncated, info = env.step(actions)
        done = terminated | truncated
        ended += int(done.sum())
        won += int(info["is_success"][done].sum())
    assert ended >= 6 and won / ended >= 0.8
    with pytest.raises(IndexError, match="out of range"):
        env.world(6)


def test_fast_mobil_matches_the_readable_reference() -> None:
    """``TrafficBatch._mobil`` (arrays) decides exactly as the driver-by-driver reference."""
    from envs.driving.vehicle import VEHICLE_LENGTH, idm
    from tests.envs.mobil_reference import mobil_reference

    venv = DrivingVectorEnv(12, action_type="discrete")
    dense = {"lanes": 3, "traffic_density": 40.0, "aggressiveness": 0.8, "curvature": 0.01}
    venv.reset(seed=3, options={"scenario": dense})
    rng = np.random.default_rng(0)
    decisions = compared = 0
    for t in range(60):
        venv.step(rng.integers(0, 5, 12))
        if t % 6:
            continue
        worlds = venv.worlds
        traffic, egos = worlds.traffic, worlds.egos
        ego_lane = worlds.around.lane
        slots = traffic._slots(egos.s, egos.v, 1 << ego_lane)
        leader = traffic._leaders(slots[0], slots[2])
        rows = np.arange(traffic.num)[:, None]
        gap = slots[0][rows, leader] - traffic.s - VEHICLE_LENGTH
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = idm(
                traffic.v, traffic.v0_now, gap, slots[1][rows, leader],
                traffic.headway, traffic.a_max, traffic.inv_root,
            )  # fmt: skip
        acc = np.where(traffic.present, acc, 0.0)
        decide = np.arange(traffic.num)
        args = (decide, acc, *slots, leader, egos.v, ego_lane)
        fast = traffic._mobil(*args)
        slow = mobil_reference(traffic, *args)
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])
        decisions += int(fast[0].sum())
        compared += 1
    assert compared == 10 and decisions >= 5, decisions  # drivers really changed lanes
