"""Transfer table: does the best curriculum transfer better than domain randomisation?

For each env, its shipped algorithm and recipe train under ``uniform`` (domain
randomisation over ``train``) and under the best curriculum, over several seeds. Every
run is one ``agents.train`` call executed by the Ray sweep runner (``agents.sweep``:
``run_sweep``, one sweep per env, all on one Ray instance), evaluated on every split with
the transfer evaluator (same episode seeds for every run), and aggregated with rliable
(``agents.evaluation.aggregate_runs``): IQM with stratified-bootstrap 95% CIs per split,
and the probability that a run under the curriculum beats a run under ``uniform``.

The "best curriculum" is read from ``benchmarks/results/curriculum.json`` (the
curriculum benchmark, ``python -m benchmarks.curriculum``): the non-uniform method with
the highest mean final success on its held-out evaluation set. It uses the scheduler's
default options here.

    python -m benchmarks.transfer --quick   # point, dialogue, driving, robot-reach; 2048 steps
    python -m benchmarks.transfer --full    # every built-in env at its recipe budget (hours)

``--full`` also compares, on driving from pixels (``birdseye``), a policy on a pretrained
and frozen perception CNN (``agents.perception``, the modular route) with a CNN trained
end to end by PPO, on every split; ``heldout-visual`` is where they should differ
(:class:`PerceptionPlan`; ``--perception``/``--no-perception`` to choose).

Sweep folders (run folders, models, per-run results) go to ``--sweeps-dir``
(default ``runs/benchmarks/transfer-<mode>``); an interrupted benchmark started again
with the same settings resumes them and does not redo finished runs. The table goes to
``benchmarks/results/transfer-<mode>.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import report

FALLBACK_CURRICULUM = "learning-progress"


@dataclass(frozen=True)
class EnvPlan:
    """How one env is trained in the benchmark.

    Attributes:
        env: Env short name.
        algo: Algorithm (the env's shipped default).
        timesteps: Training budget of every run.
    """

    env: str
    algo: str
    timesteps: int


@dataclass(frozen=True)
class Plan:
    """One benchmark mode.

    Attributes:
        mode: ``quick`` or ``full``.
        envs: Per-env training plans.
        seeds: Training seeds (runs per group).
        episodes: Evaluation episodes per split and run.
        bootstrap_reps: Bootstrap replicates of the rliable CIs.
    """

    mode: str
    envs: tuple[EnvPlan, ...]
    seeds: tuple[int, ...]
    episodes: int
    bootstrap_reps: int


PLANS = {
    # 40 runs of 2048 steps: about 32 CPU-minutes of runs (measured on a shared 2-core box),
    # plus Ray start-up and evaluation.
    # robot-push (TQC + HER, 200k-step recipe) is left to --full.
    "quick": Plan(
        "quick",
        (
            EnvPlan("point", "ppo", 2048),
            EnvPlan("dialogue", "maskable-ppo", 2048),
            EnvPlan("driving", "ppo", 2048),
            EnvPlan("robot-reach", "sac", 2048),
        ),
        seeds=(0, 1, 2, 3, 4),
        episodes=10,
        bootstrap_reps=1000,
    ),
    # The headline: every built-in env at its recipe budget (agents/hyperparams).
    "full": Plan(
        "full",
        (
            EnvPlan("driving", "ppo", 120_000),
            EnvPlan("dialogue", "maskable-ppo", 60_000),
            EnvPlan("robot-reach", "sac", 20_000),
            EnvPlan("robot-push", "tqc", 200_000),
        ),
        seeds=(0, 1, 2, 3, 4),
        episodes=30,
        bootstrap_reps=2000,
    ),
}


@dataclass(frozen=True)
class PerceptionPlan:
    """Driving from pixels: a pretrained perception trunk (modular) vs a CNN trained end to end.

    Both train PPO (uniform, the driving recipe) on the ``birdseye`` image observation
    with the same seeds and budget; the modular policy's CNN trunk comes from
    ``agents.perception`` (trained to regress lane/traffic labels on frames rendered
    from ``train`` only) and stays frozen. Every split is evaluated; ``heldout-visual``
    (colours, brightness, noise never practised) is the one this comparison is about.

    Attributes:
        env: Env short name.
        frames: Frames rendered for the perception dataset.
        epochs: Perception training epochs (at most; early stopping).
        timesteps: PPO budget of every run.
    """

    env: str = "driving"
    frames: int = 20_000
    epochs: int = 30
    timesteps: int = 120_000


# The sweep evaluates every run itself; the training CLI's own final evaluation is kept
# to one episode per split and no recording.
TRAIN_OVERRIDES = {"run.eval_episodes": [1], "run.eval_workers": [1], "run.record_video": [False]}


def best_curriculum(path: Path | None = None) -> tuple[str, str]:
    """The curriculum to compare with ``uniform``, and why it was chosen.

    Reads the curriculum benchmark's results: the non-uniform method with the highest
    mean final success on held-out evaluation sets (ties: higher train-success AUC).
    Without those results, :data:`FALLBACK_CURRICULUM`.
    """
    path = path or report.RESULTS / "curriculum.json"
    try:
        summary = json.loads(path.read_text())["summary"]
    except (OSError, ValueError, KeyError):
        return FALLBACK_CURRICULUM, f"{path} not found or unreadable: fallback"
    scored = []
    for method, stats in summary.items():
        heldout = [v["mean"] for k, v in stats.items() if k.startswith("heldout")]
        if method == "uniform" or not heldout:
            continue
        auc = stats.get("train_auc", {}).get("mean", 0.0)
        scored.append((float(np.mean(heldout)), auc, method))
    if not scored:
        return FALLBACK_CURRICULUM, f"{path} lists no held-out results: fallback"
    heldout, _, method = max(scored)
    return method, f"highest held-out success ({heldout:.2f}) in {path.name}"


def sweep_config(plan: Plan, env: EnvPlan, curricula: list[str]) -> Any:
    """The ``agents.sweep`` config of one env's runs."""
    from agents.sweep import SweepConfig

    return SweepConfig.from_dict(
        {
            "name": f"transfer-{plan.mode}-{env.env}",
            "envs": [env.env],
            "algos": [env.algo],
            "curricula": curricula,
            "seeds": list(plan.seeds),
            "timesteps": env.timesteps,
            "set": TRAIN_OVERRIDES,
            "group_by": ["curriculum"],
            "retries": 1,
            "resources": {"num_cpus": 1, "num_gpus": 0},
            "evaluation": {
                "episodes": plan.episodes,
                "seed": 0,
                "bootstrap_reps": plan.bootstrap_reps,
            },
        }
    )


def run_env(
    plan: Plan, env: EnvPlan, curricula: list[str], sweeps_dir: Path, progress: bool
) -> dict[str, Any]:
    """Runs (or resumes) one env's sweep and aggregates its finished runs."""
    from agents.sweep import STATE, aggregate_groups, run_sweep

    config = sweep_config(plan, env, curricula)
    out = sweeps_dir / env.env
    start = time.perf_counter()
    result = run_sweep(config, out, resume=(out / STATE).exists(), progress=progress)
    if result.interrupted:
        raise KeyboardInterrupt(f"interrupted: run the same command again to resume {out}")
    wall = time.perf_counter() - start
    entry: dict[str, Any] = {
        "env": env.env,
        "algo": env.algo,
        "timesteps": env.timesteps,
        "sweep_dir": str(result.out_dir),
        "wall_s": wall,
        "runs_done": len(result.done),
        "runs_failed": [r.spec.run_id for r in result.failed],
        "run_seconds": {r.spec.run_id: r.duration_s for r in result.done},
    }
    groups = result.transfer_reports().get(env.env, {})
    if len(groups) < 1:
        entry["error"] = "no finished runs"
        return entry
    _aggregate_into(entry, aggregate_groups(groups, plan.bootstrap_reps), groups)
    return entry


def _aggregate_into(entry: dict[str, Any], aggregate: Any, groups: dict[str, list[Any]]) -> None:
    """Adds the grouped report's estimates, success rates and improvements to ``entry``."""
    entry["score_kind"] = aggregate.score_kind
    entry["splits"] = aggregate.splits
    entry["estimates"] = {
        split: {
            group: {m: e.to_dict() for m, e in metrics.items()}
            for group, metrics in aggregate.estimates[split].items()
        }
        for split in aggregate.splits
    }
    entry["success"] = {
        group: {
            split: float(np.mean([r.summary()[split]["success"].value for r in reports]))
            for split in reports[0].splits
        }
        for group, reports in groups.items()
    }
    entry["improvements"] = [
        {"x": i.x, "y": i.y, "tasks": i.tasks, **i.estimate.to_dict()}
        for i in aggregate.improvements
    ]
    entry["improvements_vs_baseline"] = _against_baseline(entry)


def train_with_perception(model_dir: str, argv: list[str]) -> int:
    """``agents.train`` with the pretrained perception trunk: the modular runs' ``train_fn``.

    A resumed attempt (``--resume``) keeps the perception model its config saved.
    """
    from agents import train

    if "--resume" in argv:
        return train.main(argv)
    return train.main([*argv, "--perception", model_dir])


def perception_model(plan: PerceptionPlan, folder: Path, progress: bool) -> Path:
    """Renders the dataset and trains the perception CNN (kept in ``folder`` for reuse)."""
    from agents.perception.cli import main as perception

    data, model = folder / "data", folder / "model"
    quiet = [] if progress else ["--no-progress"]
    if not (model / "done").is_file():
        if not (data / "done").is_file():
            argv = ["collect", "--env", plan.env, "--frames", str(plan.frames), "--out", str(data)]
            if perception([*argv, "--overwrite", *quiet]) != 0:
                raise RuntimeError(f"perception data collection failed ({data})")
            (data / "done").write_text("")
        argv = ["train", "--data", str(data), "--out", str(model), "--epochs", str(plan.epochs)]
        if perception([*argv, "--augment", "--overwrite", *quiet]) != 0:
            raise RuntimeError(f"perception training failed ({model})")
        (model / "done").write_text("")
    return model


def run_perception(
    plan: Plan, perception: PerceptionPlan, sweeps_dir: Path, progress: bool
) -> dict[str, Any]:
    """Modular (pretrained, frozen trunk) vs end-to-end CNN on driving from pixels."""
    from agents.sweep import STATE, SweepConfig, aggregate_groups, run_sweep

    folder = sweeps_dir / f"{perception.env}-perception"
    start = time.perf_counter()
    model = perception_model(perception, folder, progress)
    env = EnvPlan(perception.env, "ppo", perception.timesteps)
    reports: dict[str, list[Any]] = {}
    entry: dict[str, Any] = {
        "env": f"{env.env} (birdseye)",
        "algo": "ppo",
        "timesteps": env.timesteps,
        "perception_model": str(model),
        "runs_done": 0,
        "runs_failed": [],
        "run_seconds": {},
    }
    for group, train_fn in (
        ("modular", functools.partial(train_with_perception, str(model))),
        ("end-to-end", None),
    ):
        base = sweep_config(plan, env, ["uniform"]).to_dict()
        base["name"] = f"transfer-{plan.mode}-{env.env}-{group}"
        base["set"] = {**base["set"], "run.env_kwargs": [{"obs_type": "birdseye"}]}
        config = SweepConfig.from_dict(base)
        out = folder / group
        result = run_sweep(
            config, out, resume=(out / STATE).exists(), progress=progress, train_fn=train_fn
        )
        if result.interrupted:
            raise KeyboardInterrupt(f"interrupted: run the same command again to resume {out}")
        entry["runs_done"] += len(result.done)
        entry["runs_failed"] += [r.spec.run_id for r in result.failed]
        entry["run_seconds"].update({r.spec.run_id: r.duration_s for r in result.done})
        found = result.transfer_reports().get(env.env, {})
        reports[group] = [r for runs in found.values() for r in runs]
    entry["wall_s"] = time.perf_counter() - start
    if not all(reports.values()):
        entry["error"] = "a group has no finished runs"
        return entry
    _aggregate_into(entry, aggregate_groups(reports, plan.bootstrap_reps), reports)
    return entry


def _est(d: dict[str, float | None]) -> str:
    if d["value"] is None:
        return "—"
    if d["low"] is None or d["high"] is None:
        return f"{d['value']:.2f}"
    return f"{d['value']:.2f} [{d['low']:.2f}, {d['high']:.2f}]"


def _against_baseline(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Probabilities of improvement with the baseline (``uniform``) always as ``Y``.

    rliable's probability of improvement counts ties as one half, so
    ``P(Y > X) = 1 - P(X > Y)`` and the interval flips with it.
    """
    out = []
    for imp in entry["improvements"]:
        if str(imp["x"]).split("=")[-1] == "uniform":
            flip = {"value": imp["value"], "low": imp["high"], "high": imp["low"]}
            flip = {k: None if v is None else 1.0 - v for k, v in flip.items()}
            imp = {**imp, "x": imp["y"], "y": imp["x"], **flip}
        out.append(imp)
    return out


def tables(entries: list[dict[str, Any]]) -> str:
    """Markdown: per env, IQM [95% CI] and mean success per split and group; P(improvement)."""
    parts = []
    for entry in entries:
        head = (
            f"### {entry['env']} ({entry['algo']}, {entry['timesteps']} steps, "
            f"{entry['runs_done']} runs done"
            + (f", failed: {', '.join(entry['runs_failed'])}" if entry["runs_failed"] else "")
            + ")"
        )
        if "estimates" not in entry:
            parts.append(f"{head}\n\nNot measured: {entry.get('error')}.")
            continue
        rows = []
        for split in entry["splits"]:
            for group, metrics in entry["estimates"][split].items():
                success = entry["success"][group].get(split)
                rows.append(
                    [
                        split,
                        group,
                        _est(metrics["IQM"]),
                        _est(metrics["mean"]),
                        "—" if success is None else f"{success:.2f}",
                    ]
                )
        kind = entry["score_kind"]
        table = report.markdown_table(
            ["split", "group", f"IQM {kind} [95% CI]", f"mean {kind} [95% CI]", "success"], rows
        )
        imps = [[i["x"], i["y"], i["tasks"], _est(i)] for i in _against_baseline(entry)]
        if imps:
            table += "\n\n" + report.markdown_table(["X", "Y", "compared on", "P(X > Y)"], imps)
        parts.append(f"{head}\n\n{table}")
    return "\n\n".join(parts)


def _pairs(est: list[dict[str, Any]], values: np.ndarray) -> list[tuple[dict[str, Any], float]]:
    return list(zip(est, values.tolist(), strict=True))


def chart(path: Path, entries: list[dict[str, Any]], title: str) -> None:
    """IQM with 95% CIs per env, split and curriculum (one panel per env)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [e for e in entries if "estimates" in e]
    if not shown:
        return
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.8), squeeze=False)
    for ax, entry in zip(axes[0], shown, strict=True):
        splits = entry["splits"]
        groups = list(entry["estimates"][splits[0]])
        width = 0.8 / len(groups)
        for k, group in enumerate(groups):
            est = [entry["estimates"][s][group]["IQM"] for s in splits]
            values = np.array([np.nan if e["value"] is None else e["value"] for e in est])
            low = np.array([v if e["low"] is None else e["low"] for e, v in _pairs(est, values)])
            high = np.array([v if e["high"] is None else e["high"] for e, v in _pairs(est, values)])
            x = np.arange(len(splits)) + (k - (len(groups) - 1) / 2) * width
            ax.bar(x, values, width, label=group)
            ax.errorbar(x, values, yerr=[values - low, high - values], fmt="none", ecolor="k")
        ax.set_xticks(np.arange(len(splits)), splits, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{entry['env']} ({entry['algo']})", fontsize=10)
        ax.set_ylabel(f"IQM {entry['score_kind']} (95% CI)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    plan: Plan,
    curricula: list[str],
    why: str,
    sweeps_dir: Path,
    out: Path | None,
    num_cpus: int | None,
    progress: bool,
    perception: PerceptionPlan | None = None,
) -> dict[str, Any]:
    """Runs every env's sweep on one local Ray and writes the transfer table.

    With ``perception``, also the modular vs end-to-end comparison on driving from pixels.
    """
    from agents.sweep import _import_ray

    ray = _import_ray()
    load_start = report.load_average()
    start = time.perf_counter()
    started = False
    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        started = True
    try:
        entries = [run_env(plan, env, curricula, sweeps_dir, progress) for env in plan.envs]
        if perception is not None:
            entries.append(run_perception(plan, perception, sweeps_dir, progress))
    finally:
        if started:
            ray.shutdown()
    wall = time.perf_counter() - start
    run_total = sum(t or 0.0 for e in entries for t in e["run_seconds"].values())
    name = f"transfer-{plan.mode}"
    note = (
        f"\n\n`--{plan.mode}`: seeds {list(plan.seeds)}, {plan.episodes} evaluation episodes "
        f"per split and run (same episode seeds for every run), {plan.bootstrap_reps} bootstrap "
        f"replicates. Curricula: {', '.join(curricula)} ({why}). Every run is `agents.train` "
        f"executed by the Ray sweep runner (`agents.sweep.run_sweep`, 1 CPU per run). "
        f"Wall time {wall:.0f} s (this invocation; resumed runs are not redone); summed run "
        f"time {run_total:.0f} s; load average at start {load_start}."
    )
    table = tables(entries) + note
    data = {
        "mode": plan.mode,
        "curricula": curricula,
        "curriculum_choice": why,
        "seeds": list(plan.seeds),
        "episodes": plan.episodes,
        "bootstrap_reps": plan.bootstrap_reps,
        "wall_s": wall,
        "load_average_start": load_start,
        "perception": None if perception is None else perception.__dict__,
        "envs": entries,
    }
    path = report.write(name, data, table, out)
    chart(path.with_suffix(".png"), entries, f"Transfer, {plan.mode}: IQM per split")
    print(table)
    return data


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small budgets (default)")
    mode.add_argument("--full", action="store_true", help="recipe budgets: the headline")
    parser.add_argument(
        "--envs", nargs="*", metavar="ENV", help="only these envs of the plan (none: no env)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="training seeds (>= 5 advised)")
    parser.add_argument("--timesteps", type=int, help="training budget of every run")
    parser.add_argument("--episodes", type=int, help="evaluation episodes per split and run")
    parser.add_argument("--bootstrap-reps", type=int, help="bootstrap replicates")
    parser.add_argument(
        "--curriculum", help="compare uniform with this curriculum instead of the best one"
    )
    parser.add_argument(
        "--perception",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also compare a pretrained perception trunk with an end-to-end CNN on driving "
        "from pixels (default: on with --full, off with --quick)",
    )
    parser.add_argument("--perception-frames", type=int, help="frames of the perception dataset")
    parser.add_argument("--perception-epochs", type=int, help="perception training epochs")
    parser.add_argument("--perception-timesteps", type=int, help="PPO budget of pixel runs")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray")
    parser.add_argument(
        "--sweeps-dir", type=Path, help="sweep folders (default runs/benchmarks/transfer-MODE)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    plan = PLANS["full" if args.full else "quick"]
    if args.envs is not None:
        known = {e.env: e for e in plan.envs}
        unknown = [e for e in args.envs if e not in known]
        if unknown:
            parser.error(f"--envs {unknown} not in the {plan.mode} plan; valid: {list(known)}")
        plan = replace(plan, envs=tuple(known[e] for e in args.envs))
    if args.timesteps is not None:
        if args.timesteps < 1:
            parser.error("--timesteps must be >= 1")
        plan = replace(plan, envs=tuple(replace(e, timesteps=args.timesteps) for e in plan.envs))
    for key in ("seeds", "episodes", "bootstrap_reps"):
        value = getattr(args, key)
        if value is not None:
            if (min(value) if isinstance(value, list) else value) < (0 if key == "seeds" else 1):
                parser.error(f"--{key.replace('_', '-')} got {value}")
            plan = replace(plan, **{key: tuple(value) if key == "seeds" else value})
    if args.curriculum:
        best, why = args.curriculum, "chosen with --curriculum"
    else:
        best, why = best_curriculum()
    if best == "uniform":
        parser.error("--curriculum must differ from uniform (the baseline)")
    import curricula

    if best not in curricula.SCHEDULERS:
        parser.error(f"unknown --curriculum {best!r}; valid: {sorted(curricula.SCHEDULERS)}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be >= 1, got {args.num_cpus}")
    sweeps_dir = args.sweeps_dir or Path("runs/benchmarks") / f"transfer-{plan.mode}"
    perception = None
    if args.perception or (args.perception is None and plan.mode == "full"):
        perception = PerceptionPlan()
        for key in ("frames", "epochs", "timesteps"):
            value = getattr(args, f"perception_{key}")
            if value is not None:
                if value < 1:
                    parser.error(f"--perception-{key} must be >= 1, got {value}")
                perception = replace(perception, **{key: value})
    run(
        plan,
        ["uniform", best],
        why,
        sweeps_dir,
        args.out,
        args.num_cpus,
        not args.no_progress,
        perception,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
