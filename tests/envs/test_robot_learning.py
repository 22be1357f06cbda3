"""Learning check: SAC + HER learns robot-reach from sparse rewards (slow, minutes on CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import envs

# The reach recipe shipped in agents/hyperparams/sac.yaml
# (rl-zoo's PandaReach settings, smaller budget).
REACH_SAC_HER = {
    "learning_rate": 1e-3,
    "buffer_size": 100_000,
    "batch_size": 256,
    "gamma": 0.95,
    "tau": 0.05,
    "learning_starts": 1000,
    "replay_buffer_kwargs": {"n_sampled_goal": 4, "goal_selection_strategy": "future"},
    "policy_kwargs": {"net_arch": [64, 64]},
}


def success_rate(model, env, episodes: int, seed: int = 1000) -> float:
    wins = 0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        wins += info["is_success"]
    return wins / episodes


@pytest.mark.slow
def test_sac_her_learns_reach():
    import torch
    from stable_baselines3 import SAC, HerReplayBuffer

    torch.set_num_threads(1)
    env = envs.make("robot-reach", obs_type="goal", reward_type="sparse")
    eval_env = envs.make("robot-reach", obs_type="goal", reward_type="sparse")
    try:
        model = SAC(
            "MultiInputPolicy",
            env,
            replay_buffer_class=HerReplayBuffer,
            seed=0,
            **REACH_SAC_HER,
        )
        before = success_rate(model, eval_env, 20)
        model.learn(6000)
        after = success_rate(model, eval_env, 50)
        print(f"SAC+HER robot-reach: success {before:.2f} -> {after:.2f} after 6000 steps")
        assert after >= 0.8 and after > before
        assert "train/critic_loss" in model.logger.name_to_value
        assert np.isfinite(model.logger.name_to_value["train/critic_loss"])
    finally:
        env.close()
        eval_env.close()
