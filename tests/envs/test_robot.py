"""Tests of the robot envs (PyBullet Franka Panda reach/push).

PyBullet envs cost ~0.15 s to build (URDF meshes), so the tests share envs where they can
and run the full conformance kit on every split for one configuration only.
"""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

import envs
from envs.config import from_mapping
from envs.robot.env import RobotEnv
from envs.robot.expert import RobotExpert
from envs.robot.robot import Panda
from envs.robot.scenarios import SPACES
from envs.robot.sim import PhysicsConfig, Simulator
from envs.testing import check_env_conformance, rollout_digest

# A scenario with no latency or noise, so single steps show the physics directly.
CALM = {"control_latency": 0, "obs_noise": 0.0, "actuator_gain": 1.0, "motor_damping": 1.0}


@pytest.fixture(scope="module")
def push_env():
    env = RobotEnv(task="push")
    yield env
    env.close()


@pytest.fixture(scope="module")
def reach_env():
    env = RobotEnv(task="reach")
    yield env
    env.close()


# ----------------------------------------------------------------------- conformance


def test_conformance_push_every_split():
    check_env_conformance("robot-push", determinism_steps=200, steps_per_split=40)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("robot-reach", {"obs_type": "goal", "context": "visible", "reward_type": "sparse"}),
        ("robot-push", {"obs_type": "goal", "control": "joints", "context": "visible"}),
        ("robot-reach", {"control": "joints", "context": "visible"}),
    ],
)
def test_conformance_other_configs_on_train(name, kwargs):
    check_env_conformance(
        name,
        env_kwargs=kwargs,
        splits=["train"],
        determinism_steps=60,
        steps_per_split=30,
        check_vector=False,
        check_render=False,
    )


# ------------------------------------------------------------------------ simulator


def test_sim_loads_and_steps():
    with Simulator() as sim:
        sim.create_box("cube", half_extents=(0.02,) * 3, mass=1.0, position=(0, 0, 1.0))
        sim.step()
        z = sim.base_position("cube")[2]
        # free fall for one control step (0.04 s): ~0.5 * 9.81 * 0.04^2 = 7.8 mm
        assert 0.990 < z < 0.995
        assert sim.physics.control_dt == pytest.approx(0.04)
        with pytest.raises(ValueError, match="no body named 'cbe'"):
            sim.body("cbe")
    assert not sim.connected
    sim.close()  # idempotent


def test_physics_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown physics keys \\['time_step'\\]"):
        from_mapping(PhysicsConfig, {"time_step": 0.01}, what="physics")
    with pytest.raises(ValueError, match="substeps"):
        PhysicsConfig(substeps=0)
    with pytest.raises(ValueError, match="unknown physics keys"):
        RobotEnv(physics={"gravty": -9.81})


def test_constructor_errors_name_valid_values():
    for kwargs, match in [
        ({"task": "pick"}, "task must be one of \\['reach', 'push'\\]"),
        ({"obs_type": "image"}, "obs_type must be one of"),
        ({"reward_type": "shaped"}, "reward_type must be one of"),
        ({"control": "torque"}, "control must be one of"),
        ({"renderer": "opengl"}, "renderer must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            RobotEnv(**kwargs)


def test_ik_reaches_commanded_poses():
    with Simulator() as sim:
        robot = Panda(sim)
        robot.reset()
        targets = [(0.0, 0.0, 0.1), (-0.2, 0.2, 0.05), (0.1, -0.2, 0.25), (-0.35, -0.1, 0.15)]
        for target in targets:
            target = np.array(target)
            for _ in range(10):  # PyBullet's IK is iterative from the current pose
                sim.reset_joints(robot.name, range(7), robot.ik(target))
            assert np.linalg.norm(robot.ee_position() - target) < 0.005, target
        # and the motors carry the arm there too
        robot.reset()
        target = np.array([-0.2, 0.15, 0.1])
        for _ in range(25):
            robot.set_action(np.clip((target - robot.ee_position()) / 0.05, -1, 1))
            sim.step()
        assert np.linalg.norm(robot.ee_position() - target) < 0.01


def test_no_leaked_clients_after_500_cycles():
    ids = set()
    for _ in range(500):
        sim = Simulator()
        ids.add(sim._id)
        sim.close()
    assert len(ids) <= 2, f"client ids keep growing: {sorted(ids)[:5]}..."
    env_ids = []
    for _ in range(5):
        env = envs.make("robot-push")
        env.reset(seed=0)
        env_ids.append(env.unwrapped.sim._id)
        env.close()
        assert not p.isConnected(physicsClientId=env_ids[-1])
    assert len(set(env_ids)) == 1


# ------------------------------------------------------------------- physics matters


def test_heavier_cube_moves_less_and_slippery_cube_slides_farther(push_env):
    def displacement(**scenario):
        push_env.reset(seed=0, options={"scenario": {**CALM, **scenario}})
        sim = push_env.sim
        start = sim.base_position("object")
        sim.apply_force("object", (6.0, 0.0, 0.0))
        for _ in range(6):
            sim.step()
        return float(np.linalg.norm(sim.base_position("object") - start))

    light = displacement(object_mass=0.2, lateral_friction=0.6)
    heavy = displacement(object_mass=3.0, lateral_friction=0.6)
    assert light > 0.05 and heavy < 0.5 * light
    grippy = displacement(object_mass=0.5, lateral_friction=1.0)
    slippery = displacement(object_mass=0.5, lateral_friction=0.15)
    assert slippery > 2 * grippy


def test_a_cube_pushed_off_the_table_lands_on_the_floor(push_env):
    from envs.robot.tasks import FLOOR_CENTRE

    push_env.reset(seed=0, options={"scenario": CALM})
    sim = push_env.sim
    sim.set_base_pose("object", (0.0, 0.6, 0.1), (0.0, 0.0, 0.0, 1.0))  # beyond the edge
    for _ in range(40):
        sim.step()
    floor_top = FLOOR_CENTRE[2] + 0.01
    z = float(sim.base_position("object")[2])
    assert floor_top < z < floor_top + push_env.task.size
    # Launched hard, it neither passes through the floor nor flies past its edge.
    for velocity in ((0.0, 10.0, -10.0), (10.0, 0.0, 0.0), (0.0, 0.0, -30.0)):
        sim.set_base_pose("object", (0.0, 0.6, 0.1), (0.0, 0.0, 0.0, 1.0))
        sim.client.resetBaseVelocity(sim.body("object"), list(velocity), [0.0, 0.0, 0.0])
        for _ in range(60):
            sim.step()
        assert float(sim.base_position("object")[2]) > floor_top - 0.01, velocity


def test_arm_parameters_change_motion(reach_env):
    def travel(steps=3, **scenario):
        reach_env.reset(seed=0, options={"scenario": {**CALM, **scenario}})
        start = reach_env.robot.ee_position()
        moved = []
        for _ in range(steps):
            reach_env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
            moved.append(reach_env.robot.ee_position()[1] - start[1])
        return moved

    nominal = travel()[-1]
    assert travel(actuator_gain=0.4)[-1] < 0.8 * nominal
    assert travel(motor_damping=1.6)[-1] < 0.9 * nominal
    delayed = travel(control_latency=2)
    assert abs(delayed[0]) < 0.005 and abs(delayed[1]) < 0.005 and delayed[2] > 0.02


def test_observation_noise_perturbs_only_observation(push_env):
    push_env.reset(seed=3, options={"scenario": {**CALM, "obs_noise": 0.01}})
    obs, *_ = push_env.step(np.zeros(3, dtype=np.float32))
    clean = np.concatenate([push_env.robot.observation(), push_env.task.observation()])
    assert 0.002 < np.abs(obs[:18] - clean).mean() < 0.03
    np.testing.assert_allclose(obs[18:], push_env.task.goal, atol=1e-6)  # goal is exact


# ---------------------------------------------------------------- determinism, rewards


def test_rollout_does_not_depend_on_earlier_episodes():
    def expert_rollout(env, seed):
        expert = RobotExpert(env)
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for _ in range(40):
            obs, _, terminated, truncated, _ = env.step(expert.predict(obs)[0])
            trace.append(obs)
            if terminated or truncated:  # stepping on would raise
                break
        return np.array(trace)

    fresh = RobotEnv(task="push")
    used = RobotEnv(task="push")
    try:
        expert_rollout(used, seed=11)  # contacts, another cube size, then...
        np.testing.assert_array_equal(expert_rollout(fresh, 5), expert_rollout(used, 5))
    finally:
        fresh.close()
        used.close()


def test_reset_seed_then_reset_is_deterministic():
    def factory(split="train", **kw):
        return envs.make("robot-reach", split=split, **kw)

    a = rollout_digest(factory, seed=3, steps=110)
    b = rollout_digest(factory, seed=3, steps=110)
    assert a == b
    assert sum(1 for rec in a if rec[0] == "reset") >= 3  # crossed two episode ends


def test_compute_reward_is_vectorised_and_matches_step_reward():
    env = RobotEnv(task="push", obs_type="goal", context="visible")
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"observation", "achieved_goal", "desired_goal", "context"}
        rewards, infos, achieved, desired = [], [], [], []
        for _ in range(5):
            obs, reward, _, _, info = env.step(env.action_space.sample())
            rewards.append(reward)
            infos.append(info)
            achieved.append(obs["achieved_goal"])
            desired.append(obs["desired_goal"])
        batch = env.compute_reward(np.array(achieved), np.array(desired), np.array(infos))
        assert batch.shape == (5,) and batch.dtype == np.float32
        np.testing.assert_array_equal(batch, np.array(rewards, dtype=np.float32))
        assert sum(infos[-1]["reward_terms"].values()) == pytest.approx(rewards[-1], abs=1e-5)
    finally:
        env.close()
    assert not hasattr(RobotEnv(task="reach"), "compute_reward")  # flat: not a goal env


def test_sb3_her_runs_with_visible_context():
    from stable_baselines3 import SAC, HerReplayBuffer

    env = envs.make("robot-reach", obs_type="goal", context="visible", reward_type="sparse")
    try:
        model = SAC(
            "MultiInputPolicy",
            env,
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs={"n_sampled_goal": 2},
            learning_starts=60,
            batch_size=16,
            policy_kwargs={"net_arch": [16]},
            seed=0,
        )
        model.learn(70)
        assert model.replay_buffer.size() > 0
    finally:
        env.close()


# ------------------------------------------------------------------------- perception


def test_perception_frame_labels_and_visual_params(push_env):
    push_env.reset(seed=0, options={"scenario": {"camera_jitter": 0.0}})
    base = push_env.perception_frame()
    assert base.shape == (64, 64, 3) and base.dtype == np.uint8 and base.std() > 5
    labels = push_env.perception_labels()
    assert list(labels) == list(RobotEnv.perception_label_units)
    np.testing.assert_allclose(
        [labels["object_x"], labels["object_y"]], push_env.task.achieved_goal()[:2]
    )
    for change in (
        {"table_colour": "dark"},
        {"object_colour": "purple"},
        {"light_azimuth": 300.0},
        {"camera_jitter": 0.08},
    ):
        push_env.reset(seed=0, options={"scenario": {"camera_jitter": 0.0, **change}})
        frame = push_env.perception_frame()
        changed = np.abs(frame.astype(int) - base).max(axis=-1) > 30
        assert changed.sum() >= 4, change  # the cube alone covers only a few pixels at 64x64


def test_reach_labels_use_end_effector_as_object(reach_env):
    reach_env.reset(seed=0)
    labels = reach_env.perception_labels()
    assert [labels[f"object_{a}"] for a in "xyz"] == [labels[f"ee_{a}"] for a in "xyz"]


def test_splits_are_held_out_where_the_issue_says():
    push = SPACES["push"]
    assert push.heldout_axes("heldout-far") == ("target_distance",)
    assert {"object_mass", "lateral_friction"} <= set(push.heldout_axes("heldout-dynamics"))
    assert set(push.heldout_axes("heldout-noise")) == {"obs_noise", "control_latency"}
    assert "light_azimuth" in push.heldout_axes("heldout-visual")


# ---------------------------------------------------------------------------- experts


@pytest.mark.parametrize(("task", "episodes", "minimum"), [("reach", 20, 0.95), ("push", 20, 0.8)])
def test_expert_success_on_train(task, episodes, minimum):
    assert _expert_success(task, "train", episodes) >= minimum


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", *SPACES["push"].heldout_splits])
@pytest.mark.parametrize("task", ["reach", "push"])
@pytest.mark.parametrize("control", ["ee", "joints"])
def test_expert_success_every_split_slow(task, split, control):
    rate = _expert_success(task, split, 100, control=control)
    print(f"expert {task} {control} {split}: {rate:.2f}")
    if split == "train":
        assert rate >= (0.95 if task == "reach" else 0.8)
    else:
        assert rate >= 0.5


def _expert_success(task: str, split: str, episodes: int, control: str = "ee") -> float:
    env = envs.make(f"robot-{task}", split=split, control=control)
    expert = envs.make_expert(f"robot-{task}", env)
    wins = 0
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=10_000 + episode)
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(expert.predict(obs)[0])
                done = terminated or truncated
            wins += info["is_success"]
    finally:
        env.close()
    return wins / episodes


def test_use_after_close_and_human_rendering_without_display_are_value_errors(monkeypatch):
    env = RobotEnv(task="reach")
    env.reset(seed=0)
    env.close()
    with pytest.raises(ValueError, match="simulator was closed"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match="simulator was closed"):
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    env.close()  # closing twice is fine
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ValueError, match="needs a display"):
        RobotEnv(task="reach", render_mode="human")
