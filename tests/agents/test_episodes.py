"""The one episode runner: masks by keyword, SB3 models adapted, the episode cap."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import envs
from agents.episodes import (
    EnvPool,
    EpisodeCap,
    EpisodeLimitError,
    ModelPolicy,
    as_policy,
    play_episode,
    play_vector,
)


class Recorder:
    """A policy that records what it was given."""

    def __init__(self, action_space):
        self.space = action_space
        self.masks = []

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        self.masks.append(action_masks)
        if action_masks is not None:
            return int(np.flatnonzero(action_masks)[0]), state
        return np.zeros(self.space.shape, dtype=np.float32), state


def test_masks_are_passed_by_keyword_always():
    env = envs.make("dialogue")
    policy = Recorder(env.action_space)
    episode = play_episode(env, policy, seed=0, render=False)
    assert episode.length == len(policy.masks) and all(m.dtype == bool for m in policy.masks)
    env = envs.make("point")
    policy = Recorder(env.action_space)
    play_episode(env, policy, seed=0)
    assert set(map(type, policy.masks)) == {type(None)}


def test_sb3_models_are_adapted_and_only_maskable_ppo_gets_masks():
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    point = envs.make("point")
    ppo = as_policy(PPO("MlpPolicy", point, n_steps=16, batch_size=16, device="cpu"))
    assert isinstance(ppo, ModelPolicy) and not ppo._masked
    play_episode(point, ppo, seed=1)  # a mask keyword would make PPO.predict raise
    dialogue = envs.make("dialogue")
    maskable = as_policy(MaskablePPO("MlpPolicy", dialogue, n_steps=16, batch_size=16))
    assert maskable._masked
    episode = play_episode(dialogue, maskable, seed=1)
    assert episode.length >= 1
    with pytest.raises(ValueError, match="needs predict"):
        as_policy(object())


def test_side_by_side_equals_one_at_a_time():
    expert_env = envs.make("point")
    seeds = [3, 4, 5]
    scenario = {"goal_distance": 0.5}
    alone = []
    for seed in seeds:
        env = envs.make("point")
        alone.append(
            play_episode(
                env, envs.make_expert("point", env), seed=seed, options={"scenario": scenario}
            )
        )
    pool = EnvPool([functools.partial(envs.make, "point")] * 3)
    experts = [envs.make_expert("point", env) for env in pool.envs]
    together = play_vector(pool, experts, seeds=seeds, options={"scenario": [scenario] * 3})
    pool.close()
    expert_env.close()
    assert [(e.ret, e.length, e.success) for e in together] == [
        (e.ret, e.length, e.success) for e in alone
    ]


def test_the_cap_stops_an_episode_at_the_declared_limit():
    env = envs.make("point")
    with pytest.raises(EpisodeLimitError, match="ran past 5 steps"):
        play_episode(env, Recorder(env.action_space), seed=0, max_steps=5)
    capped = EpisodeCap(envs.make("point"), max_steps=3)
    capped.reset(seed=0)
    capped.step(np.zeros(2, dtype=np.float32))
    capped.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(EpisodeLimitError):
        capped.step(np.zeros(2, dtype=np.float32))
    assert EpisodeCap(envs.make("point")).max_steps == 50  # from the EnvSpec
