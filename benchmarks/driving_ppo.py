"""Learnability check: plain SB3 PPO on ``driving`` (task full), deterministic evals.

This is the driving PPO recipe, runnable on its own
(the suite's ``python -m agents.train --env driving`` uses the same hyperparameters from
``agents/hyperparams/ppo.yaml``). Every ``--eval-every`` steps it evaluates the
deterministic policy on ``--eval-episodes`` fixed-seed ``train`` episodes; at the end it
evaluates every split and writes ``benchmarks/results/driving_ppo.json``.

Usage::

    python -m benchmarks.driving_ppo --timesteps 200000 --n-envs 4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents.cli_types import positive_int

MAX_SEED = 2**31 - 1  # SB3 seeds NumPy (< 2**32) with seed + env index
SPLITS = ("train", "heldout-curves", "heldout-traffic", "heldout-friction", "heldout-visual")
PPO_KWARGS: dict[str, Any] = {
    "n_steps": 256,
    "batch_size": 256,
    "n_epochs": 5,
    "learning_rate": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "policy_kwargs": {"net_arch": [64, 64], "log_std_init": -1.0},
}


def evaluate(model: Any, split: str, episodes: int) -> float:
    """Deterministic success rate on ``episodes`` fixed-seed episodes of ``split``."""
    env = envs.make("driving", split=split)
    wins = 0
    for ep in range(episodes):
        obs, _ = env.reset(seed=1000 + ep)
        while True:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        wins += bool(info["is_success"])
    return wins / episodes


def main(argv: list[str] | None = None) -> int:
    """Trains, evaluates and writes the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=positive_int, default=200_000, help="PPO timesteps")
    parser.add_argument("--n-envs", type=positive_int, default=4, help="parallel envs")
    parser.add_argument("--dummy", action="store_true", help="DummyVecEnv, not SubprocVecEnv")
    parser.add_argument(
        "--eval-every", type=positive_int, default=50_000, help="steps between evals"
    )
    parser.add_argument("--eval-episodes", type=positive_int, default=30, help="episodes per eval")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results", help="output folder"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be a whole number from 0 to {MAX_SEED}, got {args.seed}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder, but {args.out} is a file")

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    torch.set_num_threads(1)

    curve: list[dict[str, float]] = []

    class Evaluate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = args.eval_every
            self.eval_s = 0.0
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += args.eval_every
                t = time.perf_counter()
                rate = evaluate(self.model, "train", args.eval_episodes)
                self.eval_s += time.perf_counter() - t
                train_s = time.perf_counter() - self.t0 - self.eval_s
                curve.append(
                    {
                        "timesteps": self.num_timesteps,
                        "train_success": rate,
                        "train_wall_s": train_s,
                    }
                )
                print(curve[-1], flush=True)
            return True

    vec_cls = DummyVecEnv if args.dummy else SubprocVecEnv
    venv = make_vec_env(
        lambda: envs.make("driving", split="train"),
        n_envs=args.n_envs,
        seed=args.seed,
        vec_env_cls=vec_cls,
    )
    venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=PPO_KWARGS["gamma"])
    model = PPO("MlpPolicy", venv, seed=args.seed, device="cpu", verbose=0, **PPO_KWARGS)
    callback = Evaluate()
    start = time.perf_counter()
    model.learn(args.timesteps, callback=callback)
    train_s = time.perf_counter() - start - callback.eval_s
    start = time.perf_counter()
    final = {split: evaluate(model, split, 50) for split in SPLITS}
    result = {
        "timesteps": args.timesteps,
        "n_envs": args.n_envs,
        "vec_env": vec_cls.__name__,
        "ppo_kwargs": PPO_KWARGS,
        "train_wall_s": train_s,
        "final_eval_wall_s": time.perf_counter() - start,
        "learning_curve": curve,
        "final_success_50_episodes": final,
        "loadavg": list(os.getloadavg()),
        "mean_final": float(np.mean(list(final.values()))),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "driving_ppo.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
