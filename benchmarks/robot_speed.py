"""Speed of practicegym's robot envs against panda-gym, in one run, at equal physics.

Measures, for reach and push, env steps per second (random actions, resets included,
through ``envs.make`` / ``gymnasium.make`` so both carry the same wrapper stack) of:

* ``ours``: ``robot-reach`` / ``robot-push`` with default settings;
* ``ours-equal-solver``: ours with panda-gym's solver residual (1e-7) as well;
* ``panda-gym``: ``PandaReach-v3`` / ``PandaPush-v3``.

All use timestep 0.002 s and 20 substeps per step (checked at run time). The rounds are
interleaved so that load from other processes hits every env alike, and both wall-clock
and process CPU time are reported (CPU time is the fairer number on a shared machine).
It also measures the share of our step time spent inside PyBullet calls (every
``pybullet`` function the env calls is timed through a thin proxy; the proxy's own
overhead counts as time outside PyBullet), and camera frames per second.

panda-gym comes from ``pip install -e '.[bench]'``; without it the peer is reported as not
measured (in the JSON's ``not_measured`` and in the markdown) and ours is still measured.

Usage::

    python -m benchmarks.robot_speed              # full run, writes benchmarks/results/
    python -m benchmarks.robot_speed --quick      # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import envs  # noqa: E402
import envs.robot.sim as robot_sim  # noqa: E402
from agents.cli_types import positive_int  # noqa: E402
from benchmarks import report  # noqa: E402

PANDA_IDS = {"reach": "PandaReach-v3", "push": "PandaPush-v3"}
PEER = "panda-gym"
PEER_NOT_INSTALLED = "panda-gym not installed (pip install -e '.[bench]')"


# ------------------------------------------------------------------------- factories


def peer_missing() -> str | None:
    """Why panda-gym cannot be measured here, or ``None`` when it can (it is imported)."""
    try:
        import panda_gym  # noqa: F401 - registers the Panda envs
    except ModuleNotFoundError as err:
        if err.name == "panda_gym":
            return PEER_NOT_INSTALLED
        return f"panda-gym failed to import: {err}"
    except ImportError as err:
        return f"panda-gym failed to import: {err}"
    return None


def _factories(task: str, peer: bool) -> dict[str, Callable[[], gym.Env]]:
    """Env makers by name; panda-gym's only with ``peer`` (it must be importable then)."""
    factories: dict[str, Callable[[], gym.Env]] = {
        "ours": lambda: envs.make(f"robot-{task}"),
        "ours-equal-solver": lambda: envs.make(
            f"robot-{task}", physics={"solver_residual_threshold": 1e-7}
        ),
    }
    if peer:
        factories[PEER] = lambda: gym.make(PANDA_IDS[task])
    return factories


def _physics(env: gym.Env) -> dict[str, float]:
    base = env.unwrapped
    if hasattr(base, "sim") and hasattr(base.sim, "physics"):
        cfg = base.sim.physics
        return {"timestep": cfg.timestep, "substeps": cfg.substeps}
    return {"timestep": base.sim.timestep, "substeps": base.sim.n_substeps}


# ------------------------------------------------------------------------ measuring


def measure_speed(
    task: str, steps: int, rounds: int, seed: int = 0, peer: bool = True
) -> dict[str, Any]:
    """Interleaved rounds of ``steps`` random steps per env; median steps/s per env.

    Without ``peer`` panda-gym is left out and the ratios to it are ``None``.
    """
    made = {name: factory() for name, factory in _factories(task, peer).items()}
    try:
        physics = {name: _physics(env) for name, env in made.items()}
        if len({tuple(v.values()) for v in physics.values()}) != 1:
            raise RuntimeError(f"physics settings differ: {physics}")
        rng = np.random.default_rng(seed)
        result: dict[str, Any] = {"physics": physics["ours"], "envs": {}}
        walls: dict[str, list[float]] = {n: [] for n in made}
        cpus: dict[str, list[float]] = {n: [] for n in made}
        for env in made.values():  # warm-up
            env.reset(seed=seed)
            report.step_rate(
                env, rng.uniform(-1, 1, (20, *env.action_space.shape)).astype(np.float32)
            )
        for _ in range(rounds):
            for name, env in made.items():
                shape = env.action_space.shape
                actions = rng.uniform(-1, 1, (steps, *shape)).astype(np.float32)
                env.reset(seed=int(rng.integers(1 << 31)))
                rate = report.step_rate(env, actions)
                walls[name].append(rate["wall_rate"])
                cpus[name].append(rate["cpu_rate"])
        for name in made:
            result["envs"][name] = {
                "steps_per_s_wall": statistics.median(walls[name]),
                "steps_per_s_cpu": statistics.median(cpus[name]),
                "rounds_wall": [round(x, 1) for x in walls[name]],
                "rounds_cpu": [round(x, 1) for x in cpus[name]],
            }
        result["ratio_wall"] = result["ratio_cpu"] = result["ratio_cpu_equal_solver"] = None
        if peer:
            ours, theirs = result["envs"]["ours"], result["envs"][PEER]
            equal = result["envs"]["ours-equal-solver"]
            result["ratio_wall"] = ours["steps_per_s_wall"] / theirs["steps_per_s_wall"]
            result["ratio_cpu"] = ours["steps_per_s_cpu"] / theirs["steps_per_s_cpu"]
            result["ratio_cpu_equal_solver"] = equal["steps_per_s_cpu"] / theirs["steps_per_s_cpu"]
        return result
    finally:
        for env in made.values():
            env.close()


class _TimedPyBullet:
    """Stands in for the ``pybullet`` module and times every function call."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._wrapped: dict[str, Any] = {}
        self.seconds = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        if not callable(value):
            return value
        wrapped = self._wrapped.get(name)
        if wrapped is None:

            def wrapped(*args: Any, _f: Any = value, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - start
                    self.calls += 1

            self._wrapped[name] = wrapped
        return wrapped


def measure_pybullet_share(task: str, steps: int, seed: int = 0) -> dict[str, Any]:
    """Fraction of our env's step+reset wall time spent inside PyBullet calls."""
    from pybullet_utils import bullet_client

    env = envs.make(f"robot-{task}")
    timed = _TimedPyBullet(robot_sim.p)
    originals = (robot_sim.p, bullet_client.pybullet)
    try:
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        actions = rng.uniform(-1, 1, (steps, *env.action_space.shape)).astype(np.float32)
        robot_sim.p, bullet_client.pybullet = timed, timed
        rate = report.step_rate(env, actions)
        wall, resets = rate["wall_s"], rate["resets"]
    finally:
        robot_sim.p, bullet_client.pybullet = originals
        env.close()
    return {
        "share": timed.seconds / wall,
        "pybullet_ms_per_step": 1e3 * timed.seconds / steps,
        "total_ms_per_step": 1e3 * wall / steps,
        "pybullet_calls_per_step": timed.calls / steps,
        "resets": resets,
    }


def measure_camera(task: str, frames: int, peer: bool = True) -> dict[str, Any]:
    """Camera frames per second (CPU time) of ours and (with ``peer``) panda-gym's ``render()``."""
    out: dict[str, Any] = {}
    env = envs.make(f"robot-{task}", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        base = env.unwrapped
        out["renderer"] = base.sim.renderer
        for label, call in (
            ("ours_perception_64", lambda: base.perception_frame(64)),
            ("ours_render_240_shadow", env.render),
        ):
            call()
            cpu = time.process_time()
            for _ in range(frames):
                call()
            out[label] = frames / (time.process_time() - cpu)
    finally:
        env.close()
    if not peer:
        return out
    for label, size in (("panda_gym_render_64", (64, 64)), ("panda_gym_render_720x480", None)):
        kwargs = {} if size is None else {"render_width": size[0], "render_height": size[1]}
        env = gym.make(PANDA_IDS[task], render_mode="rgb_array", **kwargs)
        try:
            env.reset(seed=0)
            env.render()
            cpu = time.process_time()
            for _ in range(frames):
                env.render()
            out[label] = frames / (time.process_time() - cpu)
        finally:
            env.close()
    return out


# ---------------------------------------------------------------------------- report


def to_markdown(results: dict[str, Any]) -> str:
    """The results as markdown (report.write puts the date, machine and versions above)."""
    lines = [
        "## Robot env speed: practicegym vs panda-gym",
        "",
        f"Load average at start {results['loadavg_start']}, at end {results['loadavg_end']} "
        "(other processes were running, so CPU-time rates are the fairer comparison). Random "
        f"actions, resets included, {results['steps']} steps x {results['rounds']} "
        "interleaved rounds, median.",
        "",
        "| task | env | steps/s (CPU time) | steps/s (wall) |",
        "|---|---|---:|---:|",
    ]
    for task, res in results["speed"].items():
        for name, row in res["envs"].items():
            lines.append(
                f"| {task} | {name} | {row['steps_per_s_cpu']:.0f} | "
                f"{row['steps_per_s_wall']:.0f} |"
            )
    not_measured = results.get("not_measured", {})
    if not_measured:
        lines.append("")
        lines += [f"{name}: not measured: {why}" for name, why in not_measured.items()]
    else:
        lines += ["", "| task | ours / panda-gym (CPU) | (wall) | equal solver / panda-gym (CPU) |"]
        lines += ["|---|---:|---:|---:|"]
        for task, res in results["speed"].items():
            lines.append(
                f"| {task} | {res['ratio_cpu']:.2f}x | {res['ratio_wall']:.2f}x | "
                f"{res['ratio_cpu_equal_solver']:.2f}x |"
            )
    physics = next(iter(results["speed"].values()))["physics"]
    lines += [
        "",
        f"Physics for every env: timestep {physics['timestep']} s, {physics['substeps']} "
        "substeps per step (25 Hz control).",
        "",
        "## Time inside PyBullet (ours)",
        "",
        "| task | share of step time | PyBullet ms/step | total ms/step | calls/step |",
        "|---|---:|---:|---:|---:|",
    ]
    for task, res in results["pybullet_share"].items():
        lines.append(
            f"| {task} | {100 * res['share']:.1f}% | {res['pybullet_ms_per_step']:.3f} | "
            f"{res['total_ms_per_step']:.3f} | {res['pybullet_calls_per_step']:.1f} |"
        )
    cam = results["camera"]
    lines += [
        "",
        f"## Camera frames/s (CPU time, renderer: {cam['renderer']})",
        "",
        "| camera | frames/s |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in cam.items() if k != "renderer"]
    if not not_measured:  # the comparison was made
        lines += ["", "## Why ours is faster", "", results["why"]]
    lines.append("")
    return "\n".join(lines)


WHY = (
    "Same timestep and substeps. (1) The gripper is held closed in both tasks of both "
    "suites; we build that into the model (finger joints fixed, fixed links merged), so the "
    "arm is 7 links with 7 motors instead of 12 links with 9 motors. (2) The 20 substeps "
    "run inside one `stepSimulation` call (`numSubSteps`), not 20 Python calls. (3) The "
    "solver stops at residual 1e-4 instead of 1e-7 (`ours-equal-solver` shows the cost of "
    "matching it). (4) The cube is a maximal-coordinates rigid body, and hot-path calls "
    "skip `BulletClient`'s per-call wrapper and cache state reads between simulator changes."
)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and writes ``robot_speed.json`` and ``robot_speed.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=500, help="steps per env per round")
    parser.add_argument("--rounds", type=positive_int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--frames", type=positive_int, default=10, help="camera frames per renderer"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results", help="output folder"
    )
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    args = parser.parse_args(argv)
    report.check_out(parser, args.out)
    if args.quick:
        args.steps, args.rounds, args.frames = 60, 1, 1
    missing = peer_missing()
    if missing:
        print(f"{PEER}: not measured: {missing}", file=sys.stderr)
    peer = missing is None
    results: dict[str, Any] = {
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "steps": args.steps,
        "rounds": args.rounds,
        "not_measured": {PEER: missing} if missing else {},
        "speed": {},
        "pybullet_share": {},
    }
    for task in ("reach", "push"):
        results["speed"][task] = measure_speed(task, args.steps, args.rounds, peer=peer)
        results["pybullet_share"][task] = measure_pybullet_share(task, args.steps)
    results["camera"] = measure_camera("push", args.frames, peer=peer)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["why"] = WHY
    table = to_markdown(results)
    report.write("robot_speed", results, table, args.out)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
