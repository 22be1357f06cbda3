"""Steps/s of the ``dialogue`` env (single env, pure Python/NumPy), resets included.

Timed cases: the env as ``envs.make`` returns it (Gymnasium's checker and order
wrappers) and unwrapped, with uniformly random actions (masked ones included: they are
legal and waste a turn) on ``train`` and on ``heldout-noise`` (more noise-channel work);
and ``action_masks()`` calls/s (MaskablePPO calls it every step). Actions are drawn
before timing. Gymnasium's ``CartPole-v1`` (unwrapped, random actions) is timed in the same
run as a peer yardstick for how fast Python runs on the machine at that moment. Both
wall-clock and process CPU time are recorded: on a shared machine CPU time is the fairer
measure of what the env costs. A pure-Python reference loop and the
load average are saved alongside, so numbers from loaded machines can be compared.

Usage::

    python -m benchmarks.dialogue_speed   # writes benchmarks/results/dialogue_speed.*
    python -m benchmarks.dialogue_speed --steps 20000 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from agents.cli_types import positive_int
from benchmarks import report
from envs.dialogue.env import N_ACTIONS

TARGET = 20_000


def _time_steps(env: Any, steps: int, seed: int, n_actions: int = N_ACTIONS) -> dict[str, float]:
    actions = np.random.default_rng(seed).integers(n_actions, size=steps).tolist()
    env.reset(seed=seed)
    return report.step_rate(env, actions)


def _time_masks(env: Any, calls: int, seed: int) -> dict[str, float]:
    env.reset(seed=seed)
    masks = env.unwrapped.action_masks
    with report.stopwatch() as t:
        for _ in range(calls):
            masks()
    return {"steps": calls, "resets": 0, "wall_rate": calls / t.wall, "cpu_rate": calls / t.cpu}


def reference_loop_rate(n: int = 1_000_000) -> float:
    """Iterations/s of a trivial pure-Python loop (CPU time): this machine's Python speed."""
    cpu = time.process_time()
    total = 0
    for i in range(n):
        total += i
    return n / (time.process_time() - cpu)


def run(steps: int, repeats: int) -> dict[str, Any]:
    """Times every case ``repeats`` times; returns medians and all repeats."""
    cases = {
        "make(train), random acts": lambda s: _time_steps(envs.make("dialogue"), steps, s),
        "unwrapped(train), random acts": lambda s: _time_steps(
            envs.make("dialogue").unwrapped, steps, s
        ),
        "unwrapped(heldout-noise), random acts": lambda s: _time_steps(
            envs.make("dialogue", split="heldout-noise").unwrapped, steps, s
        ),
        "action_masks() calls": lambda s: _time_masks(envs.make("dialogue"), steps, s),
        "peer: gymnasium CartPole-v1 unwrapped, random acts": lambda s: _time_steps(
            gym.make("CartPole-v1").unwrapped, steps, s, n_actions=2
        ),
    }
    results: dict[str, Any] = {}
    for name, case in cases.items():
        runs = [case(seed) for seed in range(repeats)]
        results[name] = {
            "wall_rate": statistics.median(r["wall_rate"] for r in runs),
            "cpu_rate": statistics.median(r["cpu_rate"] for r in runs),
            "episodes_per_run": statistics.median(r["resets"] for r in runs),
            "runs": runs,
        }
        print(
            f"{name:40s} wall {results[name]['wall_rate']:9.0f}/s  "
            f"cpu {results[name]['cpu_rate']:9.0f}/s",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=50_000, help="steps per timed run")
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs per case (median)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    report.check_out(parser, args.out)
    load_before = os.getloadavg()
    ref = reference_loop_rate()
    results = run(args.steps, args.repeats)
    load_after = os.getloadavg()
    rows = [
        [name, r["wall_rate"], r["cpu_rate"], r["episodes_per_run"]] for name, r in results.items()
    ]
    table = report.markdown_table(
        ["case (single env)", "steps/s wall", "steps/s CPU", "episodes per run"], rows
    )
    table += (
        f"\n\nTarget: >= {TARGET:,} env steps/s single env. {args.steps:,} steps per run, "
        f"median of {args.repeats} runs, resets included.\n"
        f"Load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} on "
        f"{os.cpu_count()} cores. Reference pure-Python loop: {ref:,.0f} iterations/s CPU.\n"
    )
    data = {
        "target_steps_per_s": TARGET,
        "steps_per_run": args.steps,
        "repeats": args.repeats,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "reference_loop_per_s": ref,
        "cases": results,
    }
    path = report.write("dialogue_speed", data, table, args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
