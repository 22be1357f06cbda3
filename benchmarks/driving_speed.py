"""Steps/s of practicegym ``driving`` vs highway-env ``highway-fast-v0``, in one run.

Both envs: 20 background vehicles, 3 lanes, 5 Hz policy frequency (highway-fast-v0 gets
``policy_frequency=5``; its ``simulation_frequency`` is already 5), kinematics
observations, random discrete meta-actions (the same five), resets included. Ours is
also timed with continuous actions, unwrapped, and with the 64x64 bird's-eye raster.

Both wall-clock and process CPU time are recorded: on a shared machine CPU time is the
fairer measure of what the env costs; the load average is saved alongside.

highway-env comes from ``pip install -e '.[bench]'``; without it the peer is reported as
not measured (in the JSON's ``not_measured`` and in the markdown) and ours is still timed.

Usage::

    python -m benchmarks.driving_speed            # writes benchmarks/results/driving_speed.*
    python -m benchmarks.driving_speed --steps 500 --highway-steps 100 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents.cli_types import positive_int
from benchmarks import report

SCENARIO_20 = {"lanes": 3, "traffic_density": 20.0 / (3 * 0.32)}  # 20 vehicles in the window
PEER = "highway-fast-v0"
PEER_NOT_INSTALLED = "highway-env not installed (pip install -e '.[bench]')"


def _time_steps(env: Any, steps: int, seed: int, options: dict | None = None) -> dict[str, float]:
    env.action_space.seed(seed)
    env.reset(seed=seed, options=options)
    actions = [env.action_space.sample() for _ in range(steps)]
    resets = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset(options=options)
            resets += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "steps": steps,
        "resets": resets,
        "wall_s": wall,
        "cpu_s": cpu,
        "steps_per_s_wall": steps / wall,
        "steps_per_s_cpu": steps / cpu,
    }


def _time_calls(fn: Callable[[], Any], calls: int) -> dict[str, float]:
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"calls": calls, "per_s_wall": calls / wall, "per_s_cpu": calls / cpu}


def bench_ours(steps: int) -> dict[str, Any]:
    """Times our env in its benchmark configurations."""
    out: dict[str, Any] = {}
    opts = {"scenario": SCENARIO_20}
    env = envs.make("driving", action_type="discrete")
    env.reset(seed=0, options=opts)
    out["vehicles"] = env.unwrapped.traffic.count
    out["kinematics_discrete"] = _time_steps(env, steps, 0, opts)
    env = envs.make("driving")
    out["kinematics_continuous"] = _time_steps(env, steps, 0, opts)
    out["kinematics_discrete_unwrapped"] = _time_steps(
        envs.make("driving", action_type="discrete").unwrapped, steps, 0, opts
    )
    env = envs.make("driving", obs_type="birdseye", action_type="discrete")
    out["birdseye_discrete"] = _time_steps(env, max(steps // 2, 1), 0, opts)
    # The raster alone: a kinematics env renders a fresh frame on every call (train-split
    # visual params: blur and pixel noise included), and a clean frame without effects.
    raw = envs.make("driving").unwrapped
    raw.reset(seed=0, options={"scenario": {**SCENARIO_20, "blur": 0.5, "pixel_noise": 0.03}})
    out["birdseye_frame_64"] = _time_calls(raw.perception_frame, max(steps // 2, 1))
    raw.reset(seed=0, options={"scenario": {**SCENARIO_20, "blur": 0.0, "pixel_noise": 0.0}})
    out["birdseye_frame_64_clean"] = _time_calls(raw.perception_frame, max(steps // 2, 1))
    return out


def _time_batch(
    env: Any, batch_steps: int, seed: int, options: dict | None, action: Any = None
) -> dict[str, float]:
    """Steps/s of a vector env (``batch_steps`` calls of N worlds), random actions by default.

    ``action``: one fixed action batch instead (e.g. IDLE for every world).
    """
    env.action_space.seed(seed)
    env.reset(seed=seed, options=options)
    if action is None:
        actions = [env.action_space.sample() for _ in range(batch_steps)]
    else:
        actions = [action] * batch_steps
    done = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        done += int(terminated.sum() + truncated.sum())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = batch_steps * env.num_envs
    return {
        "num_envs": env.num_envs,
        "steps": steps,
        "episodes_ended": done,
        "wall_s": wall,
        "cpu_s": cpu,
        "steps_per_s_wall": steps / wall,
        "steps_per_s_cpu": steps / cpu,
    }


def bench_batched(num_envs: int, batch_steps: int) -> dict[str, Any]:
    """Times the batched env (``DrivingVectorEnv``) with N worlds, random actions, resets."""
    from envs.driving.vector import DrivingVectorEnv

    opts = {"scenario": SCENARIO_20}
    out: dict[str, Any] = {}
    for name, kwargs, calls in (
        ("kinematics_continuous", {}, batch_steps),
        ("kinematics_discrete", {"action_type": "discrete"}, batch_steps),
        (
            "birdseye_discrete",
            {"obs_type": "birdseye", "action_type": "discrete"},
            batch_steps // 4,
        ),
    ):
        env = DrivingVectorEnv(num_envs, **kwargs)
        out[name] = _time_batch(env, max(calls, 2), 0, opts)
    # IDLE for every world: the lane-tracking controller keeps most episodes going to the
    # horizon, so this times the step itself with few resets (random actions end an
    # episode every few steps, and resets are built world by world).
    env = DrivingVectorEnv(num_envs, action_type="discrete")
    idle = np.ones(num_envs, dtype=np.int64)
    out["kinematics_discrete_idle"] = _time_batch(env, batch_steps, 0, opts, idle)
    # Frames of every world at once (train-split looks: blur and pixel noise included).
    env = DrivingVectorEnv(num_envs)
    env.reset(seed=0, options=opts)
    calls = max(batch_steps // 10, 2)
    frames = _time_calls(env.perception_frames, calls)
    out["birdseye_frames"] = {
        **frames,
        "frames_per_s_wall": frames["per_s_wall"] * num_envs,
        "frames_per_s_cpu": frames["per_s_cpu"] * num_envs,
    }
    one = DrivingVectorEnv(1, action_type="discrete")
    out["batch_of_one_discrete"] = _time_batch(one, batch_steps * 4, 0, opts)
    return out


def bench_highway(steps: int) -> dict[str, Any]:
    """Times highway-fast-v0, or returns ``{"error": why}`` when highway-env is missing."""
    import gymnasium as gym

    try:
        import highway_env
    except ModuleNotFoundError as err:
        if err.name == "highway_env":
            return {"error": PEER_NOT_INSTALLED}
        return {"error": f"highway-env failed to import: {err}"}
    except ImportError as err:
        return {"error": f"highway-env failed to import: {err}"}
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    config = {"vehicles_count": 20, "lanes_count": 3, "policy_frequency": 5}
    env = gym.make("highway-fast-v0", config=config)
    result: dict[str, Any] = {
        "version": getattr(highway_env, "__version__", "unknown"),
        "config": {
            k: env.unwrapped.config[k]
            for k in ("vehicles_count", "lanes_count", "policy_frequency", "simulation_frequency")
        },
        "kinematics_discrete": _time_steps(env, steps, 0),
    }
    env.close()
    return result


def write(results: dict[str, Any], out_dir: Path) -> None:
    """Writes ``driving_speed.json`` and ``driving_speed.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "driving_speed.json").write_text(json.dumps(results, indent=2) + "\n")
    ours, hw = results["ours"], results["highway_fast_v0"]
    lines = [
        "# Driving env speed: practicegym `driving` vs highway-env `highway-fast-v0`",
        "",
        f"Measured {results['date']} on {results['machine']} "
        f"(load average at start {results['loadavg_start']}, end {results['loadavg_end']}; "
        "other jobs shared the cores, so CPU-time rates are the fairer figure).",
        f"Both: {ours['vehicles']} background vehicles, 3 lanes, 5 Hz policy, random actions,",
        "resets included.",
        "",
        "| env / configuration | steps/s (CPU time) | steps/s (wall) |",
        "|---|---|---|",
    ]
    rows = [
        ("ours, kinematics, discrete (gym.make)", ours["kinematics_discrete"]),
        ("ours, kinematics, continuous (gym.make)", ours["kinematics_continuous"]),
        ("ours, kinematics, discrete (unwrapped)", ours["kinematics_discrete_unwrapped"]),
        ("ours, birdseye 64x64, discrete (gym.make)", ours["birdseye_discrete"]),
    ]
    if "error" not in hw:
        rows.append(("highway-fast-v0, kinematics, discrete", hw["kinematics_discrete"]))
    for name, r in rows:
        lines.append(f"| {name} | {r['steps_per_s_cpu']:,.0f} | {r['steps_per_s_wall']:,.0f} |")
    batched = results["batched"]
    n = batched["kinematics_continuous"]["num_envs"]
    for name, key in (
        (f"ours, batched N={n}, kinematics, continuous", "kinematics_continuous"),
        (f"ours, batched N={n}, kinematics, discrete", "kinematics_discrete"),
        (f"ours, batched N={n}, birdseye 64x64, discrete", "birdseye_discrete"),
        (f"ours, batched N={n}, kinematics, IDLE (few resets)", "kinematics_discrete_idle"),
        ("ours, batched N=1 (batch of one), kinematics, discrete", "batch_of_one_discrete"),
    ):
        r = batched[key]
        lines.append(f"| {name} | {r['steps_per_s_cpu']:,.0f} | {r['steps_per_s_wall']:,.0f} |")
    frames = batched["birdseye_frames"]
    lines += [
        "",
        f"Batched bird's-eye frames (N={n} worlds per call, blur and noise of the train split): "
        f"{frames['frames_per_s_cpu']:,.0f} frames/s (CPU time), "
        f"{frames['frames_per_s_wall']:,.0f} (wall).",
    ]
    if "speedup_batched_cpu" in results:
        lines.append(
            f"Batched N={n} (kinematics, discrete) vs highway-fast-v0: "
            f"{results['speedup_batched_cpu']:,.0f}x (CPU time); batch of one: "
            f"{results['speedup_one_cpu']:,.0f}x (CPU time)."
        )
    frame, clean = ours["birdseye_frame_64"], ours["birdseye_frame_64_clean"]
    lines += [
        "",
        f"Bird's-eye 64x64 raster alone, with blur 0.5 px and pixel noise 0.03: "
        f"{frame['per_s_cpu']:,.0f} frames/s (CPU time), {frame['per_s_wall']:,.0f} (wall); "
        f"without effects: {clean['per_s_cpu']:,.0f} (CPU time), "
        f"{clean['per_s_wall']:,.0f} (wall).",
        "",
    ]
    if "error" in hw:
        lines.append(f"{PEER}: not measured: {hw['error']}")
    else:
        lines.append(
            f"Speed-up vs highway-fast-v0 {hw['version']} (kinematics, discrete, gym.make): "
            f"{results['speedup_cpu']:.0f}x (CPU time), {results['speedup_wall']:.0f}x (wall)."
        )
    (out_dir / "driving_speed.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steps", type=positive_int, default=5000, help="steps per configuration (ours)"
    )
    parser.add_argument(
        "--highway-steps", type=positive_int, default=300, help="steps for highway-fast-v0"
    )
    parser.add_argument(
        "--num-envs", type=positive_int, default=256, help="worlds of the batched env"
    )
    parser.add_argument(
        "--batch-steps", type=positive_int, default=200, help="calls of the batched env"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results", help="output folder"
    )
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder, but {args.out} is a file")
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{report.machine_name()}, Python {sys.version.split()[0]}, "
        f"NumPy {np.__version__}",
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    results["ours"] = bench_ours(args.steps)
    results["batched"] = bench_batched(args.num_envs, args.batch_steps)
    results["highway_fast_v0"] = bench_highway(args.highway_steps)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    hw = results["highway_fast_v0"]
    results["not_measured"] = {PEER: hw["error"]} if "error" in hw else {}
    if "error" in hw:
        print(f"{PEER}: not measured: {hw['error']}", file=sys.stderr)
    else:
        ours = results["ours"]["kinematics_discrete"]
        theirs = hw["kinematics_discrete"]
        results["speedup_cpu"] = ours["steps_per_s_cpu"] / theirs["steps_per_s_cpu"]
        results["speedup_wall"] = ours["steps_per_s_wall"] / theirs["steps_per_s_wall"]
        batched = results["batched"]
        rate = theirs["steps_per_s_cpu"]
        results["speedup_batched_cpu"] = batched["kinematics_discrete"]["steps_per_s_cpu"] / rate
        results["speedup_one_cpu"] = batched["batch_of_one_discrete"]["steps_per_s_cpu"] / rate
    write(results, args.out)
    print((args.out / "driving_speed.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
