"""Learning check: sb3-contrib MaskablePPO learns the dialogue env in minutes on 2 cores.

Recipe (also in the project notes for ``agents/hyperparams/maskable-ppo.yaml``): 4
``DummyVecEnv`` workers, ``n_steps=256``, ``batch_size=256``, ``n_epochs=5``,
``learning_rate=1e-3``, ``gamma=0.99``, ``ent_coef=0.01``, ``net_arch=[64, 64]``,
60k timesteps, one torch thread.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import envs

SPLITS = ("train", "heldout-domain", "heldout-noise", "heldout-users")
RECIPE = {
    "n_steps": 256,
    "batch_size": 256,
    "n_epochs": 5,
    "learning_rate": 1e-3,
    "gamma": 0.99,
    "ent_coef": 0.01,
    "policy_kwargs": {"net_arch": [64, 64]},
}
TIMESTEPS = 60_000


def evaluate_masked(model, split: str, episodes: int = 200, seed: int = 10_000) -> float:
    """Success rate of ``model`` (deterministic, masked) on ``split``."""
    env = envs.make("dialogue", split=split)
    wins = []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        done = False
        while not done:
            masks = env.unwrapped.action_masks()
            action, _ = model.predict(obs, deterministic=True, action_masks=masks)
            obs, _, terminated, truncated, info = env.step(int(action))
            done = terminated or truncated
        wins.append(info["is_success"])
    env.close()
    return float(np.mean(wins))


def test_maskable_ppo_smoke():
    from sb3_contrib import MaskablePPO

    env = envs.make("dialogue")
    model = MaskablePPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={"net_arch": [16]},
        seed=0,
        device="cpu",
    )
    model.learn(64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks())
    assert env.unwrapped.action_masks()[int(action)]


@pytest.mark.slow
def test_maskable_ppo_learns_dialogue_train_split(capsys):
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    venv = make_vec_env(lambda: envs.make("dialogue", split="train"), n_envs=4, seed=0)
    model = MaskablePPO("MlpPolicy", venv, seed=0, device="cpu", verbose=0, **RECIPE)
    wall, cpu = time.perf_counter(), time.process_time()
    model.learn(TIMESTEPS)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rates = {split: evaluate_masked(model, split) for split in SPLITS}
    with capsys.disabled():
        print(
            f"\nMaskablePPO {TIMESTEPS} steps ({wall:.0f} s wall, {cpu:.0f} s CPU) success:", rates
        )
    assert rates["train"] >= 0.8
