"""Tutorial: train an agent on `train`, then measure what transfers to held-out splits.

Run from the repository root (defaults: driving, 20k steps, a few minutes on a laptop)::

    python docs/tutorials/train_transfer.py --timesteps 20000 --episodes 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents import runs, train
from agents.evaluation import evaluate_transfer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="driving", help="env short name")
    parser.add_argument("--timesteps", type=int, default=20_000, help="training steps")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes a split")
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial"), help="runs root")
    args = parser.parse_args(argv)

    # 1. Train with the shipped recipe (agents/hyperparams/<algo>.yaml). This is exactly
    #    `python -m agents.train --env driving --timesteps ... --out ...`: the run folder
    #    keeps the resolved config, the command line, checkpoints and the final model,
    #    and the CLI ends by evaluating on every split.
    status = train.main(
        [
            "--env", args.env,
            "--timesteps", str(args.timesteps),
            "--out", str(args.out),
            "--set", f"run.eval_episodes={args.episodes}",
            "--set", "run.record_video=false",
            "--no-progress",
        ]
    )  # fmt: skip
    if status != 0:
        return status
    run_dir = max((args.out / args.env).iterdir(), key=lambda p: p.stat().st_mtime)
    print(f"run folder: {run_dir}")

    # 2. Evaluate transfer in Python: every split meets the same episode seeds (common
    #    random numbers), and so do a random policy and the scripted expert, which
    #    normalise the score: (agent - random) / (expert - random).
    policy = runs.load_policy(run_dir)
    report = evaluate_transfer(policy, args.env, episodes=args.episodes, progress=False)
    print(report.table())
    report.save(run_dir / "transfer")  # report.json, report.md, scores.png
    print(f"transfer report: {run_dir / 'transfer'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
