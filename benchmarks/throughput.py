"""Env throughput: practicegym envs against their peers, measured side by side in one run.

Each repeat times every case once, alternating ours and the peer of the same kind
(driving vs highway-env, robot vs panda-gym, dialogue vs CartPole, the pure-Python
floor), so machine noise hits both sides alike; the table reports medians over repeats
and ratios ours / peer. Random actions; resets included in the count.

    python -m benchmarks.throughput            # full: 3 repeats, 2 s a case, vector envs
    python -m benchmarks.throughput --quick    # 1 repeat, 0.5 s a case, single envs only

Peers come from ``pip install -e ".[bench]"``; a peer that cannot be made is reported as
such, never given a number.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks import report

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

# Policy frequency and vehicle count of our driving env, mirrored in highway-env's config.
HIGHWAY_CONFIG = {"vehicles_count": 20, "lanes_count": 3, "policy_frequency": 5}
VECTOR_SIZES = (1, 2, 4)
ACTION_POOL = 1000  # random actions drawn before timing, cycled (a multiple of 50 and 20)
VECTOR_KINDS = ("gym-sync", "gym-async", "sb3-subproc")


@dataclass(frozen=True)
class Case:
    """One env configuration to time."""

    label: str
    make: Callable[[], gym.Env]
    ours: bool
    peer: str | None = None  # label of the peer case it is compared with
    vectorise: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)


def _ours(name: str, **kwargs: Any) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        import envs

        return envs.make(name, **kwargs)

    return make


def _highway(env_id: str) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        import highway_env  # noqa: F401  (registers the ids)

        return gym.make(env_id, config=dict(HIGHWAY_CONFIG))

    return make


def _panda(env_id: str) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        import panda_gym  # noqa: F401  (registers the ids)

        return gym.make(env_id)

    return make


def cases() -> list[Case]:
    """Every case, ours first within each pair."""
    return [
        Case("driving (kinematics)", _ours("driving"), True, "highway-fast-v0", vectorise=True),
        Case("driving (birdseye)", _ours("driving", obs_type="birdseye"), True, "highway-fast-v0"),
        Case("driving-lane-keep", _ours("driving-lane-keep"), True, "highway-fast-v0"),
        Case("driving-highway", _ours("driving-highway"), True, "highway-v0"),
        Case("highway-fast-v0", _highway("highway-fast-v0"), False, vectorise=True),
        Case("highway-v0", _highway("highway-v0"), False),
        Case("robot-reach (flat)", _ours("robot-reach"), True, "PandaReach-v3", vectorise=True),
        Case("robot-reach (goal)", _ours("robot-reach", obs_type="goal"), True, "PandaReach-v3"),
        Case("robot-push (goal)", _ours("robot-push", obs_type="goal"), True, "PandaPush-v3"),
        Case("PandaReach-v3", _panda("PandaReach-v3"), False, vectorise=True),
        Case("PandaPush-v3", _panda("PandaPush-v3"), False),
        Case("dialogue", _ours("dialogue"), True, "CartPole-v1", vectorise=True),
        Case("CartPole-v1", lambda: gym.make("CartPole-v1"), False, vectorise=True),
    ]


def time_single(make: Callable[[], gym.Env], seconds: float) -> float:
    """Steps per CPU-second of one env with random actions, for about ``seconds`` of CPU.

    Single envs step inside this process, so its CPU time is the fair clock on a shared
    machine: other jobs' load does not count against either side. The random actions
    are drawn before the clock starts (``ACTION_POOL`` of them, cycled), so sampling
    does not count either.
    """
    env = make()
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        pool = [env.action_space.sample() for _ in range(ACTION_POOL)]
        steps, start = 0, time.process_time()
        while True:
            for action in pool[steps % ACTION_POOL : steps % ACTION_POOL + 50]:
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
            steps += 50
            elapsed = time.process_time() - start
            if elapsed >= seconds:
                return steps / elapsed
    finally:
        env.close()


def time_vector(make: Callable[[], gym.Env], kind: str, n: int, seconds: float) -> float:
    """Total env steps/s of ``n`` copies in a Gymnasium or SB3 vector env (actions pre-drawn)."""
    if kind == "sb3-subproc":
        from stable_baselines3.common.vec_env import SubprocVecEnv

        venv = SubprocVecEnv([make] * n)
        venv.seed(0)
        venv.reset()
        pool = [
            np.stack([venv.action_space.sample() for _ in range(n)]) for _ in range(ACTION_POOL)
        ]
        step = lambda a: venv.step(a)  # noqa: E731
    else:
        cls = gym.vector.SyncVectorEnv if kind == "gym-sync" else gym.vector.AsyncVectorEnv
        venv = cls([make] * n)
        venv.reset(seed=0)
        pool = [venv.action_space.sample() for _ in range(ACTION_POOL)]
        step = venv.step
    try:
        calls, start = 0, time.perf_counter()
        while True:
            for action in pool[calls % ACTION_POOL : calls % ACTION_POOL + 20]:
                step(action)
            calls += 20
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return calls * n / elapsed
    finally:
        venv.close()


def available(case: Case) -> str | None:
    """``None`` if the case's env can be made, else why not (peers only).

    A peer that is not installed is reported as not measured; our own envs must build,
    so their errors propagate.
    """
    if case.ours:
        case.make().close()
        return None
    try:
        case.make().close()
    except ImportError as err:
        return f"not installed ({err}); pip install -e '.[bench]'"
    return None


def render(data: dict[str, Any]) -> str:
    """Markdown tables of measured results: medians, peers and ratios ours / peer."""
    peers = {c.label: c.peer for c in cases()}
    medians = data["single_median"]
    rows = []
    for label, rate in medians.items():
        peer_label = peers.get(label)
        peer = medians.get(peer_label) if peer_label else None
        ratio = f"{rate / peer:.1f}x" if peer else None
        rows.append([label, rate, peer_label or "", peer, ratio])
    table = "Single env (steps per CPU-second of the stepping process, median):\n\n"
    table += report.markdown_table(["env", "steps/s", "peer", "peer steps/s", "ratio"], rows)
    vector = {key: float(np.median(v)) for key, v in data["vector"].items()}
    if vector:
        vrows = []
        for key, rate in vector.items():
            label, setting = key.split(" | ")
            kind, n = setting.rsplit(" x", 1)
            peer_label = peers.get(label)
            peer = vector.get(f"{peer_label} | {setting}") if peer_label else None
            ratio = f"{rate / peer:.1f}x" if peer else None
            vrows.append([label, kind, n, rate, peer_label or "", peer, ratio])
        table += (
            "\n\nVectorised (total env steps per wall-clock second, median):\n\n"
            + report.markdown_table(
                ["env", "vector env", "n", "steps/s", "peer", "peer steps/s", "ratio"], vrows
            )
        )
    if data["not_measured"]:
        table += "\n\nNot measured (could not be made here):\n\n" + "\n".join(
            f"- {k}: {v}" for k, v in data["not_measured"].items()
        )
    return table


def run(
    repeats: int, seconds: float, vector: bool, only: list[str] | None, out: Path | None
) -> dict[str, Any]:
    """Times every case ``repeats`` times, alternating ours and peers; writes the results."""
    load_start = report.load_average()
    selected = [c for c in cases() if not only or c.label in only]
    missing = {c.label: why for c in selected if (why := available(c))}
    live = [c for c in selected if c.label not in missing]
    single: dict[str, list[float]] = {c.label: [] for c in live}
    vectors: dict[str, list[float]] = {}
    for _ in range(repeats):
        for case in live:
            single[case.label].append(time_single(case.make, seconds))
        if vector:
            for case in (c for c in live if c.vectorise):
                for kind in VECTOR_KINDS:
                    for n in VECTOR_SIZES:
                        key = f"{case.label} | {kind} x{n}"
                        rate = time_vector(case.make, kind, n, seconds)
                        vectors.setdefault(key, []).append(rate)
    medians = {k: float(np.median(v)) for k, v in single.items()}
    data = {
        "repeats": repeats,
        "seconds_per_case": seconds,
        "load_average_start": load_start,
        "single": single,
        "single_median": medians,
        "vector": vectors,
        "not_measured": missing,
    }
    table = render(data)
    path = report.write("throughput", data, table, out)
    report.bar_chart(
        path.with_suffix(".png"),
        list(medians),
        list(medians.values()),
        "Single-env throughput (median)",
        "steps/s",
    )
    print(table)
    return data


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 repeat, 0.5 s per case, no vector envs"
    )
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 3)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds per case and repeat (default 2)"
    )
    parser.add_argument("--no-vector", action="store_true", help="skip vector-env cases")
    parser.add_argument(
        "--only", nargs="*", default=None, metavar="LABEL", help="time only these case labels"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results folder (default benchmarks/results)"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    seconds = args.seconds if args.seconds is not None else (0.5 if args.quick else 2.0)
    labels = [c.label for c in cases()]
    unknown = sorted(set(args.only or []) - set(labels))
    if unknown:
        parser.error(f"unknown --only labels {unknown}; valid: {labels}")
    if repeats < 1 or seconds <= 0:
        parser.error("--repeats must be >= 1 and --seconds > 0")
    run(repeats, seconds, not (args.quick or args.no_vector), args.only, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
