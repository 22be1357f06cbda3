"""Fuzzed scenarios and actions: every case either works or raises ``ValueError``.

Over every registered env (plugins included) and split: scenario dicts with wrong types,
out-of-range, NaN/inf, huge and unknown or non-string names; reset options that are not
dicts; actions of wrong shape and dtype (complex, strings, objects), NaN/inf and huge
finite values. Nothing may crash the process or raise anything else.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs

NAMES = sorted(envs.names())
_ENVS: dict[str, Any] = {}


def _env(name: str) -> Any:
    if name not in _ENVS:
        _ENVS[name] = envs.make(name)
    return _ENVS[name]


@pytest.fixture(scope="module", autouse=True)
def _close_envs():
    yield
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


WEIRD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.complex_numbers(),
    st.lists(st.integers(), max_size=3),
    st.just(10**400),
    st.just(-(10**400)),
    st.just(float("nan")),
)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _works_or_value_error(call: Any) -> None:
    with contextlib.suppress(ValueError):
        call()


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_fuzzed_scenarios_work_or_raise_value_error(name: str, data: st.DataObject) -> None:
    env = _env(name)
    space = env.unwrapped.scenario_space
    split = data.draw(st.sampled_from(list(space.split_names)))
    env.unwrapped.set_distribution(split)
    params = list(space.param_names)
    keys = st.one_of(st.sampled_from(params), st.text(max_size=4), st.integers(), st.none())
    scenario = data.draw(st.dictionaries(keys, WEIRD, max_size=len(params) + 1))
    _works_or_value_error(lambda: env.reset(seed=0, options={"scenario": scenario}))
    options = data.draw(st.one_of(WEIRD, st.dictionaries(st.text(max_size=3), WEIRD)))
    _works_or_value_error(lambda: env.reset(seed=0, options=options))


def _action(space: Any, data: st.DataObject) -> Any:
    shape = getattr(space, "shape", None) or ()
    kind = data.draw(
        st.sampled_from(["valid", "huge", "nan", "complex", "shape", "str", "object", "scalar"])
    )
    if kind == "valid":
        space.seed(data.draw(st.integers(0, 100)))
        return space.sample()
    if kind == "huge":
        return np.full(shape, data.draw(st.sampled_from([1e300, -1e300, 1e39, 2**70])))
    if kind == "nan":
        return np.full(shape, data.draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    if kind == "complex":
        return np.full(shape, 0.1 + 0.5j)
    if kind == "shape":
        extra = data.draw(st.integers(min_value=0, max_value=3))
        return np.zeros((*shape, extra + 1)) if extra else np.zeros(max(1, len(shape)) + 3)
    if kind == "str":
        return np.full(shape, "1")
    if kind == "object":
        return np.array([None, 1], dtype=object)
    return data.draw(WEIRD)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_fuzzed_actions_work_or_raise_value_error(name: str, data: st.DataObject) -> None:
    env = _env(name)
    env.unwrapped.set_distribution("train")
    env.reset(seed=data.draw(st.integers(0, 3)))
    for _ in range(3):
        action = _action(env.action_space, data)
        try:
            *_, terminated, truncated, _ = env.step(action)
        except ValueError:
            continue
        if terminated or truncated:
            break


@pytest.mark.parametrize("name", NAMES)
def test_huge_finite_box_actions_are_clipped_and_complex_ones_refused(name: str) -> None:
    env = _env(name)
    space = env.action_space
    if not hasattr(space, "low") or space.dtype.kind != "f":
        pytest.skip("not a continuous action space")
    env.reset(seed=0)
    env.step(np.full(space.shape, 1e300))  # clipped, like any out-of-bounds action
    env.reset(seed=0)
    with pytest.raises(ValueError, match="real numbers"):
        env.step(np.full(space.shape, 0.5 + 0.5j))


@pytest.mark.parametrize("name", NAMES)
def test_step_after_the_episode_ended_is_an_error(name: str) -> None:
    env = _env(name)
    env.unwrapped.set_distribution("train")
    env.reset(seed=0)
    for _ in range(100_000):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    with pytest.raises(ValueError, match="call reset"):
        env.step(env.action_space.sample())
    env.reset(seed=1)
    env.step(env.action_space.sample())


def test_the_reported_cases_are_value_errors_naming_what_is_valid() -> None:
    env = _env("robot-reach")
    with pytest.raises(ValueError, match="outside its supported range"):
        env.reset(options={"scenario": {"motor_damping": 10**400}})
    with pytest.raises(ValueError, match="names must be strings"):
        env.reset(options={"scenario": {1: 0.5}})
    with pytest.raises(ValueError, match="reset options must be a dict"):
        env.reset(options=5)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seeds_are_value_errors(seed: Any) -> None:
    with pytest.raises(ValueError, match="seed must be None or an integer >= 0"):
        _env("point").reset(seed=seed)
