"""Training overhead: how much of SB3 PPO's wall time our envs cost.

For each env, PPO trains for the same number of timesteps twice, in one process with a
``DummyVecEnv``: once on the env wrapped in a timer, once on a *null env* with identical
spaces that does no work. Reported: the share of wall time spent inside ``env.step``,
and the extra wall time over the null env. Target: ≤ 10% for driving and dialogue.

With ``--batched N``, envs that register a native batch (driving) train on N worlds of
it through the SB3 adapter (``agents.vecenv``), timed around ``step_wait``/``reset``,
against a null ``VecEnv`` of N worlds; PPO then uses rollouts of ``8192`` steps
(``n_steps = 8192 // N``) and minibatches of 2048. Target: ≤ 15% for driving.

    python -m benchmarks.overhead [--timesteps 8192] [--envs driving dialogue ...]
    python -m benchmarks.overhead --envs driving --batched 256 --timesteps 200000
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


def _train(env_fns: list | Any, timesteps: int, policy: str) -> float:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv(env_fns) if isinstance(env_fns, list) else env_fns
    n_steps = 256 if venv.num_envs < 32 else max(8192 // venv.num_envs, 8)
    batch = 256 if venv.num_envs < 32 else 2048
    model = PPO(
        policy, venv, n_steps=n_steps, batch_size=batch, n_epochs=4, seed=0, device="cpu", verbose=0
    )
    start = time.perf_counter()
    model.learn(timesteps)
    elapsed = time.perf_counter() - start
    venv.close()
    return elapsed


def _vec_timer(venv: Any) -> Any:
    """``venv`` with the wall time inside ``step_wait``/``reset`` accumulated in ``.seconds``."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class VecStepTimer(VecEnvWrapper):
        def __init__(self) -> None:
            super().__init__(venv)
            self.seconds = 0.0

        def reset(self) -> Any:
            start = time.perf_counter()
            out = self.venv.reset()
            self.seconds += time.perf_counter() - start
            return out

        def step_wait(self) -> Any:
            start = time.perf_counter()
            out = self.venv.step_wait()
            self.seconds += time.perf_counter() - start
            return out

    return VecStepTimer()


def _null_vec_env(observation_space: gym.Space, action_space: gym.Space, num: int) -> Any:
    """An SB3 ``VecEnv`` of ``num`` worlds that does no work (episodes of 200 steps)."""
    import numpy as np
    from stable_baselines3.common.vec_env import VecEnv

    class NullVecEnv(VecEnv):
        def __init__(self) -> None:
            super().__init__(num, observation_space, action_space)
            self._obs = np.stack([observation_space.sample()] * num)
            self._t = 0

        def reset(self) -> Any:
            self._t = 0
            return self._obs.copy()

        def step_async(self, actions: Any) -> None:
            pass

        def step_wait(self) -> Any:
            self._t += 1
            done = np.full(num, self._t % 200 == 0)
            infos = [{"terminal_observation": self._obs[0]} if done[0] else {}] * num
            return self._obs.copy(), np.zeros(num, np.float32), done, infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name: str, indices: Any = None) -> list:
            return [None] * num

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            pass

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kw: Any) -> list:
            return [None] * num

        def env_is_wrapped(self, wrapper_class: Any, indices: Any = None) -> list:
            return [False] * num

    return NullVecEnv()


def measure_batched(name: str, timesteps: int, num: int) -> dict[str, Any]:
    """PPO wall time on ``num`` worlds of ``name``'s native batch vs a null batch."""
    from agents.vecenv import make_batched_vec_env

    timed = _vec_timer(make_batched_vec_env(name, num, seed=0))
    obs_space, act_space = timed.observation_space, timed.action_space
    policy = "MultiInputPolicy" if isinstance(obs_space, gym.spaces.Dict) else "MlpPolicy"
    ours = _train(timed, timesteps, policy)
    null = _train(_null_vec_env(obs_space, act_space, num), timesteps, policy)
    return {
        "env": f"{name} (batched, N={num})",
        "wall_s": ours,
        "null_wall_s": null,
        "step_s": timed.seconds,
        "step_share": timed.seconds / ours,
        "extra_over_null": (ours - null) / ours,
        "env_steps_per_s_inside_step": timesteps / timed.seconds,
        "ppo_steps_per_s": timesteps / ours,
    }


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
    parser.add_argument(
        "--batched",
        type=int,
        default=0,
        metavar="N",
        help="train on N worlds of the env's native batch where it has one (0: off)",
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    if args.timesteps < 256 or args.n_envs < 1 or args.batched < 0:
        parser.error("--timesteps must be >= 256, --n-envs >= 1 and --batched >= 0")
    import envs

    for name in args.envs:
        try:
            envs.resolve(name)
        except ValueError as err:
            parser.error(str(err))
    results = [
        measure_batched(name, args.timesteps, args.batched)
        if args.batched and envs.resolve(name).vector_entry_point is not None
        else measure(name, args.timesteps, args.n_envs)
        for name in args.envs
    ]
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
    if args.batched:
        table += (
            f" Batched rows: N={args.batched} worlds of the native batch through the SB3 "
            "adapter, PPO n_steps=8192//N, batch_size=2048, against a null VecEnv of N worlds."
        )
    path = report.write(
        "overhead",
        {
            "timesteps": args.timesteps,
            "n_envs": args.n_envs,
            "batched": args.batched,
            "results": results,
        },
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
