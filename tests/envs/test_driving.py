"""Tests of the driving family: road geometry, traffic models, the env contract, expert."""

from __future__ import annotations

import math

import numpy as np
import pytest

import envs
from envs.driving.actions import encode_continuous, track
from envs.driving.config import DrivingConfig, RewardWeights
from envs.driving.env import DrivingEnv
from envs.driving.expert import DrivingExpert
from envs.driving.road import Road
from envs.driving.scenarios import TASKS, scenario_space
from envs.driving.vehicle import (
    VEHICLE_LENGTH,
    VEHICLE_WIDTH,
    EgoState,
    Traffic,
    bicycle_step,
)
from envs.testing import check_env_conformance

SPLITS = ("train", "heldout-curves", "heldout-traffic", "heldout-friction", "heldout-visual")

# ----------------------------------------------------------------------------- road


@pytest.mark.parametrize("curvature", [0.0, 0.012, 0.03])
def test_frenet_round_trip_on_curved_roads(curvature: float) -> None:
    road = Road.generate(
        np.random.default_rng(1), lanes=4, lane_width=3.5, curvature_max=curvature, length=1500
    )
    if curvature:
        assert np.abs(road.kappa).max() > 0.5 * curvature  # the road really curves
    rng = np.random.default_rng(0)
    for _ in range(500):
        s = rng.uniform(0.0, road.length)
        d = rng.uniform(-road.half_width, road.half_width)
        x, y = road.to_cartesian(s, d)
        s2, d2 = road.to_frenet(x, y, s_hint=s + rng.uniform(-30.0, 30.0))
        assert abs(s2 - s) < 1e-2 and abs(d2 - d) < 1e-2, (s, d, s2, d2)


def test_road_geometry_matches_curvature() -> None:
    kappa = np.full(400, 0.02)
    road = Road.from_curvature(kappa, lanes=2, lane_width=3.5)
    # A constant-curvature road is a circle of radius 50 m around (0, 50).
    radius = np.hypot(road.x, road.y - 50.0)
    assert np.allclose(radius, 50.0, atol=0.05)
    assert road.lane_of(road.lane_center(1)) == 1 and road.lane_of(-100.0) == 0


def test_road_generation_is_seeded() -> None:
    a = Road.generate(
        np.random.default_rng(5), lanes=2, lane_width=3.5, curvature_max=0.01, length=800
    )
    b = Road.generate(
        np.random.default_rng(5), lanes=2, lane_width=3.5, curvature_max=0.01, length=800
    )
    c = Road.generate(
        np.random.default_rng(6), lanes=2, lane_width=3.5, curvature_max=0.01, length=800
    )
    assert np.array_equal(a.kappa, b.kappa) and not np.array_equal(a.kappa, c.kappa)


@pytest.mark.parametrize("start", [0.0, 37.3, 412.9, 880.0])
def test_strided_poses_match_pose_at(start: float) -> None:
    road = Road.generate(
        np.random.default_rng(1), lanes=3, lane_width=3.5, curvature_max=0.03, length=1000.0
    )
    got = road.pose_every(start, 2, 56)
    if start + 2.0 * 55 >= road.length:
        assert got is None  # would leave the road: pose_at extends it straight instead
        return
    assert got is not None
    for a, b in zip(got, road.pose_at(start + 2.0 * np.arange(56)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert road.pose(start) == pytest.approx(tuple(float(v[0]) for v in got), abs=1e-9)


# -------------------------------------------------------------------------- traffic


def _long_traffic_run(aggressiveness: float, steps: int, seed: int):
    road = Road.generate(
        np.random.default_rng(seed), lanes=3, lane_width=3.5, curvature_max=0.01, length=6000
    )
    rng = np.random.default_rng(seed)
    traffic = Traffic.spawn(
        rng,
        road,
        count=30,
        center_s=200.0,
        speed_limit=25.0,
        aggressiveness=aggressiveness,
        friction=0.9,
    )
    ego_s = 200.0
    for _ in range(steps):
        before = traffic.lane.copy()
        started = traffic.step(0.2, mobil_every=5)
        yield traffic, started, before
        ego_s += 20.0 * 0.2  # a virtual camera slower than traffic: recycling both ways
        traffic.recycle(ego_s, 25.0)


def test_idm_traffic_never_collides_over_long_runs() -> None:
    smallest = math.inf
    changes = 0
    for traffic, started, _ in _long_traffic_run(0.4, steps=1500, seed=3):
        smallest = min(smallest, traffic.min_gap())
        changes += int(started.sum())
        assert smallest > 0.0, "two background vehicles overlap"
    assert changes > 10  # lane changes really happened, so the check is meaningful


@pytest.mark.parametrize(("politeness", "changes"), [(1.0, True), (0.0, False)])
def test_mobil_counts_the_old_followers_gain(politeness: float, changes: bool) -> None:
    """A content driver moves over for a faster one stuck behind it only if polite."""
    road = Road.generate(
        np.random.default_rng(0), lanes=2, lane_width=3.5, curvature_max=0.0, length=2000
    )
    traffic = Traffic(
        road,
        s=np.array([100.0, 118.0]),  # a fast follower right behind a content driver
        v=np.array([28.0, 20.0]),
        lane=np.array([0, 0]),
        v0=np.array([30.0, 20.5]),
        headway=np.array([1.5, 1.5]),
        a_max=np.array([1.5, 1.5]),
        politeness=np.array([0.0, politeness]),
        friction=1.0,
        rng=np.random.default_rng(0),
    )
    started = traffic.step(0.2, mobil_every=1)
    assert bool(started[1]) is changes
    # The follower overtakes by changing lanes itself, unless the polite driver's change
    # claims that gap first (of two starters into one gap, the one behind waits).
    assert bool(started[0]) is not changes


def test_mobil_never_changes_into_an_occupied_gap() -> None:
    checked = 0
    for traffic, started, before in _long_traffic_run(0.5, steps=1000, seed=4):
        for i in np.flatnonzero(started):
            new_lane = traffic.lane[i]
            assert abs(int(new_lane) - int(before[i])) == 1
            in_lane = ((traffic.bits & (1 << int(new_lane))) != 0) | (traffic.lane == new_lane)
            in_lane[i] = False
            gaps = np.abs(traffic.s[in_lane] - traffic.s[i]) - VEHICLE_LENGTH
            assert gaps.size == 0 or gaps.min() > 1.0, f"vehicle {i} cut into a {gaps.min()} m gap"
            checked += 1
    assert checked > 5


def test_friction_limit_makes_an_over_fast_curve_fail() -> None:
    road = Road.from_curvature(np.full(2000, 0.02), lanes=2, lane_width=3.5)

    def drive(speed: float, friction: float) -> float:
        ego = EgoState(s=10.0, d=0.0, psi=0.0, v=speed)
        steer = math.atan(2.7 * 0.02)  # exact feed-forward for the curve
        ego.steer = steer
        for _ in range(50):  # 5 s
            bicycle_step(ego, steer, 0.0, 0.1, road, friction)
        return abs(ego.d)

    assert drive(speed=15.0, friction=0.9) < 0.5  # 4.5 m/s^2 < 8.8: holds the curve
    assert drive(speed=30.0, friction=0.9) > 5.0  # 18 m/s^2 > 8.8: slides out
    assert drive(speed=15.0, friction=0.3) > 5.0  # same speed on ice: slides out


def test_friction_limit_in_the_env() -> None:
    def episode(speed: float, friction: float) -> dict:
        env = DrivingEnv(task="lane-keep")
        env.reset(
            seed=0,
            options={
                "scenario": {
                    "curvature": 0.03,
                    "friction": friction,
                    "speed_limit": speed,
                    "traffic_density": 0.0,
                    "actuation_noise": 0.0,
                    "latency": 0,
                }
            },
        )
        while True:
            st, ac = track(env.road, env.ego, float(env.road.lane_center(0)), speed)
            _, _, terminated, truncated, info = env.step(encode_continuous(st, ac))
            if terminated or truncated:
                return info

    assert episode(speed=12.0, friction=1.0)["is_success"]
    failed = episode(speed=30.0, friction=0.3)
    assert failed["off_road"] or failed["lost_control"]


# ----------------------------------------------------------------------- env contract

# One full-strength configuration (200 determinism steps, vector env); the others check
# every split and the contract with shorter rollouts to keep the suite fast.
CONFORMANCE = [
    ("driving", {}, 200, True),
    ("driving", {"action_type": "discrete"}, 30, False),
    ("driving", {"obs_type": "birdseye"}, 30, False),
    (
        "driving",
        {"obs_type": "birdseye", "action_type": "discrete", "context": "visible"},
        20,
        False,
    ),
    ("driving", {"context": "visible"}, 20, False),
    ("driving-lane-keep", {}, 30, False),
    ("driving-highway", {"action_type": "discrete"}, 30, False),
]


@pytest.mark.parametrize(("name", "kwargs", "det_steps", "vector"), CONFORMANCE)
def test_conformance(name: str, kwargs: dict, det_steps: int, vector: bool) -> None:
    check_env_conformance(
        name,
        env_kwargs=kwargs,
        determinism_steps=det_steps,
        steps_per_split=40,
        check_vector=vector,
    )


def test_every_task_has_every_split_with_true_heldout_axes() -> None:
    for task in TASKS:
        space = scenario_space(task)
        assert tuple(space.split_names) == SPLITS
        assert "curvature" in space.heldout_axes("heldout-curves")
        assert "traffic_density" in space.heldout_axes("heldout-traffic")
        assert "friction" in space.heldout_axes("heldout-friction")
        visual = set(space.heldout_axes("heldout-visual"))
        assert {"marking_colour", "road_colour", "verge_colour", "pixel_noise"} <= visual


def test_typed_configs_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="valid"):
        DrivingEnv(reward={"colision": -1.0})
    with pytest.raises(ValueError, match="policy_frequency"):
        DrivingEnv(config={"policy_frequncy": 10})
    with pytest.raises(ValueError, match="task"):
        DrivingEnv(task="racing")
    with pytest.raises(ValueError, match="obs_type"):
        DrivingEnv(obs_type="pixels")
    with pytest.raises(ValueError):
        DrivingConfig(horizon=-1.0)
    env = DrivingEnv(reward=RewardWeights(collision=-20.0), config={"horizon": 10.0})
    assert env.weights.collision == -20.0 and env.config.max_steps == 50


def test_reward_is_the_sum_of_its_named_terms_and_episode_ends() -> None:
    env = DrivingEnv(config={"horizon": 4.0})
    env.reset(seed=2)
    expert = DrivingExpert(env)
    for _ in range(20):
        _, reward, terminated, truncated, info = env.step(expert.predict(None)[0])
        assert reward == pytest.approx(sum(info["reward_terms"].values()))
        if terminated or truncated:
            break
    assert truncated and info["is_success"] and not info["crashed"]


def test_zero_speed_is_not_success() -> None:
    env = DrivingEnv(task="lane-keep", config={"horizon": 6.0})
    env.reset(
        seed=0,
        options={"scenario": {"curvature": 0.0, "traffic_density": 0.0, "actuation_noise": 0.0}},
    )
    while True:
        _, _, terminated, truncated, info = env.step(np.array([0.0, -1.0], dtype=np.float32))
        if terminated or truncated:
            break
    assert truncated and not info["is_success"] and info["speed"] == 0.0


# ------------------------------------------------------------------------- perception


def test_lead_labels_stop_at_the_frames_visible_range() -> None:
    env = DrivingEnv(task="highway")
    visible = env.birdseye.visible_gap
    assert visible == pytest.approx(48 * 0.75 - 0.5 * VEHICLE_LENGTH)
    env.reset(seed=2, options={"scenario": {"traffic_density": 40.0}})
    seen_near = seen_far = False
    for _ in range(60):
        around, labels = env.surroundings, env.perception_labels()
        if around.lead_gap < visible:
            seen_near = True
            assert labels["lead_gap"] == around.lead_gap
            assert labels["lead_rel_speed"] == around.lead_rel_speed
        else:
            seen_far = True
            assert labels["lead_gap"] == visible and labels["lead_rel_speed"] == 0.0
        _, _, terminated, truncated, _ = env.step(np.array([0.0, -0.2], dtype=np.float32))
        if terminated or truncated:
            env.reset()
    assert seen_near and seen_far


def test_perception_hooks_and_visual_params() -> None:
    env = DrivingEnv()
    env.reset(seed=0, options={"scenario": {"pixel_noise": 0.0, "blur": 0.0}})
    frame = env.perception_frame()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    labels = env.perception_labels()
    assert list(labels) == list(DrivingEnv.perception_label_units)
    assert all(isinstance(v, float) for v in labels.values())
    assert 0.0 <= labels["lead_gap"] <= env.birdseye.visible_gap

    def look(**visual: object) -> np.ndarray:
        env.reset(seed=0, options={"scenario": {"pixel_noise": 0.0, "blur": 0.0, **visual}})
        return env.perception_frame().astype(int)

    base = look(marking_colour="white", brightness=1.0)
    for change in (
        {"marking_colour": "red", "brightness": 1.0},
        {"marking_colour": "white", "brightness": 0.5},
        {"marking_colour": "white", "brightness": 1.0, "verge_colour": "snow"},
        {"marking_colour": "white", "brightness": 1.0, "pixel_noise": 0.1},
        {"marking_colour": "white", "brightness": 1.0, "blur": 1.5},
    ):
        assert np.abs(look(**change) - base).sum() > 0, change


def test_heldout_visual_shows_colours_train_never_does() -> None:
    space = scenario_space("full")
    rng = np.random.default_rng(0)
    train = [space.sample(rng, "train") for _ in range(200)]
    held = [space.sample(rng, "heldout-visual") for _ in range(50)]
    for key in ("marking_colour", "road_colour", "verge_colour"):
        assert not {s[key] for s in held} & {s[key] for s in train}
    assert min(s["pixel_noise"] for s in held) > max(s["pixel_noise"] for s in train)


def test_birdseye_observation_is_the_perception_frame() -> None:
    env = envs.make("driving", obs_type="birdseye")
    obs, _ = env.reset(seed=1)
    assert np.array_equal(obs, env.unwrapped.perception_frame())
    # Road (grey) and verge both appear, and the ego is drawn.
    assert len(np.unique(obs.reshape(-1, 3), axis=0)) > 3


# ----------------------------------------------------------------------------- expert


def _expert_success(split: str, episodes: int, **kwargs: object) -> float:
    env = envs.make("driving", split=split, **kwargs)
    expert = envs.make_expert("driving", env)
    wins = 0
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + ep)
        while True:
            action, _ = expert.predict(obs)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        wins += bool(info["is_success"])
    return wins / episodes


def test_expert_succeeds_on_train() -> None:
    assert _expert_success("train", 10) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_expert_success_per_split(split: str, action_type: str) -> None:
    rate = _expert_success(split, 100, action_type=action_type)
    print(f"expert success {split} {action_type}: {rate:.2f}")
    if split == "train":
        assert rate >= 0.9


def test_incremental_lane_bookkeeping_matches_a_full_recompute() -> None:
    """Lane changers are moved one by one; ``occ``/``bits`` must equal the vectorised rule."""
    moved = 0
    for traffic, _, _ in _long_traffic_run(0.6, steps=600, seed=6):
        occ, bits = traffic.occ.copy(), traffic.bits.copy()
        moved += len(traffic.movers)
        traffic.update_lanes()
        assert np.array_equal(occ, traffic.occ) and np.array_equal(bits, traffic.bits)
        centre = (traffic.lane - 0.5 * (traffic.road.lanes - 1)) * traffic.road.lane_width
        settled = np.ones(traffic.count, dtype=bool)
        settled[traffic.movers] = False
        assert np.array_equal(traffic.d[settled], centre[settled])
    assert moved > 20  # lane changes were in progress, so the check is meaningful


def test_kinematics_and_surroundings_match_their_vectorised_definitions() -> None:
    env = DrivingEnv(task="highway", action_type="discrete")
    env.reset(seed=2, options={"scenario": {"traffic_density": 25.0, "lanes": 3}})
    checked = 0
    for t in range(300):
        obs, _, terminated, truncated, _ = env.step(t % 5)
        road, ego, traffic, around = env.road, env.ego, env.traffic, env.surroundings
        # Collision: road-aligned boxes.
        hit = (np.abs(traffic.s - ego.s) < VEHICLE_LENGTH) & (
            np.abs(traffic.d - ego.d) < VEHICLE_WIDTH
        )
        assert around.collided == bool(hit.any())
        # Lead vehicle: nearest ahead sharing the ego's lane bit.
        rel = traffic.s - ego.s
        ahead = np.where(((traffic.bits & (1 << around.lane)) != 0) & (rel > 0), rel, np.inf)
        if ahead.min() < 100.0 + VEHICLE_LENGTH:
            assert around.lead_gap == pytest.approx(ahead.min() - VEHICLE_LENGTH)
        else:
            assert around.lead_gap == 100.0
        # Neighbours: the K nearest by 2|dd| + |ds| within 80 m, nearest first.
        k = env.config.observed_vehicles
        dist = 2.0 * np.abs(traffic.d - ego.d) + np.abs(rel)
        order = np.argsort(dist)[:k]
        order = order[dist[order] < 80.0]
        feats = obs[16:].reshape(k, 4)
        assert np.all(feats[: len(order), 0] == 1.0) and np.all(feats[len(order) :] == 0.0)
        expect = np.clip(rel[order] / 80.0, -1, 1).astype(np.float32)
        np.testing.assert_allclose(feats[: len(order), 1], expect, atol=1e-6)
        preview = [road.curvature_at(ego.s + a) / 0.04 for a in (5.0, 15.0, 30.0, 50.0, 75.0)]
        np.testing.assert_allclose(obs[11:16], np.clip(preview, -1, 1), atol=1e-6)
        checked += len(order)
        if terminated or truncated:
            env.reset()
    assert checked > 300
