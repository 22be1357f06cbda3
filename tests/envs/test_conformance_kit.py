"""The conformance kit catches what it claims to: one broken plugin env per claim.

Each env below is the example plugin's ``PointEnv`` with one contract broken, registered
the way a plugin would (``envs.register`` with its ``max_episode_steps``); the kit must
fail on it with its own :class:`ConformanceError` naming the problem. A never-ending env
must also fail training and evaluation with a clear error instead of hanging.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from practicegym_point.env import PointEnv, PointExpert

import envs
from agents.episodes import EpisodeLimitError
from envs.testing import ConformanceError, check_env_conformance

QUICK = {
    "splits": ["train"],
    "determinism_steps": 20,
    "steps_per_split": 5,
    "check_vector": False,
    "check_render": False,
    "check_copies": False,
}
_ids = itertools.count()


def _register(cls: type, *, max_episode_steps: int | None = 50, **kwargs: Any) -> str:
    """Registers ``cls`` under a fresh name, as a plugin would; returns the name."""
    name = f"kit-{cls.__name__.lower()}-{next(_ids)}"
    envs.register(
        name,
        f"practicegym_kit_test/{cls.__name__}{next(_ids)}-v0",
        cls,
        max_episode_steps=max_episode_steps,
        **kwargs,
    )
    return name


class NoRewardTerms(PointEnv):
    def _step_world(self, action):
        obs, reward, terminated, truncated, info = super()._step_world(action)
        del info["reward_terms"]
        return obs, reward, terminated, truncated, info


class TermsDoNotSum(PointEnv):
    def _step_world(self, action):
        obs, reward, terminated, truncated, info = super()._step_world(action)
        info["reward_terms"]["bonus"] = 0.5  # reported, but not in the reward
        return obs, reward, terminated, truncated, info


class ObservationSpaceSetDirectly(PointEnv):
    """Sets ``observation_space`` instead of calling ``_declare_observation_space``."""

    def __init__(self, split="train", context="hidden", render_mode=None):
        super().__init__(split=split, context=context, render_mode=render_mode)
        self.observation_space = spaces.Box(-3.0, 3.0, shape=(4,), dtype=np.float32)
        del self._world_observation_space


class NeverEnds(PointEnv):
    def _step_world(self, action):
        obs, reward, _, _, info = super()._step_world(action)
        return obs, reward, False, False, info


class NoEpisodeEndKeys(PointEnv):
    def _step_world(self, action):
        obs, reward, terminated, truncated, info = super()._step_world(action)
        del info["distance"]  # declared in episode_info_keys
        return obs, reward, terminated, truncated, info


class IdleExpert(PointExpert):
    def predict(self, observation, state=None, episode_start=None, deterministic=True, **kw):
        return np.zeros(2, dtype=np.float32), state


class ActionOnlyExpert(PointExpert):
    def predict(self, observation, state=None, episode_start=None, deterministic=True, **kw):
        return super().predict(observation)[0]  # not (action, state)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (NoRewardTerms, r"info\['reward_terms'\] must be a non-empty dict"),
        (TermsDoNotSum, r"reward_terms'\] .* sum to .*, the reward is"),
        (ObservationSpaceSetDirectly, r"context='visible'.*_declare_observation_space"),
        (NeverEnds, r"reached its max_episode_steps \(50\) without terminating"),
        (NoEpisodeEndKeys, r"did not report \['distance'\] in info at episode end"),
    ],
)
def test_kit_fails_on_a_broken_env(cls, message):
    name = _register(cls)
    with pytest.raises(ConformanceError, match=message) as caught:
        check_env_conformance(name, **QUICK)
    assert caught.value.args[0].startswith(name)


def test_kit_runs_the_visible_context_even_when_the_space_looks_right():
    class ContextBreaksStep(PointEnv):
        def _step_world(self, action):
            if self.context == "visible":
                raise RuntimeError("visible context not supported")
            return super()._step_world(action)

    with pytest.raises(ConformanceError, match="context='visible' failed: RuntimeError"):
        check_env_conformance(_register(ContextBreaksStep), **QUICK)


def test_kit_requires_a_declared_episode_limit():
    name = _register(PointEnv, max_episode_steps=None)
    with pytest.raises(ConformanceError, match="declares no episode limit"):
        check_env_conformance(name, **QUICK)


def test_kit_requires_an_env_to_end_before_its_declared_limit():
    name = _register(PointEnv, max_episode_steps=10)  # PointEnv truncates at 50
    with pytest.raises(ConformanceError, match=r"reached its max_episode_steps \(10\)"):
        check_env_conformance(name, **QUICK)


@pytest.mark.parametrize(
    ("expert", "message"),
    [
        (IdleExpert, "succeeded in none of 3 seeded train episodes"),
        (ActionOnlyExpert, r"failed in episode 0 at step 0: .*must return \(action, state\)"),
    ],
)
def test_kit_runs_the_expert(expert, message):
    name = _register(PointEnv, expert=expert)
    with pytest.raises(ConformanceError, match=message):
        check_env_conformance(name, **QUICK)


def test_the_example_plugin_passes_the_quick_kit():
    check_env_conformance("point", **QUICK)


def test_evaluating_a_never_ending_env_fails_instead_of_hanging():
    from agents.evaluation import evaluate_transfer

    name = _register(NeverEnds, max_episode_steps=30)
    with pytest.raises(EpisodeLimitError, match=r"ran past 30 steps .* truncate its own"):
        evaluate_transfer("random", name, episodes=1, splits=["train"], progress=False)


def test_training_a_never_ending_env_fails_with_a_clear_error(tmp_path, capsys):
    from agents import train

    name = _register(NeverEnds, max_episode_steps=30)
    argv = ["--env", name, "--timesteps", "64", "--no-progress", "--device", "cpu"]
    argv += ["--out", str(tmp_path), "--set", "algo.n_steps=32", "--set", "algo.batch_size=32"]
    argv += ["--set", "run.n_envs=1", "--set", "run.vec_env=dummy"]
    assert train.main(argv) == 1
    err = capsys.readouterr().err
    assert "error: env 'practicegym_kit_test/NeverEnds" in err
    assert "ran past 30 steps" in err
