"""The README's main command, timed: ``python -m agents.train --env driving`` per seed.

Runs the command exactly as a user would (the shipped recipe in
``agents/hyperparams/ppo.yaml``: PPO on the batched driving env), once per seed, each in
its own process, and records per seed: the wall time of the whole command (training and
the evaluation on every split), the training throughput it printed (environment steps
per second of wall time, PPO updates included), and the per-split success of its
transfer report. Writes ``benchmarks/results/driving_ppo.{json,md}``.

Usage::

    python -m benchmarks.driving_ppo                 # seeds 0 1 2, the recipe's budget
    python -m benchmarks.driving_ppo --seeds 0 --timesteps 20000 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.cli_types import positive_int
from benchmarks import report

SPLITS = ("train", "heldout-curves", "heldout-traffic", "heldout-friction", "heldout-visual")
_RATE = re.compile(r"steps (\d+)/\d+ \| (\d+) steps/s")


def run_seed(seed: int, timesteps: int | None, runs_dir: Path) -> dict[str, Any]:
    """Runs the main command for ``seed`` in a fresh process; returns its measurements."""
    command = [sys.executable, "-m", "agents.train", "--env", "driving", "--seed", str(seed)]
    command += ["--out", str(runs_dir), "--no-progress"]
    if timesteps is not None:
        command += ["--timesteps", str(timesteps)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"seed {seed}: agents.train failed:\n{done.stderr[-2000:]}")
    rates = [(int(a), int(b)) for a, b in _RATE.findall(done.stdout)]
    (run_dir,) = (runs_dir / "driving").glob(f"ppo-{seed}-*")
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    success = {}
    for split, data in report["splits"].items():
        wins = data["successes"]
        success[split] = {"episodes": len(wins), "success": sum(map(bool, wins)) / len(wins)}
    return {
        "seed": seed,
        "wall_s": wall,
        "train_steps_per_s": rates[-1][1] if rates else None,
        "success": success,
        "stdout_table": [line for line in done.stdout.splitlines() if line.startswith("|")],
    }


def write(results: dict[str, Any], out_dir: Path) -> None:
    """Writes ``driving_ppo.json`` and ``driving_ppo.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "driving_ppo.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# `python -m agents.train --env driving`, timed per seed",
        "",
        f"Measured {results['date']} on {results['machine']} (load average at start "
        f"{results['loadavg_start']}, end {results['loadavg_end']}). The shipped recipe "
        f"({results['timesteps'] or 'recipe'} timesteps), training and the evaluation on "
        "every split included in the wall time; steps/s as printed by the command.",
        "",
        "| seed | wall s | train steps/s | " + " | ".join(SPLITS) + " |",
        "|---|---|---|" + "---|" * len(SPLITS),
    ]
    for run in results["runs"]:
        cells = [f"{run['success'].get(s, {}).get('success', float('nan')):.2f}" for s in SPLITS]
        rate = run["train_steps_per_s"]
        lines.append(
            f"| {run['seed']} | {run['wall_s']:.0f} | {rate if rate else 'n/a'} | "
            + " | ".join(cells)
            + " |"
        )
    episodes = results["runs"][0]["success"].get("train", {}).get("episodes", 0)
    lines += ["", f"Success over {episodes} evaluation episodes per split (deterministic policy)."]
    (out_dir / "driving_ppo.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    parser.add_argument(
        "--timesteps", type=positive_int, default=None, help="budget (default: the recipe's)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results", help="output folder"
    )
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds):
        parser.error("--seeds must be >= 0")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder, but {args.out} is a file")
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{report.machine_name()}, Python {sys.version.split()[0]}",
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "timesteps": args.timesteps,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["runs"] = [run_seed(seed, args.timesteps, Path(tmp)) for seed in args.seeds]
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    write(results, args.out)
    print((args.out / "driving_ppo.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
