"""Does the robot-push recipe learn? Learning curves of its runs against the declared bar.

Reads ``agents.train`` run folders of robot-push (the pilot of
``benchmarks/hyperparams/robot-push-pilot.yaml`` and the transfer study's runs) while
they train or after: per run, the periodic evaluation on ``train`` (``eval/evaluations.npz``,
success over its episodes at each evaluation step), the newest checkpoint, and the final
transfer report's train success when the run finished. The bar, declared with the pilot
recipe before it ran: train success >= 0.8 at or before 600k steps, per seed (the final
50-episode evaluation decides; periodic points, 10 episodes in the pilot and 1 in the
study's runs, only show the trend).
Writes ``benchmarks/results/robot-push-recipe.{json,md}``; commit it as runs progress.

    python -m benchmarks.push_recipe runs/push-pilot/robot-push/*
    python -m benchmarks.push_recipe RUN_DIR [RUN_DIR ...] --out /tmp/results
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.cli_types import UsageError, cli_main
from benchmarks import report

BAR_SUCCESS = 0.8
BAR_STEPS = 600_000


def read_run(run_dir: Path) -> dict[str, Any]:
    """One run's configuration, learning curve, newest checkpoint and final result."""
    from agents.runs import latest_checkpoint

    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"{run_dir} is not an agents.train run folder (no config.yaml)")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    curve: list[list[float]] = []
    evaluations = run_dir / "eval" / "evaluations.npz"
    if evaluations.is_file():
        with np.load(evaluations) as data:
            if "successes" in data:
                curve = [
                    [int(t), float(np.mean(s)), len(s)]
                    for t, s in zip(data["timesteps"], data["successes"], strict=True)
                ]
    checkpoint = latest_checkpoint(run_dir)
    final = None
    report_json = run_dir / "eval" / "report.json"
    if report_json.is_file():
        train = json.loads(report_json.read_text())["splits"].get("train")
        if train:
            wins = [bool(w) for w in train["successes"]]
            final = {"episodes": len(wins), "success": sum(wins) / len(wins)}
    return {
        "run": str(run_dir),
        "algo": config["algo"],
        "seed": config["seed"],
        "curriculum": (config.get("curriculum") or {}).get("name", "none (train split)"),
        "timesteps": config["timesteps"],
        "checkpoint_steps": None if checkpoint is None else checkpoint.timesteps,
        "curve": curve,
        "final_train": final,
        "passes": None if final is None else final["success"] >= BAR_SUCCESS,
    }


def markdown(runs: Sequence[dict[str, Any]]) -> str:
    """The table of runs and one curve line per run."""
    lines = [
        f"Bar (declared with the recipe, before it ran): train success >= {BAR_SUCCESS} at or "
        f"before {BAR_STEPS:,} steps per seed, from the final 50-episode evaluation; the "
        "periodic points (their episode count in brackets) show the trend only.",
        "",
        "| run | algo | seed | curriculum | steps (checkpoint) | final train success | bar |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        final = r["final_train"]
        done = "—" if final is None else f"{final['success']:.2f} ({final['episodes']} ep)"
        verdict = {None: "running", True: "passed", False: "missed"}[r["passes"]]
        steps = r["checkpoint_steps"]
        lines.append(
            f"| `{Path(r['run']).name}` | {r['algo']} | {r['seed']} | {r['curriculum']} | "
            f"{'—' if steps is None else f'{steps:,}'} of {r['timesteps']:,} | {done} | {verdict} |"
        )
    lines += ["", "Periodic train success (steps: success, with its episodes per point):", ""]
    for r in runs:
        points = ", ".join(f"{t // 1000}k: {s:.2f}" for t, s, _ in r["curve"]) or "none yet"
        counts = sorted({n for _, _, n in r["curve"]})
        each = f" ({'/'.join(map(str, counts))} ep each)" if counts else ""
        lines.append(f"- `{Path(r['run']).name}` ({r['curriculum']}){each}: {points}")
    return "\n".join(lines)


@cli_main("python -m benchmarks.push_recipe")
def main(argv: Sequence[str] | None = None) -> int:
    """Reads the run folders and writes the results files (exit 2: not a run folder)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push_recipe", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="agents.train run folders")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    try:
        runs = [read_run(run_dir) for run_dir in args.runs]
    except ValueError as err:
        raise UsageError(str(err)) from None
    data = {"bar": {"success": BAR_SUCCESS, "steps": BAR_STEPS}, "runs": runs}
    path = report.write("robot-push-recipe", data, markdown(runs), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
