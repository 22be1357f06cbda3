"""Does the robot-push recipe learn? Learning curves of its runs against the declared bar.

Reads ``agents.train`` run folders of robot-push (the pilot of
``benchmarks/hyperparams/robot-push-pilot.yaml`` and the transfer study's runs) while
they train or after: per run, the periodic evaluation on ``train`` (``eval/evaluations.npz``,
success over its episodes at each evaluation step), the newest checkpoint, and the final
transfer report's train success each time the run finished (a run extended with
``agents.train --resume RUN --timesteps N`` finishes again at N). The bar, declared with the
pilot recipe before it ran: train success >= 0.8 at or before 600k steps, per seed (the
final 50-episode evaluation decides; periodic points, 10 episodes in the pilot and 1 in
the study's runs, only show the trend); the pilot's declared contingency extends it to 800k
and then 1M steps.
Writes ``benchmarks/results/robot-push-recipe.{json,md}``; commit it as runs progress.
Points and final evaluations already in that file are kept for the same run folder, so the
file accumulates a run's history across resumes and extensions; a run in the file but not
named now stays as it was read last (marked ``lost`` once its folder is gone, as when its
machine was given back), so no measured run drops out of the record.

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
BAR_EPISODES = 50  # a final evaluation with fewer episodes (the study's own) does not judge
BAR_STEPS = 600_000
CONTINGENCY_STEPS = (800_000, 1_000_000)  # the pilot's declared extension


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
    finals = []
    # The sweep's evaluation (50 episodes per split) when the run is one of the study's,
    # else agents.train's own final one; either belongs to the newest checkpoint unless
    # the run was extended since.
    report_json = run_dir / "transfer" / "report.json"
    if not report_json.is_file():
        report_json = run_dir / "eval" / "report.json"
    if report_json.is_file() and (
        checkpoint is None or report_json.stat().st_mtime >= checkpoint.saved_at()
    ):
        train = json.loads(report_json.read_text())["splits"].get("train")
        if train:
            wins = [bool(w) for w in train["successes"]]
            steps = config["timesteps"] if checkpoint is None else checkpoint.timesteps
            finals.append({"steps": steps, "episodes": len(wins), "success": sum(wins) / len(wins)})
    return {
        "run": str(run_dir),
        "algo": config["algo"],
        "seed": config["seed"],
        "curriculum": (config.get("curriculum") or {}).get("name", "none (train split)"),
        "timesteps": config["timesteps"],
        "checkpoint_steps": None if checkpoint is None else checkpoint.timesteps,
        "curve": curve,
        "training_curve": training_curve(run_dir),
        "finals": finals,
    }


def training_curve(run_dir: Path, bucket: int = 25_000) -> list[list[float]]:
    """Success of the training episodes (stochastic policy) per ``bucket`` env steps.

    From the run's ``monitor/*.monitor.csv`` files (one per session, in order): hundreds of
    episodes per point, so it shows the trend that the small periodic evaluations cannot.
    Rows: ``[steps at the bucket's end, success rate, episodes]``; the last bucket may be
    partial.
    """
    files = sorted(
        (run_dir / "monitor").glob("*.monitor.csv"),
        key=lambda f: json.loads(f.read_text().split("\n", 1)[0][1:])["t_start"],
    )
    steps, buckets = 0, {}
    for path in files:
        lines = path.read_text().splitlines()
        columns = lines[1].split(",")
        length, success = columns.index("l"), columns.index("is_success")
        for line in lines[2:]:
            row = line.split(",")
            steps += int(row[length])
            buckets.setdefault((steps - 1) // bucket, []).append(row[success] == "True")
    return [
        [min((b + 1) * bucket, steps), sum(wins) / len(wins), len(wins)]
        for b, wins in sorted(buckets.items())
    ]


def merge_earlier(run: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the curve points and final evaluations of an earlier read it lacks."""
    curve = {int(t): [t, s, n] for t, s, n in earlier.get("curve", [])}
    curve.update({int(t): [t, s, n] for t, s, n in run["curve"]})
    finals = {int(f["steps"]): f for f in earlier.get("finals", [])}
    finals.update({int(f["steps"]): f for f in run["finals"]})
    return {
        **run,
        "curve": [curve[t] for t in sorted(curve)],
        "finals": [finals[t] for t in sorted(finals)],
    }


def verdict(run: dict[str, Any]) -> str:
    """``passed at N`` (the first final evaluation at the bar), ``missed at N``, ``running``
    or, for a run whose folder is gone before any judging evaluation, ``lost``.

    Only evaluations of at least :data:`BAR_EPISODES` episodes count. A ``narrow`` run is
    not judged (unless lost): it practises train's easiest corner only, and the bar is the
    recipe's for practice over the whole train split.
    """
    finals, lost = run["finals"], run.get("lost", False)
    judged = [f for f in finals if f["episodes"] >= BAR_EPISODES]
    if run["curriculum"] == "narrow" and (judged or not lost):
        return "not judged (narrow practises one corner)"
    for final in judged:
        if final["success"] >= BAR_SUCCESS:
            return f"passed at {final['steps']:,}"
    if judged:
        return f"missed at {judged[-1]['steps']:,}"
    return "lost (folder gone, never judged)" if lost else "running"


def kept_runs(earlier: dict[str, dict[str, Any]], read: Sequence[str]) -> list[dict[str, Any]]:
    """Runs of the earlier file not read now, as last read (``lost`` once their folder is gone)."""
    return [{**r, "lost": not Path(run).is_dir()} for run, r in earlier.items() if run not in read]


def markdown(runs: Sequence[dict[str, Any]]) -> str:
    """The table of runs and one curve line per run."""
    lines = [
        f"Bar (declared with the recipe, before it ran): train success >= {BAR_SUCCESS} at or "
        f"before {BAR_STEPS:,} steps per seed, from the final 50-episode evaluation; the "
        "pilot's contingency (declared before its 600k evaluation) extends the same run to "
        f"{' and then '.join(f'{n:,}' for n in CONTINGENCY_STEPS)} steps. The periodic points "
        "(their episode count in brackets) show the trend only.",
        "",
        "| run | algo | seed | curriculum | steps (checkpoint) | final train success | bar |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        finals = "; ".join(
            f"{f['success']:.2f} at {f['steps'] // 1000}k ({f['episodes']} ep)" for f in r["finals"]
        )
        steps = r["checkpoint_steps"]
        lines.append(
            f"| `{Path(r['run']).name}` | {r['algo']} | {r['seed']} | {r['curriculum']} | "
            f"{'—' if steps is None else f'{steps:,}'} of {r['timesteps']:,} | {finals or '—'} | "
            f"{verdict(r)} |"
        )
    lines += ["", "Training episodes' success (stochastic policy) per 25k steps:", ""]
    for r in runs:
        points = ", ".join(f"{round(t / 1000, 1):g}k: {s:.2f}" for t, s, _ in r["training_curve"])
        lines.append(f"- `{Path(r['run']).name}` ({r['curriculum']}): {points or 'none yet'}")
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
    previous = (args.out or report.RESULTS) / "robot-push-recipe.json"
    if previous.is_file():
        earlier = {r["run"]: r for r in json.loads(previous.read_text()).get("runs", [])}
        read = [r["run"] for r in runs]
        runs = [merge_earlier(r, earlier.get(r["run"], {})) for r in runs]
        runs = kept_runs(earlier, read) + runs
    for r in runs:
        r["verdict"] = verdict(r)
    bar = {"success": BAR_SUCCESS, "steps": BAR_STEPS, "contingency_steps": CONTINGENCY_STEPS}
    data = {"bar": bar, "runs": runs}
    path = report.write("robot-push-recipe", data, markdown(runs), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
