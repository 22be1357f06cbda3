r"""Evaluate trained runs on train and held-out scenarios: ``python -m agents.evaluate``.

Each run folder's policy is evaluated on every split with the same episode seeds
(common random numbers), next to the random policy and the scripted expert; with
several runs, the runs are grouped and compared with rliable. Examples::

    python -m agents.evaluate runs/point/ppo-0-20261128-120000
    python -m agents.evaluate runs/driving/*/ --episodes 100 --out reports/driving \
        --group plr='*plr*' --group uniform='*uniform*'

Writes ``report.json``, ``report.md`` and PNGs (one folder per run, plus the group
report when there are several runs) and prints the tables. Bad input (a folder that is
not a run, an unknown split, a model that does not fit its env, runs of different envs)
exits with code 2 and one line saying what was wrong; nothing is written then.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.cli_types import (
    UsageError,
    check_writable_folder,
    cli_main,
    interrupted,
    positive_int,
    seed_int,
    worker_count,
)
from agents.evaluation import aggregate_runs, evaluate_transfer
from agents.evaluation.report import TransferReport
from agents.evaluation.rollout import default_workers
from agents.evaluation.transfer import EVAL_SEED, check_inputs

__all__ = ["build_parser", "main"]

PROG = "python -m agents.evaluate"


InputError = UsageError  # the convention's usage error, by this module's older name


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` explains every flag)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Measure how trained runs transfer from the train split to held-out "
        "scenario splits; compare groups of runs with rliable (IQM, bootstrap CIs, "
        "probability of improvement).",
    )
    p.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders to evaluate, or pretrained:NAME for a shipped agent",
    )
    p.add_argument(
        "--episodes", type=positive_int, default=50, metavar="N", help="episodes per split (50)"
    )
    p.add_argument(
        "--splits",
        nargs="+",
        metavar="SPLIT",
        help="splits to evaluate (default: train and every held-out split)",
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=GLOB",
        help="put the runs whose folder matches GLOB (path or folder name) in group NAME; "
        "repeat for several groups (default: one group per algorithm)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: RUN_DIR/transfer for one run, "
        "<common parent>/transfer-<time> for several)",
    )
    p.add_argument(
        "--seed",
        type=seed_int,
        default=EVAL_SEED,
        help=f"seed of the episode seeds ({EVAL_SEED}, as agents.train's final report)",
    )
    p.add_argument(
        "--workers",
        type=worker_count,
        default=default_workers(),
        metavar="N",
        help=f"worker processes for episodes (default {default_workers()}); envs with a "
        "native batch (vector_entry_point) run a split's episodes side by side in this "
        "process instead (the scripted expert's still use the workers)",
    )
    p.add_argument(
        "--reps", type=positive_int, default=2000, help="bootstrap replicates across runs (2000)"
    )
    p.add_argument(
        "--improvement-reps",
        type=positive_int,
        default=500,
        metavar="N",
        help="bootstrap replicates for probability of improvement (500)",
    )
    p.add_argument(
        "--stochastic", action="store_true", help="sample actions instead of the greedy action"
    )
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="evaluate each run's latest checkpoint instead of its final model",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--map",
        nargs=2,
        metavar=("X", "Y"),
        help="also write each run's transfer map over scenario parameters X and Y "
        "(map.json, map.png: agents.probe's default grid; per cell --episodes, at most 10)",
    )
    return p


def _groups(runs: Sequence[Any], specs: Sequence[str]) -> dict[str, list[int]]:
    """Group name -> indices of its runs."""
    if not specs:
        out: dict[str, list[int]] = {}
        for i, run in enumerate(runs):
            out.setdefault(run.algo, []).append(i)
        return out
    patterns: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, pattern = spec.partition("=")
        if not sep or not name or not pattern:
            raise InputError(f"--group must look like NAME=GLOB, got {spec!r}")
        patterns.setdefault(name, []).append(pattern)
    out = {name: [] for name in patterns}
    for i, run in enumerate(runs):
        candidates = {str(run.path), str(Path(run.path).resolve()), Path(run.path).name}
        hits = [
            name
            for name, pats in patterns.items()
            if any(fnmatch.fnmatch(c, p) for c in candidates for p in pats)
        ]
        if len(hits) != 1:
            where = "no --group" if not hits else f"several groups {hits}"
            raise InputError(f"run {run.path} matches {where}; each run needs exactly one")
        out[hits[0]].append(i)
    empty = [name for name, idx in out.items() if not idx]
    if empty:
        raise InputError(f"--group {empty[0]!r} matches none of the given runs")
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^\w.=+-]+", "_", name) or "_"


def _out_dir(runs: Sequence[Any], out: Path | None) -> Path:
    if out is not None:
        return out
    from agents import pretrained

    if any(pretrained.is_reference(r.path) for r in runs):  # never write into the installed package
        label = "-".join(Path(r.path).name for r in runs)
        return Path("runs") / "pretrained" / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    if len(runs) == 1:
        return Path(runs[0].path) / "transfer"
    parent = Path(os.path.commonpath([str(Path(r.path).resolve()) for r in runs]))
    return parent / f"transfer-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_out(out: Path) -> None:
    """Checks the report folder can be made before any episode runs (nothing is kept)."""
    check_writable_folder(out, keep=False)


def _prepare(args: argparse.Namespace) -> tuple[list[Any], list[Any], dict[str, list[int]]]:
    """Loads and checks every run before any episode runs; raises InputError."""
    from agents.runs import load_policy, load_run

    try:
        runs = [load_run(d) for d in args.run_dirs]
    except ValueError as err:
        raise InputError(str(err)) from None
    names = sorted({r.env for r in runs})
    if len(names) > 1:
        raise InputError(f"runs are from different envs {names}; evaluate one env at a time")
    groups = _groups(runs, args.group)
    policies = []
    for run in runs:
        try:
            policy = load_policy(run.path, checkpoint=args.checkpoint)
        except Exception as err:  # a corrupt model.zip raises whatever its unpickler does
            raise InputError(
                f"{run.path}: cannot load its model ({type(err).__name__}: {err})"
            ) from None
        try:
            check_inputs(policy, run.env, args.splits, args.episodes, run.env_kwargs)
        except ValueError as err:
            raise InputError(f"{run.path}: {err}") from None
        policies.append(policy)
    if args.map is not None:
        _check_map_axes(runs[0], args.map)
    return runs, policies, groups


# --------------------------------------------------------------------- --map (agents.probe)

MAP_EPISODES = 10


def _check_map_axes(run: Any, axes: Sequence[str]) -> None:
    """Checks ``--map X Y`` against the runs' scenario space; raises InputError."""
    from agents.probe import load_target
    from agents.probe.maps import check_map_inputs

    try:
        check_map_inputs(load_target(str(run.path)).space(), axes, (None, None), "train")
    except ValueError as err:
        raise InputError(f"--map: {err}") from None


def _save_map(run: Any, axes: Sequence[str], out: Path, args: argparse.Namespace) -> None:
    from agents.probe import compute_map, load_target

    target = load_target(str(run.path))
    probe = compute_map(
        target,
        axes,
        episodes=min(args.episodes, MAP_EPISODES),
        seed=args.seed,
        progress=not args.no_progress,
    )
    probe.save(out)


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Runs the evaluator CLI; returns the exit code (see :mod:`agents.cli_types`)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    runs, policies, groups = _prepare(args)
    out = _out_dir(runs, args.out)
    _check_out(out)
    several = len(runs) > 1
    reports: dict[int, TransferReport] = {}
    try:
        for i, (run, policy) in enumerate(zip(runs, policies, strict=True)):
            label = Path(run.path).name
            report = evaluate_transfer(
                policy,
                run.env,
                splits=args.splits,
                episodes=args.episodes,
                seed=args.seed,
                env_kwargs=run.env_kwargs,
                n_workers=args.workers,
                progress=not args.no_progress,
                deterministic=not args.stochastic,
                label=label,
            )
            group = next(g for g, idx in groups.items() if i in idx)
            run_out = out / _safe(group) / f"{i:02d}-{label}" if several else out
            report.save(run_out)
            if args.map is not None:
                _save_map(run, args.map, run_out, args)
            reports[i] = report
            print(f"\n## {label} ({run.env}) -> {run_out}\n\n{report.table()}")
        if several:
            summary = aggregate_runs(
                {g: [reports[i] for i in idx] for g, idx in groups.items()},
                reps=args.reps,
                improvement_reps=args.improvement_reps,
            )
            summary.save(out)
            print(f"\n## groups ({runs[0].env}) -> {out}\n\n{summary.table()}")
    except KeyboardInterrupt:
        return interrupted(PROG, "reports already saved are complete, none is half-written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
