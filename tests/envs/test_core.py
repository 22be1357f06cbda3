from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

import envs
from envs.core import validate_action


@pytest.fixture
def env():
    e = envs.make("point")
    yield e
    e.close()


def test_reset_forces_partial_scenario_and_fills_the_rest(env):
    _, info = env.reset(seed=0, options={"scenario": {"drag": 0.25}})
    assert info["scenario"]["drag"] == 0.25
    assert set(info["scenario"]) == {"goal_distance", "drag", "action_noise", "colour"}


def test_reset_rejects_bad_scenarios_and_options(env):
    with pytest.raises(ValueError, match=r"unknown scenario parameters \['drug'\]"):
        env.reset(options={"scenario": {"drug": 0.1}})
    with pytest.raises(ValueError, match="outside its supported range"):
        env.reset(options={"scenario": {"drag": 5.0}})
    with pytest.raises(ValueError, match=r"unknown reset options \['level'\]"):
        env.reset(options={"level": 3})


def test_scenario_is_reported_on_every_step(env):
    _, info = env.reset(seed=0)
    for _ in range(5):
        _, _, _, _, step_info = env.step(env.action_space.sample())
        assert step_info["scenario"] == info["scenario"]


def test_set_distribution_switches_splits_and_accepts_dicts(env):
    env.unwrapped.set_distribution("heldout-far")
    _, info = env.reset(seed=0)
    assert info["scenario"]["goal_distance"] >= 1.4
    space = env.unwrapped.scenario_space
    env.unwrapped.set_distribution(space.at(0.0).to_dict())
    _, info = env.reset()
    assert info["scenario"]["goal_distance"] == 0.1
    assert info["scenario"]["colour"] == "white"
    with pytest.raises(ValueError, match="unknown split"):
        env.unwrapped.set_distribution("test")


def test_visible_context_appends_normalised_scenario():
    env = envs.make("point", context="visible")
    obs, info = env.reset(seed=0)
    space = env.unwrapped.scenario_space
    assert obs.shape == (4 + space.context_size,)
    np.testing.assert_allclose(obs[4:], space.normalize(info["scenario"]))
    assert env.observation_space.contains(obs)
    with pytest.raises(ValueError, match=r"context must be one of \['hidden', 'visible'\]"):
        envs.make("point", context="shown")


def test_step_before_reset_and_bad_render_mode():
    env = envs.make("point")
    with pytest.raises(Exception, match="reset"):
        env.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="render_mode must be one of"):
        envs.make("point", render_mode="ascii")


@pytest.mark.parametrize(
    "action", [np.array([np.nan, 0.0]), np.array([0.0, np.inf]), np.zeros(3), "left", None]
)
def test_box_actions_are_validated(action):
    space = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    with pytest.raises(ValueError, match="action"):
        validate_action(space, action)


def test_box_actions_are_clipped():
    space = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    np.testing.assert_array_equal(validate_action(space, [5.0, -7.0]), [1.0, -1.0])


@pytest.mark.parametrize("action", [5, -1, 1.5, np.array([0, 1]), float("nan"), "a"])
def test_discrete_actions_are_validated(action):
    with pytest.raises(ValueError, match="action"):
        validate_action(spaces.Discrete(5), action)


def test_discrete_accepts_numpy_scalars():
    assert validate_action(spaces.Discrete(5), np.int64(3)) == 3
    assert validate_action(spaces.Discrete(5), np.array([2])) == 2
