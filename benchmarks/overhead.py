"""Training overhead: how much of SB3 PPO's wall time our envs cost.

For each env, PPO trains for the same number of timesteps twice, in one process with a
``DummyVecEnv``: once on the env wrapped in a timer, once on a *null env* with identical
spaces that does no work. Reported: the share of wall time spent inside ``env.step``,
and the extra wall time over the null env. Target: ≤ 10% for driving and dialogue.

    python -m benchmarks.overhead [--timesteps 8192] [--envs driving dialogue ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from benchmarks import report

DEFAULT_ENVS = ("driving", "dialogue", "robot-reach")
NOTE = (
    "PPO (MlpPolicy/MultiInputPolicy, n_steps=256, batch_size=256, n_epochs=4, CPU) for "
    "{timesteps} timesteps on a DummyVecEnv of {n_envs} envs, random scenario of the train "
    "split. 'time in env.step' is measured inside the same training run (timing wrapper "
    "around step and reset), so it holds up under machine load; 'extra over null env' "
    "compares two consecutive runs and moves with the load between them."
)


class StepTimer(gym.Wrapper):
    """Accumulates the wall time spent inside ``step`` and ``reset``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.seconds = 0.0

    def step(self, action: Any) -> Any:
        start = time.perf_counter()
        out = self.env.step(action)
        self.seconds += time.perf_counter() - start
        return out

    def reset(self, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.env.reset(**kwargs)
        self.seconds += time.perf_counter() - start
        return out


class NullEnv(gym.Env):
    """Same spaces as a given env; does nothing; episodes of fixed length."""

    def __init__(
        self, observation_space: gym.Space, action_space: gym.Space, episode_length: int = 200
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self._obs = observation_space.sample()
        self._length = episode_length
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        super().reset(seed=seed)
        self._t = 0
        return self._obs, {}

    def step(self, action: Any) -> Any:
        self._t += 1
        return self._obs, 0.0, False, self._t >= self._length, {}


def _train(env_fns: list, timesteps: int, policy: str) -> float:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv(env_fns)
    model = PPO(
        policy, venv, n_steps=256, batch_size=256, n_epochs=4, seed=0, device="cpu", verbose=0
    )
    start = time.perf_counter()
    model.learn(timesteps)
    elapsed = time.perf_counter() - start
    venv.close()
    return elapsed


def measure(name: str, timesteps: int, n_envs: int) -> dict[str, Any]:
    """PPO wall time on ``name`` vs a null env with the same spaces."""
    import envs

    timers: list[StepTimer] = []

    def make_timed() -> gym.Env:
        timer = StepTimer(envs.make(name))
        timers.append(timer)
        return timer

    probe = envs.make(name)
    obs_space, act_space = probe.observation_space, probe.action_space
    probe.close()
    policy = "MultiInputPolicy" if isinstance(obs_space, gym.spaces.Dict) else "MlpPolicy"
    ours = _train([make_timed] * n_envs, timesteps, policy)
    null = _train([lambda: NullEnv(obs_space, act_space)] * n_envs, timesteps, policy)
    in_step = sum(t.seconds for t in timers)
    return {
        "env": name,
        "wall_s": ours,
        "null_wall_s": null,
        "step_s": in_step,
        "step_share": in_step / ours,
        "extra_over_null": (ours - null) / ours,
        "env_steps_per_s_inside_step": timesteps / in_step if in_step else float("inf"),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_ENVS), help="env short names")
    parser.add_argument("--timesteps", type=int, default=8192, help="PPO timesteps per env")
    parser.add_argument("--n-envs", type=int, default=4, help="DummyVecEnv workers")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    if args.timesteps < 256 or args.n_envs < 1:
        parser.error("--timesteps must be >= 256 and --n-envs >= 1")
    import envs

    for name in args.envs:
        try:
            envs.resolve(name)
        except ValueError as err:
            parser.error(str(err))
    results = [measure(name, args.timesteps, args.n_envs) for name in args.envs]
    rows = [
        [
            r["env"],
            r["wall_s"],
            r["null_wall_s"],
            f"{100 * r['step_share']:.1f}%",
            f"{100 * r['extra_over_null']:.1f}%",
        ]
        for r in results
    ]
    table = report.markdown_table(
        ["env", "PPO wall s", "null-env wall s", "time in env.step", "extra over null env"],
        rows,
    )
    table += "\n\n" + NOTE.format(timesteps=args.timesteps, n_envs=args.n_envs)
    path = report.write(
        "overhead",
        {"timesteps": args.timesteps, "n_envs": args.n_envs, "results": results},
        table,
        args.out,
    )
    report.bar_chart(
        path.with_suffix(".png"),
        [r["env"] for r in results],
        [100 * r["step_share"] for r in results],
        "Share of PPO wall time inside env.step",
        "%",
        log=False,
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
