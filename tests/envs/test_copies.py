"""Env copies: ``copy.deepcopy`` and ``pickle`` mid-episode are faithful and independent.

The conformance kit's :func:`~envs.testing.check_env_copies` runs for every env through
``check_env_conformance`` (robot, dialogue and the example plugin in their own test files);
here: the driving envs (until the driving rewrite lands), envs that share state with their
copies (the kit must catch them), PyBullet specifics, and a pickle read in another process.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from practicegym_point.env import PointEnv

import envs
from envs.robot.env import RobotEnv
from envs.robot.sim import Simulator
from envs.testing import ConformanceError, check_env_conformance, check_env_copies

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------ driving


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("driving", {}),
        ("driving", {"obs_type": "birdseye", "action_type": "discrete"}),
        ("driving-highway", {"action_type": "discrete"}),
    ],
)
def test_driving_copies(name: str, kwargs: dict[str, Any]) -> None:
    check_env_copies(name, env_kwargs=kwargs, check_render=False)


# ------------------------------------------------------- envs sharing state with copies

_WORLDS: dict[int, dict[str, np.ndarray]] = {}


class SharedWorldPoint(PointEnv):
    """Keeps its state in a process-wide table under an id, as PyBullet keeps a world in a
    client: a deepcopy or an unpickled copy holds the same id, so it shares the world."""

    closing_breaks_copies = True

    def __init__(self, **kwargs: Any) -> None:
        self._world_id = max(_WORLDS, default=0) + 1
        _WORLDS[self._world_id] = {}
        super().__init__(**kwargs)

    def _get(self, key: str) -> np.ndarray:
        return _WORLDS[self._world_id][key]

    def _set(self, key: str, value: np.ndarray) -> None:
        _WORLDS[self._world_id][key] = value

    _pos = property(lambda self: self._get("pos"), lambda self, v: self._set("pos", v))
    _vel = property(lambda self: self._get("vel"), lambda self, v: self._set("vel", v))

    def close(self) -> None:
        if self.closing_breaks_copies:
            _WORLDS.pop(self._world_id, None)
        super().close()


class SharedWorldPointKeptOpen(SharedWorldPoint):
    """Shares its world with its copies, but closing leaves the world in place."""

    closing_breaks_copies = False


class ForgetfulPoint(PointEnv):
    """Independent copies, but unfaithful ones: a copy starts a fresh random generator."""

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: v for k, v in self.__dict__.items() if k not in ("_np_random", "_np_random_seed")
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> ForgetfulPoint:
        new = type(self).__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        return new


@pytest.mark.parametrize("method", ["deepcopy", "pickle"])
@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (SharedWorldPoint, "failed after the original was stepped and closed"),
        (SharedWorldPointKeptOpen, "the copy's future differs"),
        (ForgetfulPoint, "the copy's future differs at step 0: obs"),
    ],
)
def test_kit_catches_an_env_that_shares_state_with_its_copy(method, cls, message):
    name = f"shared-point-{cls.__name__.lower()}"
    envs.register(name, f"practicegym_test/{cls.__name__}-v0", cls, max_episode_steps=50)
    with pytest.raises(ConformanceError, match=message) as caught:
        check_env_copies(name, methods=[method])
    assert ("copy.deepcopy" if method == "deepcopy" else "pickle round trip") in str(caught.value)


def test_conformance_kit_checks_copies_by_default():
    envs.register(
        "shared-point",
        "practicegym_test/SharedPoint-v0",
        SharedWorldPointKeptOpen,
        max_episode_steps=50,
    )
    quick = {
        "splits": ["train"],
        "determinism_steps": 20,
        "steps_per_split": 5,
        "check_vector": False,
        "check_render": False,
    }
    with pytest.raises(ConformanceError, match="copy.deepcopy: the copy's future differs"):
        check_env_conformance("shared-point", **quick)
    check_env_conformance("shared-point", **quick, check_copies=False)


def test_kit_passes_the_example_plugin_and_rejects_unknown_methods():
    check_env_copies("point")
    with pytest.raises(ValueError, match="valid: \\['deepcopy', 'pickle'\\]"):
        check_env_copies("point", methods=["copy"])


# ------------------------------------------------------------------------------ robot


def _advance(
    env: Any, steps: int, seed: int = 0, options: dict[str, Any] | None = None
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    actions = [rng.uniform(-1, 1, env.action_space.shape).astype(np.float32) for _ in range(60)]
    env.reset(seed=seed, options=options)
    for action in actions[:steps]:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:  # stepping an ended episode is an error
            env.reset()
    return actions[steps:]


def _steps_until_done(env: Any, actions: list[np.ndarray]) -> list[tuple]:
    """``env.step`` results for ``actions``, stopping after the step that ends the episode."""
    out = []
    for action in actions:
        out.append(env.step(action))
        if out[-1][2] or out[-1][3]:
            break
    return out


@pytest.mark.parametrize("method", ["deepcopy", "pickle"])
def test_robot_copy_owns_its_client_and_outlives_the_original(method):
    env = envs.make("robot-push")
    actions = _advance(env, 5)
    twin = copy.deepcopy(env) if method == "deepcopy" else pickle.loads(pickle.dumps(env))
    assert twin.unwrapped.sim._id != env.unwrapped.sim._id
    before = env.unwrapped.sim.state()
    for action in actions[:10]:
        twin.step(action)
    assert env.unwrapped.sim.state() == before  # stepping the copy leaves the original alone
    env.close()
    twin.step(actions[10])  # closing the original leaves the copy working
    twin.close()


def test_robot_reach_copy_is_bit_exact_and_copies_before_reset_work():
    env = RobotEnv(task="reach", obs_type="goal", context="visible")
    fresh = copy.deepcopy(env)  # never reset: rebuilt from the constructor arguments alone
    # Actions queued behind a latency, noise drawn from np_random: both must carry over.
    options = {"scenario": {"control_latency": 2, "obs_noise": 0.01}}
    actions = _advance(env, 12, seed=3, options=options)
    _advance(fresh, 12, seed=3, options=options)
    twin = copy.deepcopy(env)
    for action in actions[:30]:
        a, b, c = env.step(action), twin.step(action), fresh.step(action)
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
            np.testing.assert_array_equal(a[0][key], c[0][key])
        assert a[1:4] == b[1:4]
    for e in (env, twin, fresh):
        e.close()


@pytest.mark.parametrize("task", ["reach", "push"])
def test_snapshot_restores_into_a_scratch_env_again_and_again(task):
    env, scratch = RobotEnv(task=task), RobotEnv(task=task)
    actions = _advance(env, 9, seed=2)
    _advance(scratch, 3, seed=5)  # somewhere else entirely (push: another cube)
    snapshot = env.get_state()
    expected = [step[:4] for step in _steps_until_done(env, actions[:8])]
    for _ in range(2):
        scratch.set_state(snapshot)
        for (obs, reward, terminated, truncated), action in zip(expected, actions, strict=False):
            got = scratch.step(action)
            np.testing.assert_allclose(got[0], obs, rtol=0, atol=RobotEnv.copy_atol)
            assert abs(got[1] - reward) <= RobotEnv.copy_atol
            assert got[2:4] == (terminated, truncated)
    other = RobotEnv(task=task, control="joints")
    with pytest.raises(ValueError, match="built with"):
        other.set_state(snapshot)
    fresh = RobotEnv(task=task)
    with pytest.raises(ValueError, match="before the first reset"):
        scratch.set_state(fresh.get_state())
    for e in (env, scratch, other, fresh):
        e.close()


def test_closed_env_and_bare_simulator_refuse_to_be_copied():
    env = RobotEnv(task="reach")
    env.close()
    with pytest.raises(ValueError, match="closed RobotEnv has no state"):
        copy.deepcopy(env)
    with Simulator() as sim:
        with pytest.raises(TypeError, match="would share its PyBullet client"):
            copy.deepcopy(sim)
        with pytest.raises(TypeError, match="would share its PyBullet client"):
            pickle.dumps(sim)


def test_simulator_state_crosses_clients_and_names_missing_bodies():
    with Simulator() as a, Simulator() as b:
        for sim in (a, b):
            sim.create_box("cube", half_extents=(0.02,) * 3, mass=1.0, position=(0, 0, 0.5))
        for _ in range(3):
            a.step()
        b.set_state(a.state())
        assert b.state() == a.state()
        a.step()
        b.step()
        np.testing.assert_array_equal(a.base_position("cube"), b.base_position("cube"))
        b.remove_body("cube")
        with pytest.raises(ValueError, match=r"state has bodies \['cube'\]"):
            b.set_state(a.state())


_CHILD = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    with open(sys.argv[1], "rb") as f:
        blob, actions = pickle.load(f)
    env = pickle.loads(blob)
    obs = [env.step(a)[0] for a in actions]
    np.save(sys.argv[2], np.stack(obs))
    env.close()
    """
)


def test_pickled_robot_env_continues_in_another_process(tmp_path):
    env = envs.make("robot-push")
    actions = _advance(env, 8, seed=1)[:5]
    path = tmp_path / "env.pkl"
    blob = pickle.dumps(env)  # mid-episode, before the original moves on
    steps = _steps_until_done(env, actions)
    path.write_bytes(pickle.dumps((blob, actions[: len(steps)])))
    expected = np.stack([step[0] for step in steps])
    env.close()
    child_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ["PYTHONPATH"]])}
    subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(tmp_path / "obs.npy")],
        check=True,
        env=child_env,
        timeout=120,
    )
    got = np.load(tmp_path / "obs.npy")
    np.testing.assert_allclose(got, expected, rtol=0, atol=RobotEnv.copy_atol)
