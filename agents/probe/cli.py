"""``python -m agents.probe``: transfer maps and adversarial search over a scenario space.

Examples::

    python -m agents.probe runs/driving/ppo-0-... map --axes curvature friction
    python -m agents.probe runs/driving/ppo-0-... adversarial --budget 500 --method tpe
    python -m agents.probe expert --env dialogue map --axes ser patience --grid 10x10

``map`` writes ``map.json`` and ``map.png``; ``adversarial`` writes ``failures.json``
(replay one with ``python -m agents.enjoy RUN --scenario failures.json#3``), ``search.json``
(every trial of the search and of random sampling at the same budget) and ``worst.gif``
(``worst.txt`` for text envs) with the three worst failures. Bad input (unknown axis, a
categorical axis with a grid size, budget < 1, a run folder without a model, ...) exits
with code 2 and one line naming the valid choices; nothing is written then.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.cli_types import UsageError, cli_main, positive_int
from agents.evaluation.rollout import BASELINES
from agents.probe.maps import ALL, check_map_inputs, compute_map
from agents.probe.search import DEFAULT_BATCH, SearchResult, calibrate, replay, save_failures
from agents.probe.search import search as run_search
from agents.probe.target import Target, load_target
from curricula.adversarial import BOUNDS, METHODS

__all__ = ["build_parser", "main", "parse_grid"]

PROG = "python -m agents.probe"
WORST = 3  # failures recorded in worst.gif
MAX_FRAMES = 300  # frames kept in worst.gif (evenly thinned beyond)


def parse_grid(text: str) -> tuple[int, int]:
    """``NxM`` (e.g. ``12x12``) as two sizes >= 2.

    >>> parse_grid("12x8")
    (12, 8)
    """
    parts = text.lower().split("x")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        sizes = ()
    if len(sizes) != 2 or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"expected NxM with N, M >= 2 (e.g. 12x12), got {text}")
    return sizes  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--help`` (and each command's) explains every flag."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", help=f"env name; required when POLICY is one of {list(BASELINES)}")
    common.add_argument("--seed", type=int, default=0, help="seed of episode seeds / sampler (0)")
    common.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: RUN_DIR/probe, or probe-<env>-<policy> for baselines)",
    )
    common.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes for envs without a native batch (envs with one, like "
        "driving, play episodes side by side in this process) (1)",
    )
    common.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    p = argparse.ArgumentParser(
        prog=PROG,
        description="Probe where in its scenario space a policy breaks: transfer maps over "
        "two parameters, and an adversarial search for failures.",
    )
    p.add_argument(
        "policy",
        metavar="RUN_OR_PRETRAINED",
        help=f"run folder of agents.train, or one of {list(BASELINES)} (with --env)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    m = sub.add_parser(
        "map",
        parents=[common],
        help="success rate and mean return on a grid over two scenario parameters",
        description="Success rate and mean return on a grid over two scenario parameters "
        "(common random numbers: every cell plays the same episode seeds); writes map.json "
        "and map.png with the train region outlined and the held-out regions marked.",
    )
    m.add_argument(
        "--axes", nargs=2, required=True, metavar=("X", "Y"), help="two scenario parameters"
    )
    m.add_argument(
        "--grid",
        type=parse_grid,
        metavar="NxM",
        help="cells per numeric axis (default 12x12; a categorical axis always has one "
        "column per choice, so its size must equal its number of choices)",
    )
    m.add_argument(
        "--episodes", type=positive_int, default=20, metavar="N", help="episodes per cell (20)"
    )
    m.add_argument(
        "--split",
        default="train",
        help=f"where the other parameters come from: a split name or {ALL!r} (train)",
    )
    a = sub.add_parser(
        "adversarial",
        parents=[common],
        help="black-box search for failing scenarios (and seeds), vs random sampling",
        description="Search the scenario space (and the episode seed) for failures with "
        "Optuna, maximising 1 - success plus the return shortfall; compare with random "
        "sampling at the same episode budget.",
    )
    a.add_argument(
        "--budget", type=positive_int, default=500, metavar="N", help="episodes per method (500)"
    )
    a.add_argument(
        "--bounds",
        choices=BOUNDS,
        default="train",
        help="train: within the train split; space: each parameter's whole range (train)",
    )
    a.add_argument("--method", choices=METHODS, default="tpe", help="the optimiser (tpe)")
    a.add_argument(
        "--batch",
        type=positive_int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"trials played side by side before the optimiser hears back ({DEFAULT_BATCH})",
    )
    a.add_argument(
        "--calibration",
        type=positive_int,
        default=16,
        metavar="N",
        help="train-split episodes that set the reference return of the shortfall (16)",
    )
    a.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip random sampling at the same budget (it doubles the episodes)",
    )
    return p


def _out_dir(args: argparse.Namespace, target: Target) -> Path:
    if args.out is not None:
        return args.out
    if target.run_dir is not None:
        return target.run_dir / "probe"
    return Path(f"probe-{target.env}-{target.label}")


def _prepare(args: argparse.Namespace) -> tuple[Target, Path]:
    """Loads and checks everything before any episode runs or any file is written."""
    from agents.evaluate import _check_out

    try:
        target = load_target(args.policy, args.env)
        if args.command == "map":
            grid = args.grid or (None, None)
            check_map_inputs(target.space(), args.axes, grid, args.split)
    except ValueError as err:
        raise UsageError(err) from None
    out = _out_dir(args, target)
    _check_out(out)  # UsageError
    return target, out


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI in-process; returns the exit code (see :mod:`agents.cli_types`)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    target, out = _prepare(args)
    if args.command == "map":
        return _map(args, target, out)
    return _adversarial(args, target, out)


def _map(args: argparse.Namespace, target: Target, out: Path) -> int:
    m = compute_map(
        target,
        args.axes,
        grid=args.grid or (None, None),
        episodes=args.episodes,
        split=args.split,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
    )
    paths = m.save(out)
    x, y = m.axes
    print(
        f"{m.env} {m.policy}: {x.name} x {y.name}, {len(x.values)}x{len(y.values)} cells x "
        f"{m.episodes} episodes; success {m.success.min():.2f}..{m.success.max():.2f} "
        f"(mean {m.success.mean():.2f})"
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _adversarial(args: argparse.Namespace, target: Target, out: Path) -> int:
    from agents.runs import atomic_write

    progress = not args.no_progress
    reference, scale = calibrate(target, args.calibration, args.seed)
    methods = [args.method]
    if args.method != "random" and not args.no_baseline:
        methods.append("random")
    results = {
        method: run_search(
            target,
            budget=args.budget,
            method=method,
            bounds=args.bounds,
            seed=args.seed,
            reference=reference,
            scale=scale,
            batch=args.batch,
            workers=args.workers,
            progress=progress,
        )
        for method in methods
    }
    main_result = results[args.method]
    out.mkdir(parents=True, exist_ok=True)
    worst = main_result.failures[:WORST]
    played = replay(target, [(t.scenario, t.seed) for t in worst], record=True)
    replays = {i: round(ret, 6) for i, (ret, _, _) in enumerate(played)}
    save_failures(out / "failures.json", target, main_result, replays)
    written = [out / "failures.json"]
    if played:
        written.append(_save_worst(out, [frames for _, _, frames in played]))
    summary = {
        "env": target.env,
        "policy": target.label,
        "budget": args.budget,
        "bounds": args.bounds,
        "calibration_episodes": args.calibration,
        "reference_return": reference,
        "return_scale": scale,
        "comparison": {m: r.summary() for m, r in results.items()},
        "searches": {m: r.to_dict() for m, r in results.items()},
    }
    import json

    atomic_write(out / "search.json", json.dumps(summary, indent=1) + "\n")
    written.append(out / "search.json")
    print(_table(results))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _table(results: dict[str, SearchResult]) -> str:
    rows = ["| method | episodes | failures | per 100 | first failure | best score |"]
    rows.append("|---|---|---|---|---|---|")
    for r in results.values():
        s = r.summary()
        rows.append(
            f"| {s['method']} | {s['episodes']} | {s['failures']} | "
            f"{s['failures_per_100']:.1f} | {s['first_failure'] or '-'} | {s['best_score']} |"
        )
    return "\n".join(rows)


def _save_worst(out: Path, episodes: list[list[Any]]) -> Path:
    """The worst failures one after another: a GIF, or a transcript for text envs."""
    from agents.artifacts import text_deltas, write_video
    from agents.runs import atomic_write

    if isinstance(episodes[0][0], str):
        parts = [
            f"=== failure {i} ===\n" + "\n".join(text_deltas(frames))
            for i, frames in enumerate(episodes)
        ]
        path = out / "worst.txt"
        atomic_write(path, "\n\n".join(parts) + "\n")
        return path
    frames = [np.asarray(f, dtype=np.uint8) for ep in episodes for f in ep]
    keep = np.linspace(0, len(frames) - 1, min(len(frames), MAX_FRAMES)).round().astype(int)
    path = out / "worst.gif"
    write_video(path, [frames[i] for i in keep], fps=10)
    return path
