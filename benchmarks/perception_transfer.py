"""Perception that survives unseen visuals: the augmentation ablation and the policy check.

Part 1, ``--part ablation``: the driving perception CNN trained on frames of ``train``
with no augmentation, with each augmentation family of :mod:`agents.perception.augment`,
with all of them, with all of them plus ``frame-norm`` preprocessing, and with all of them
on randomised collection (``collect --randomise visual``): per-label MAE/R² on fresh
``train`` and ``heldout-visual`` frames, for every training seed. A *ceiling* (the same
CNN trained on ``heldout-visual`` frames) shows how much each label the held-out frames
still carry; it is reported only, never shipped, never used to choose.

Part 2, ``--part policy``: PPO on the ``birdseye`` observation (the shipped driving
recipe of ``agents/hyperparams/ppo.yaml``, batched env) with the chosen perception
recipe's trunk frozen (modular) vs a CNN trained end to end, equal budget and seeds,
evaluated on every split with the same episode seeds.

Part 2b, ``--part rad``: the augmentations inside end-to-end PPO (``agents.train
--augment``, RAD-style: gradient updates see augmented frames, rollouts plain ones):
end-to-end with the ablation's chosen recipe vs end-to-end without, same budget, seeds
and episode seeds as part 2; its own results ``perception-rad.{json,md}``.

Part 3, ``--part robot``: the same ablation (every family alone and all of them, the
ceiling, the same selection rule) on ``robot-push`` camera frames, labels the cube,
target and end-effector positions; under ``--work``/robot, its own section of the report.
``--part report`` keeps the driving sections as they are when ``--work`` has no driving
runs (see :func:`write_report`).

Everything below the "declared" banners was fixed before any result was seen. Results go
to ``benchmarks/results/perception-transfer.{json,md}`` and ``perception-transfer*.png``.
Every finished run is kept under ``--work`` and skipped when the script runs again.

    python -m benchmarks.perception_transfer --part ablation --workers 2
    python -m benchmarks.perception_transfer --part policy
    python -m benchmarks.perception_transfer --part rad
    python -m benchmarks.perception_transfer --part robot --workers 1
    python -m benchmarks.perception_transfer --part report
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# ============================================================================ declared

ENV = "driving"
LABELS_OCCUPANCY = ("left_lane_occupied", "right_lane_occupied")


@dataclass(frozen=True)
class Budget:
    """Sizes of the ablation, fixed from timed trainings before any result.

    Planned at 10,000 frames x 10 epochs from one timed training (8,000 x 8 in 48 s). On
    the shared machine (load average ~8, others at nice 0, ours at nice 10) a worker got
    ~17% of a core, so that plan would have taken over two hours; cut to 6,000 frames x
    6 epochs (2.5x less) before any run had finished.
    """

    frames: int = 6_000  # training frames of every dataset (train, randomised, ceiling)
    epochs: int = 6  # every run trains exactly this many epochs (no early stop)
    batch_size: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds (data are the same for all)
    data_seed: int = 0
    eval_frames: int = 2_000  # fresh frames per evaluation set
    # One frame every 5 steps: the 64 worlds' 2,000 frames then span ~156 steps each (a
    # whole episode), not only the straight, centred lead-in of the first 31 steps.
    eval_every: int = 5
    eval_seed: int = 1_000_003  # as `agents.perception eval`
    select_seed: int = 2_000_003  # the selection set (see SELECTION_RULE)


@dataclass(frozen=True)
class Recipe:
    """One ablation configuration: augmentation spec, preprocessing, training data."""

    augment: str = "none"
    preprocess: str = "none"
    data: str = "train"  # "train", "randomised" (train, --randomise visual), "heldout-visual"


CONFIGS: dict[str, Recipe] = {
    "none": Recipe(),
    "shift": Recipe("shift"),
    "randconv": Recipe("randconv"),
    "colour": Recipe("colour"),
    "channels": Recipe("channels"),
    "blur-noise": Recipe("blur-noise"),
    "all": Recipe("all"),
    "all+frame-norm": Recipe("all", "frame-norm"),
    "all+randomised": Recipe("all", data="randomised"),
}
CEILING = "ceiling (trained on heldout-visual)"
CEILING_RECIPE = Recipe(data="heldout-visual")

SELECTION_RULE = (
    "The shipped recipe is the configuration with the lowest selection score: the mean over "
    "labels and seeds of MAE(config) / MAE(none) on the selection set, fresh frames of the "
    "randomised train-side distribution (`collect --randomise visual`: train's colours, "
    "contrast/brightness/noise/blur widened away from the held-out values, never reaching "
    "them), seed 2,000,003. Ties within 0.02 go to the configuration listed first (fewer "
    "moving parts). heldout-visual and the ceiling are never looked at. Known bias: "
    "all+randomised trained on that distribution, so its selection score is in-distribution."
)


@dataclass(frozen=True)
class PolicyBudget:
    """The modular vs end-to-end PPO comparison: same budget, seeds and episode seeds.

    Planned at 120,000 steps (the last round's budget, transfer-full-perception) from one
    8,192-step end-to-end run timed at ~500 steps/s; under the shared machine's load
    (load average ~8) the first end-to-end run trained at ~80 steps/s, so 6 runs of 120k
    would not fit. Cut to 60,000 steps for both groups after that timing and before any
    evaluation result existed.
    """

    timesteps: int = 60_000
    seeds: tuple[int, ...] = (0, 1, 2)
    episodes: int = 50  # per split, every split, same episode seeds for every run
    # The trunk: the ablation model of this seed for the recipe SELECTION_RULE picks on
    # this seed's runs alone (so PPO can start while the other seeds train). If the rule
    # over all seeds picks another recipe, the report says so.
    perception_seed: int = 0


BUDGET = Budget()
POLICY = PolicyBudget()

# Part 2b, declared 2026-12-02 before any run of it: the end-to-end CNN of part 2 trained
# with `agents.train --augment` set to the recipe the driving ablation's rule chose
# (`agents.perception.training.RECIPE_AUGMENT`, "colour"), against the same CNN without,
# both run here (POLICY's budget, seeds and 50 episodes per split). Reported: success per
# split and the probability that augmented beats plain on heldout-visual and on train
# (stratified-bootstrap 95% CI over runs); the question is whether augmentation lifts
# heldout-visual success, whatever the answer.
RAD_GROUPS = ("end-to-end", "end-to-end+augment")

# ---------------------------------------------------------------- declared: robot part

ROBOT_ENV = "robot-push"


@dataclass(frozen=True)
class RobotBudget(Budget):
    """The robot part's sizes (``--part robot``), fixed from one timed collection and one
    timed training before any robot result.

    Timed on the shared 2-core machine (nice 5, torch 1 thread, the other core busy):
    collecting 300 robot-push frames took 8.7 CPU-s on ``train`` and 7.7 on the
    randomised train side (~37 frames per CPU-second, start-up included); 300
    ``heldout-visual`` frames at one every 2 steps 8.7 CPU-s (34 episodes instead of 16
    at every step, for ~10% more). Training on 270 frames for 2 epochs took 0.37 s
    without augmentation and 0.86 s with ``all`` (~1,450 and ~630 frame-epochs per
    second). Estimate: 4,000 + 4,000 training frames (train, ceiling) and 3 x 1,000
    evaluation frames = 11,000 frames, ~5 CPU-min; 8 trainings x 3 seeds of 32,000
    frame-epochs at ~20-50 s each, ~16 CPU-min; ~21 CPU-min in all, under the ~35 CPU-min
    allowed for the robot part even 1.5x slower.
    """

    frames: int = 4_000  # training frames of each dataset (train, ceiling)
    epochs: int = 8
    batch_size: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    data_seed: int = 0
    eval_frames: int = 1_000
    # Robot-push episodes of the noisy expert last ~16-19 steps: one frame every 2 steps
    # gives ~60 episodes (scenarios: light, colours, camera pose) per evaluation set.
    eval_every: int = 2
    eval_seed: int = 1_000_003
    select_seed: int = 2_000_003


# Every augmentation family alone, and all of them: the driving list without the two
# variants (frame-norm, randomised collection) that driving did not choose. `colour` is
# the recipe the driving rule chose; listed in the driving order (ties go to the first).
ROBOT_CONFIGS: dict[str, Recipe] = {
    name: CONFIGS[name]
    for name in ("none", "shift", "randconv", "colour", "channels", "blur-noise", "all")
}
ROBOT_CEILING = Recipe(data="heldout-visual")  # reported only, never used to choose

ROBOT_SELECTION_RULE = (
    "The same rule as driving: the robot recipe is the configuration with the lowest "
    "selection score, the mean over labels and seeds of MAE(config) / MAE(none) on the "
    "selection set: fresh robot-push frames of the randomised train-side distribution "
    "(`collect --randomise visual`: train's table, target and cube colours; light azimuth "
    "widened from train's 0-180 deg to 0-196.4 deg and camera jitter from 0-0.02 to "
    "0-0.039, short of heldout-visual's 200-340 deg and 0.04-0.08), seed 2,000,003. Ties "
    "within 0.02 go to the configuration listed first. heldout-visual and the ceiling are "
    "never looked at."
)
ROBOT_TARGETS = (
    "The driving lateral-offset target applied to every robot label (object, target and "
    "end-effector x/y/z): for the chosen recipe, heldout-visual MAE <= 2 x train MAE, or "
    "the recipe closes >= 70% of the heldout-visual MAE gap between `none` and the "
    "ceiling. Met when every label passes one of the two."
)
ROBOT_BUDGET = RobotBudget()

# ============================================================================ ablation


def _dataset(work: Path, data: str, budget: Budget, env: str = ENV) -> Path:
    """The training frames of ``data`` (``train``, ``randomised``, ``heldout-visual``)."""
    from agents.perception.data import CollectConfig, collect

    out = work / "data" / data
    if (out / "metadata.json").is_file():
        return out
    split = "train" if data == "randomised" else data
    cfg = CollectConfig(
        env=env,
        split=split,
        frames=budget.frames,
        seed=budget.data_seed,
        workers=1,
        shard_size=budget.frames,
        randomise="visual" if data == "randomised" else "none",
    )
    collect(cfg, out, overwrite=True, progress=False)
    return out


def _eval_sets(work: Path, budget: Budget, env: str = ENV) -> dict[str, Path]:
    """Fresh frames: ``train`` and ``heldout-visual`` (report), the selection set."""
    from agents.perception.data import CollectConfig, collect

    sets = {
        "train": ("train", "none", budget.eval_seed),
        "heldout-visual": ("heldout-visual", "none", budget.eval_seed),
        "selection": ("train", "visual", budget.select_seed),
    }
    out = {}
    for name, (split, randomise, seed) in sets.items():
        path = work / "eval" / name
        if not (path / "metadata.json").is_file():
            cfg = CollectConfig(
                env=env,
                split=split,
                frames=budget.eval_frames,
                seed=seed,
                workers=1,
                shard_size=budget.eval_frames,
                every=budget.eval_every,
                randomise=randomise,
            )
            collect(cfg, path, overwrite=True, progress=False)
        out[name] = path
    return out


def _train_one(
    task: tuple[str, Recipe, int, str, dict[str, str], Budget, str],
) -> dict[str, Any]:
    """Trains one configuration and seed; evaluates it on every evaluation set.

    ``task``: ``(config name, recipe, seed, data folder, evaluation folders, budget, env)``.
    """
    import torch

    torch.set_num_threads(1)
    from agents.perception.data import load_dataset
    from agents.perception.model import save_model
    from agents.perception.training import TrainConfig, label_metrics, train_on_dataset

    name, recipe, seed, data_dir, eval_dirs, budget, env = task
    cfg = TrainConfig(
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        patience=budget.epochs + 1,
        seed=seed,
        device="cpu",
        augment=recipe.augment,
        preprocess=recipe.preprocess,
    )
    data = load_dataset(data_dir)
    net, report = train_on_dataset(data, cfg, progress=False)
    result: dict[str, Any] = {
        "config": name,
        "recipe": asdict(recipe),
        "seed": seed,
        "train_seconds": report["train_seconds"],
        "best_epoch": report["best_epoch"],
        "val_metrics": report["val_metrics"],
        "eval": {},
    }
    for set_name, path in eval_dirs.items():
        ev = load_dataset(path)
        pred = net.predict_labels(ev.frames)
        result["eval"][set_name] = label_metrics(pred, ev.labels, ev.label_names)
    model_dir = Path(data_dir).parents[1] / "models" / f"{_slug(name)}-s{seed}"
    save_model(
        net,
        model_dir,
        {
            "env": env,
            "data_split": data.metadata["split"],
            "data": data.metadata["sources"],
            "label_names": data.label_names,
            "label_units": data.label_units,
            "train_config": {**asdict(cfg), "channels": list(cfg.channels)},
            "val_metrics": report["val_metrics"],
        },
    )
    result["model"] = str(model_dir)
    return result


def _slug(name: str) -> str:
    return name.split(" ")[0].replace("+", "-")


def run_ablation(
    work: Path,
    workers: int,
    budget: Budget = BUDGET,
    seeds: Sequence[int] | None = None,
    env: str = ENV,
    configs: dict[str, Recipe] | None = None,
) -> None:
    """Trains every configuration and seed (of ``seeds``, default the budget's) not yet done.

    Results go to ``work/runs``; several processes may share the work by seed.

    Args:
        work: The part's folder (data, evaluation sets, runs, models).
        workers: Parallel trainings.
        budget: Sizes (:data:`BUDGET` for driving, :data:`ROBOT_BUDGET` for the robot).
        seeds: Training seeds to run (default: the budget's).
        env: The env the frames come from.
        configs: Configurations to train, the ceiling included (default: driving's).
    """
    eval_dirs = {k: str(v) for k, v in _eval_sets(work, budget, env).items()}
    configs = configs or {**CONFIGS, CEILING: CEILING_RECIPE}
    data_dirs = {r.data: str(_dataset(work, r.data, budget, env)) for r in configs.values()}
    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    tasks = [
        (name, recipe, seed, data_dirs[recipe.data], eval_dirs, budget, env)
        for seed in seeds or budget.seeds  # seed-major: a partial result has whole seeds
        for name, recipe in configs.items()
        if not (runs / f"{_slug(name)}-s{seed}.json").is_file()
    ]
    print(f"{len(tasks)} trainings to do", flush=True)
    if workers == 1:  # in this process: no fork (safe under pytest), same results
        _save_runs(map(_train_one, tasks), runs)
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            _save_runs(pool.imap_unordered(_train_one, tasks), runs)


def _save_runs(results: Iterable[dict[str, Any]], runs: Path) -> None:
    for result in results:
        path = runs / f"{_slug(result['config'])}-s{result['seed']}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        label, metrics = next(iter(result["eval"]["heldout-visual"].items()))
        print(
            f"{result['config']} seed {result['seed']}: {result['train_seconds']:.0f} s, "
            f"heldout-visual {label} MAE {metrics['mae']:.3g}",
            flush=True,
        )


def run_robot(
    work: Path,
    workers: int,
    seeds: Sequence[int] | None = None,
    budget: Budget = ROBOT_BUDGET,
) -> None:
    """The robot part: :data:`ROBOT_CONFIGS` and the ceiling on :data:`ROBOT_ENV` frames.

    Everything goes to ``work/robot`` (finished runs are skipped). The CPU seconds of each
    call (this process and its finished children) are appended to ``work/robot/cpu.json``.
    """
    import os

    robot = work / "robot"
    robot.mkdir(parents=True, exist_ok=True)
    start = os.times()
    configs = {**ROBOT_CONFIGS, CEILING: ROBOT_CEILING}
    run_ablation(robot, workers, budget, seeds, env=ROBOT_ENV, configs=configs)
    end = os.times()
    cpu = sum(getattr(end, k) - getattr(start, k) for k in _CPU_FIELDS)
    log = robot / "cpu.json"
    calls = json.loads(log.read_text()) if log.is_file() else []
    calls.append({"seeds": list(seeds or budget.seeds), "cpu_seconds": round(cpu, 1)})
    log.write_text(json.dumps(calls, indent=1) + "\n")
    print(f"robot part: {cpu:.0f} CPU-s this call", flush=True)


_CPU_FIELDS = ("user", "system", "children_user", "children_system")


def load_runs(work: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((work / "runs").glob("*.json"))]


def select_recipe(
    runs: Sequence[dict[str, Any]],
    seeds: Sequence[int] | None = None,
    configs: Sequence[str] = tuple(CONFIGS),
) -> tuple[str | None, dict[str, float]]:
    """Applies :data:`SELECTION_RULE` (selection set only); ``(name, scores)``.

    Args:
        runs: Ablation results.
        seeds: Use only these training seeds (default: every seed all configs have).
        configs: The candidates, in tie-break order (default: driving's; the robot part
            passes :data:`ROBOT_CONFIGS`, see :data:`ROBOT_SELECTION_RULE`).
    """
    if seeds is not None:
        runs = [r for r in runs if r["seed"] in seeds]
    by = _by_config(runs)
    if "none" not in by:
        return None, {}
    if any(c not in by for c in configs):
        return None, {}
    seeds = sorted(set.intersection(*(set(by[c]) for c in configs)))
    labels = list(by["none"][seeds[0]]["eval"]["selection"]) if seeds else []
    scores: dict[str, float] = {}
    for name in configs:
        if name not in by or not seeds:
            continue
        ratios = [
            by[name][s]["eval"]["selection"][lab]["mae"]
            / by["none"][s]["eval"]["selection"][lab]["mae"]
            for s in seeds
            for lab in labels
        ]
        scores[name] = float(np.mean(ratios))
    if not scores:
        return None, {}
    best = min(scores.values())
    chosen = next(name for name in configs if name in scores and scores[name] <= best + 0.02)
    return chosen, scores


def _by_config(runs: Sequence[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(r["config"], {})[r["seed"]] = r
    return out


# ============================================================================ policy


def _policy_run(
    work: Path, group: str, seed: int, model: str | None, augment: str | None = None
) -> Path | None:
    """One PPO run through ``agents.train`` (skipped when its report exists)."""
    from agents import train

    out = work / "ppo" / f"{group}-s{seed}"
    found = sorted(glob.glob(str(out / "driving" / "*" / "eval" / "report.json")))
    if found:
        return Path(found[-1])
    argv = [
        "--env",
        ENV,
        "--obs-type",
        "birdseye",
        "--timesteps",
        str(POLICY.timesteps),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--set",
        f"run.eval_episodes={POLICY.episodes}",
        "--set",
        "run.torch_threads=1",
        "--set",
        "run.eval_workers=1",
        "--set",
        "run.record_video=false",
        "--no-progress",
    ]
    if model is not None:
        argv += ["--perception", model]
    if augment is not None:
        argv += ["--augment", augment]
    start = time.perf_counter()
    code = train.main(argv)
    print(f"ppo {group} seed {seed}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
    found = sorted(glob.glob(str(out / "driving" / "*" / "eval" / "report.json")))
    return Path(found[-1]) if found else None


def policy_trunk(work: Path) -> tuple[str | None, str | None]:
    """``(recipe, model folder)`` of the modular policy's trunk (see :class:`PolicyBudget`)."""
    chosen, _ = select_recipe(load_runs(work), seeds=[POLICY.perception_seed])
    if chosen is None:
        return None, None
    return chosen, str(work / "models" / f"{_slug(chosen)}-s{POLICY.perception_seed}")


def run_policy(work: Path, groups: Sequence[str], seeds: Sequence[int] = POLICY.seeds) -> None:
    """PPO runs of ``groups`` (``end-to-end``, ``modular``) and ``seeds`` not yet done."""
    model = None
    if "modular" in groups:
        chosen, model = policy_trunk(work)
        if chosen is None:
            raise SystemExit("ablation seed 0 not complete: run --part ablation first")
        print(f"modular trunk: {chosen} ({model})", flush=True)
    for seed in seeds:
        for group in groups:
            _policy_run(work, group, seed, model if group == "modular" else None)


def run_rad(work: Path, seeds: Sequence[int] = POLICY.seeds) -> None:
    """Part 2b's PPO runs not yet done: end-to-end with and without the augmentation."""
    from agents.perception.training import RECIPE_AUGMENT

    for seed in seeds:
        for group in RAD_GROUPS:
            augment = RECIPE_AUGMENT if group.endswith("+augment") else None
            _policy_run(work, group, seed, None, augment)


# ============================================================================ report


def _fmt_cell(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "—"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {float(np.std(values, ddof=1)):.1g}"


def ablation_summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per configuration and label: MAE/R² on train and heldout-visual (mean, per seed)."""
    by = _by_config(runs)
    out: dict[str, Any] = {}
    for name, seeds in by.items():
        entry: dict[str, Any] = {"seeds": sorted(seeds), "labels": {}}
        labels = list(next(iter(seeds.values()))["eval"]["train"])
        for lab in labels:
            row = {}
            for split in ("train", "heldout-visual", "selection"):
                maes = [seeds[s]["eval"][split][lab]["mae"] for s in sorted(seeds)]
                r2s = [seeds[s]["eval"][split][lab]["r2"] for s in sorted(seeds)]
                row[split] = {
                    "mae": float(np.mean(maes)),
                    "mae_per_seed": maes,
                    "r2": float(np.mean(r2s)) if None not in r2s else None,
                    "r2_per_seed": r2s,
                }
            entry["labels"][lab] = row
        entry["train_seconds"] = [seeds[s]["train_seconds"] for s in sorted(seeds)]
        out[name] = entry
    return out


def gap_closed(summary: dict[str, Any], name: str) -> dict[str, float | None]:
    """Per label, the share of the none -> ceiling heldout-visual MAE gap ``name`` closes.

    Empty without a ceiling; ``None`` for a label where the ceiling is no better than none.
    """
    if CEILING not in summary:
        return {}
    none, ceil = summary["none"]["labels"], summary[CEILING]["labels"]
    gap: dict[str, float | None] = {}
    for lab, row in summary[name]["labels"].items():
        n = none[lab]["heldout-visual"]["mae"]
        b = row["heldout-visual"]["mae"]
        c = ceil[lab]["heldout-visual"]["mae"]
        gap[lab] = (n - b) / (n - c) if n - c > 1e-12 else None
    return gap


def targets(summary: dict[str, Any], chosen: str) -> dict[str, Any]:
    """The issue's "Done when" checks for the chosen recipe (numbers, met or not)."""
    best = summary[chosen]["labels"]
    lat = best["lateral_offset"]
    ratio = lat["heldout-visual"]["mae"] / lat["train"]["mae"]
    occ = max(best[lab]["heldout-visual"]["mae"] for lab in LABELS_OCCUPANCY)
    gap = gap_closed(summary, chosen)
    return {
        "lateral_ratio_heldout_over_train": ratio,
        "lateral_ratio_met": ratio <= 2.0,
        "occupancy_mae_heldout_max": occ,
        "occupancy_met": occ <= 0.2,
        "gap_closed_vs_ceiling": gap,
        "gap_closed_all_ge_0.7": bool(gap)
        and all(v is not None and v >= 0.7 for v in gap.values()),
    }


def robot_targets(summary: dict[str, Any], chosen: str) -> dict[str, Any]:
    """:data:`ROBOT_TARGETS` for the chosen recipe, per label and over all labels."""
    gap = gap_closed(summary, chosen)
    labels: dict[str, Any] = {}
    for lab, row in summary[chosen]["labels"].items():
        ratio = row["heldout-visual"]["mae"] / row["train"]["mae"]
        share = gap.get(lab)
        labels[lab] = {
            "ratio_heldout_over_train": ratio,
            "ratio_met": ratio <= 2.0,
            "gap_closed_vs_ceiling": share,
            "gap_met": share is not None and share >= 0.7,
        }
        labels[lab]["met"] = labels[lab]["ratio_met"] or labels[lab]["gap_met"]
    return {"labels": labels, "met_all": bool(labels) and all(v["met"] for v in labels.values())}


def policy_summary(
    work: Path,
    reps: int = 2000,
    groups: tuple[str, str] = ("modular", "end-to-end"),
    key: str = "modular_beats_e2e",
) -> dict[str, Any] | None:
    """Per group and split success and normalised score; P(first group > second).

    The probability of improvement is stored as ``p_<key>_<split>`` (heldout-visual, train).
    """
    from agents.evaluation.aggregate import probability_of_improvement
    from agents.evaluation.report import TransferReport

    reports: dict[str, list[Any]] = {}
    for group in groups:
        for seed in POLICY.seeds:
            pattern = work / "ppo" / f"{group}-s{seed}" / "driving" / "*" / "eval" / "report.json"
            found = sorted(glob.glob(str(pattern)))
            if found:
                reports.setdefault(group, []).append(TransferReport.load(found[-1]))
    if not reports:
        return None
    out: dict[str, Any] = {"runs": {g: len(r) for g, r in reports.items()}, "splits": {}}
    splits = list(next(iter(reports.values()))[0].splits)
    for split in splits:
        row = {}
        for group, reps_ in reports.items():
            success = [float(np.mean(r.splits[split].successes)) for r in reps_]
            score = [float(np.mean(r.scores(split))) for r in reps_]
            row[group] = {"success_per_run": success, "score_per_run": score}
        out["splits"][split] = row
    if len(reports) == 2 and all(len(v) >= 2 for v in reports.values()):
        rng = np.random.default_rng(0)
        for split in ("heldout-visual", "train"):
            x = np.stack([r.scores(split) for r in reports[groups[0]]])
            y = np.stack([r.scores(split) for r in reports[groups[1]]])
            point = probability_of_improvement(x, y)
            boot = [
                probability_of_improvement(
                    x[rng.integers(len(x), size=len(x))], y[rng.integers(len(y), size=len(y))]
                )
                for _ in range(reps)
            ]
            out[f"p_{key}_{split}"] = {
                "point": point,
                "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            }
    return out


def frames_grid(work: Path, out: Path) -> None:
    """PNG: train, randomised and heldout-visual frames, and each family on train frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from agents.perception.augment import FAMILIES, Augmenter
    from agents.perception.data import load_dataset
    from agents.perception.model import frames_to_tensor

    rows: list[tuple[str, np.ndarray]] = []
    for name, path in (
        ("train", work / "eval" / "train"),
        ("randomised", work / "eval" / "selection"),
        ("heldout-visual", work / "eval" / "heldout-visual"),
    ):
        data = load_dataset(path)
        rows.append((name, data.frames[:: len(data.frames) // 8][:8]))
    base = rows[0][1]
    for family in FAMILIES:
        aug = Augmenter(family, base.shape[1:3])
        x = aug(frames_to_tensor(base), torch.Generator().manual_seed(1))
        rows.append((f"train + {family}", (x.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)))
    fig, axes = plt.subplots(len(rows), 8, figsize=(8 * 1.1, len(rows) * 1.2))
    for i, (name, imgs) in enumerate(rows):
        for j in range(8):
            ax = axes[i, j]
            ax.imshow(imgs[j], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _driving_payload(work: Path) -> dict[str, Any]:
    """The driving sections' data, from the runs under ``work``."""
    runs = load_runs(work)
    summary = ablation_summary(runs)
    chosen, scores = select_recipe(runs)
    checks = targets(summary, chosen) if chosen else {}
    policy = policy_summary(work)
    data_meta = {
        name: json.loads((work / "data" / name / "metadata.json").read_text())
        for name in ("train", "randomised", "heldout-visual")
        if (work / "data" / name / "metadata.json").is_file()
    }
    trunk, _ = policy_trunk(work)
    return {
        "policy_trunk": trunk,
        "budget": asdict(BUDGET),
        "policy_budget": asdict(POLICY),
        "configs": {k: asdict(v) for k, v in {**CONFIGS, CEILING: CEILING_RECIPE}.items()},
        "selection_rule": SELECTION_RULE,
        "selection_scores": scores,
        "chosen": chosen,
        "targets": checks,
        "ablation": summary,
        "policy": policy,
        "datasets": {
            k: {kk: m.get(kk) for kk in ("split", "randomise", "distribution", "visual_seen")}
            for k, m in data_meta.items()
        },
    }


def _robot_payload(robot: Path) -> dict[str, Any]:
    """The robot section's data, from the runs under ``robot`` (``--work``/robot)."""
    runs = load_runs(robot)
    summary = ablation_summary(runs)
    chosen, scores = select_recipe(runs, configs=tuple(ROBOT_CONFIGS))
    metas = {
        name: robot / sub / name / "metadata.json"
        for sub, name in (("data", "train"), ("data", "heldout-visual"), ("eval", "selection"))
    }
    cpu = robot / "cpu.json"
    return {
        "env": ROBOT_ENV,
        "budget": asdict(ROBOT_BUDGET),
        "configs": {k: asdict(v) for k, v in {**ROBOT_CONFIGS, CEILING: ROBOT_CEILING}.items()},
        "selection_rule": ROBOT_SELECTION_RULE,
        "selection_scores": scores,
        "chosen": chosen,
        "targets_rule": ROBOT_TARGETS,
        "targets": robot_targets(summary, chosen) if chosen else {},
        "ablation": summary,
        "cpu_calls": json.loads(cpu.read_text()) if cpu.is_file() else [],
        "label_stats": _label_stats(robot),
        "datasets": {
            k: {kk: m.get(kk) for kk in ("split", "randomise", "distribution", "visual_seen")}
            for k, m in (
                (k, json.loads(path.read_text())) for k, path in metas.items() if path.is_file()
            )
        },
    }


def _label_stats(work: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Per dataset (training data, evaluation sets) and label: min, max and sd."""
    from agents.perception.data import load_dataset

    out: dict[str, dict[str, dict[str, float]]] = {}
    for sub in ("data", "eval"):
        for name in ("train", "heldout-visual"):
            if not (work / sub / name / "metadata.json").is_file():
                continue
            data = load_dataset(work / sub / name)
            out[f"{sub}/{name}"] = {
                lab: {
                    "min": float(col.min()),
                    "max": float(col.max()),
                    "sd": float(col.std()),
                }
                for lab, col in zip(data.label_names, data.labels.T, strict=True)
            }
    return out


_META_KEYS = ("benchmark", "date", "machine", "python", "load_average", "versions")
_CARRIED_NOTE = "> Driving sections carried over"
_ROBOT_HEADING = "## Robot perception"


def _carried_driving(results: Path) -> tuple[dict[str, Any], str]:
    """The driving data and markdown of the results already written, unchanged.

    For a ``--work`` without the driving runs: the numbers are kept as they are (never
    recomputed); the robot section they may already have is dropped (rewritten after).
    """
    path, md_path = results / "perception-transfer.json", results / "perception-transfer.md"
    if not path.is_file() or not md_path.is_file():
        return {}, ""
    old = json.loads(path.read_text())
    measured = old.get("driving_measured") or {k: old.get(k) for k in _META_KEYS[1:]}
    payload = {k: v for k, v in old.items() if k not in (*_META_KEYS, "robot")}
    payload["driving_measured"] = measured
    body = md_path.read_text().split("\n\n", 2)[2]  # after the title and the machine lines
    body = body.split(f"\n{_ROBOT_HEADING}", 1)[0]
    if body.startswith(_CARRIED_NOTE):
        body = body.split("\n\n", 1)[1]
    note = (
        f"{_CARRIED_NOTE} unchanged from the results measured {measured['date']} "
        f"(load average {measured['load_average']}): their run folder is not under this "
        "`--work`. The robot section was measured when this file was written."
    )
    return payload, f"{note}\n\n{body.rstrip()}\n"


def write_report(work: Path, out: Path | None = None) -> Path:
    """Writes ``perception-transfer.{json,md}`` (and the frames PNGs) under ``out``.

    Driving sections from ``work``'s runs, or carried over unchanged from the results
    already in ``out`` when ``work`` has no driving runs; the robot section from
    ``work/robot`` when it has runs.
    """
    from benchmarks import report

    results = out or report.RESULTS
    results.mkdir(parents=True, exist_ok=True)
    if load_runs(work):
        payload = _driving_payload(work)
        text = _markdown(payload)
        frames_grid(work, results / "perception-transfer-frames.png")
    else:
        payload, text = _carried_driving(results)
    robot = work / "robot"
    if load_runs(robot):
        payload["robot"] = _robot_payload(robot)
        text = text.rstrip() + "\n\n" + _robot_markdown(payload["robot"])
        frames_grid(robot, results / "perception-transfer-robot-frames.png")
    return report.write("perception-transfer", payload, text.rstrip(), results)


def write_rad_report(work: Path, out: Path | None = None) -> Path | None:
    """Writes part 2b's ``perception-rad.{json,md}``; None before any of its runs finished."""
    from agents.perception.training import RECIPE_AUGMENT
    from benchmarks import report

    summary = policy_summary(work, groups=RAD_GROUPS[::-1], key="augment_beats_plain")
    if summary is None:
        return None
    payload = {"augment": RECIPE_AUGMENT, "budget": asdict(POLICY), "summary": summary}
    lines = [
        "Issue 19, part 2b (declared in `benchmarks/perception_transfer.py` before it ran): "
        f"PPO end to end on `birdseye` frames, `agents.train --augment {RECIPE_AUGMENT}` "
        "(the driving ablation's chosen recipe; RAD-style, augmented gradient updates, plain "
        f"rollouts) vs no augmentation. Budget `{asdict(POLICY)}`; same episode seeds for "
        "every run. Command: `python -m benchmarks.perception_transfer --part rad`.",
        "",
        "| split | " + " | ".join(f"{g} success (per run)" for g in RAD_GROUPS) + " |",
        "|---|" + "---|" * len(RAD_GROUPS),
    ]
    for split, row in summary["splits"].items():
        cells = []
        for group in RAD_GROUPS:
            runs = row.get(group, {}).get("success_per_run", [])
            cells.append(
                f"{np.mean(runs):.2f} ({', '.join(f'{v:.2f}' for v in runs)})" if runs else "—"
            )
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    lines.append("")
    for split in ("heldout-visual", "train"):
        p = summary.get(f"p_augment_beats_plain_{split}")
        if p:
            low, high = p["ci95"]
            lines.append(
                f"- P(augmented > plain) on {split}: {p['point']:.2f} "
                f"[{low:.2f}, {high:.2f}] (normalised scores, bootstrap over runs)"
            )
    lines.append(f"- Runs: {summary['runs']}")
    return report.write("perception-rad", payload, "\n".join(lines), out or report.RESULTS)


def _mae_tables(s: dict[str, Any], order: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Markdown: per split, MAE (mean ± sd over seeds) and mean R² of each configuration."""
    lines: list[str] = []
    for split in ("train", "heldout-visual"):
        lines += [f"### {split}: MAE (mean ± sd over seeds), mean R² in brackets", ""]
        lines.append("| config | seeds | " + " | ".join(labels) + " |")
        lines.append("|---|---|" + "---|" * len(labels))
        for name in order:
            cells = []
            for lab in labels:
                e = s[name]["labels"][lab][split]
                r2 = "n/a" if e["r2"] is None else f"{e['r2']:.2f}"
                cells.append(f"{_fmt_cell(e['mae_per_seed'])} ({r2})")
            lines.append(f"| {name} | {len(s[name]['seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _selection_table(scores: dict[str, float], chosen: str | None) -> list[str]:
    if not scores:
        return []
    lines = ["| config | selection score (mean MAE / MAE of none) |", "|---|---|"]
    for name, score in scores.items():
        mark = " **(chosen)**" if name == chosen else ""
        lines.append(f"| {name}{mark} | {score:.3f} |")
    return [*lines, ""]


def _gap_table(s: dict[str, Any], configs: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Markdown, post hoc: the share of the none -> ceiling gap each configuration closes."""
    if "none" not in s or CEILING not in s:
        return []
    lines = [
        "### Post hoc, for the reader only (never used to choose)",
        "",
        "Share of the heldout-visual MAE gap between `none` and the ceiling that each "
        "configuration closes, per label (100% = as good as training on heldout-visual "
        "frames; negative = worse than no augmentation). Read it with the heldout-visual "
        "R² above: MAE also closes the gap when a model that cannot read the frames "
        "predicts the label mean (R² ≈ 0), which is not transfer.",
        "",
        "| config | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for name in [c for c in configs if c in s]:
        gap = gap_closed(s, name)
        cells = ["n/a" if gap[lab] is None else f"{gap[lab]:.0%}" for lab in labels]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _markdown(p: dict[str, Any]) -> str:
    s = p["ablation"]
    lines = [
        "Issue 19: driving perception (birdseye 64x64, 7 labels) trained on `train` frames, "
        "evaluated on fresh `train` and `heldout-visual` frames. Command: "
        "`python -m benchmarks.perception_transfer --part ablation|policy|report`.",
        "",
        f"Budget (declared in code before any result): `{p['budget']}`; every run trains "
        "exactly `epochs` epochs (no early stop), same data for every seed of a config.",
        "",
        "![frames](perception-transfer-frames.png)",
        "",
        "Rows of the picture: train frames, randomised-collection frames, heldout-visual "
        "frames, then the train frames under each augmentation family.",
        "",
    ]
    if not s:
        return "\n".join(lines)
    labels = list(next(iter(s.values()))["labels"])
    order = [c for c in [*CONFIGS, CEILING] if c in s]
    lines += _mae_tables(s, order, labels)
    lines += ["### Recipe selection", "", p["selection_rule"], ""]
    lines += _selection_table(p["selection_scores"], p["chosen"])
    t = p["targets"]
    if t:
        lines += [
            f"### Targets for the chosen recipe ({p['chosen']})",
            "",
            f"- lateral-offset MAE heldout-visual / train: "
            f"{t['lateral_ratio_heldout_over_train']:.2f} (target ≤ 2: "
            f"{'met' if t['lateral_ratio_met'] else 'missed'})",
            f"- lane-occupancy MAE on heldout-visual (worse side): "
            f"{t['occupancy_mae_heldout_max']:.3f} (target ≤ 0.2: "
            f"{'met' if t['occupancy_met'] else 'missed'})",
        ]
        if t["gap_closed_vs_ceiling"]:
            cells = ", ".join(
                f"{k} {'n/a' if v is None else f'{v:.0%}'}"
                for k, v in t["gap_closed_vs_ceiling"].items()
            )
            lines.append(
                f"- share of the none → ceiling heldout-visual MAE gap closed: {cells} "
                f"(target ≥ 70% on every label: "
                f"{'met' if t['gap_closed_all_ge_0.7'] else 'missed'})"
            )
        lines.append("")
    lines += _gap_table(s, list(CONFIGS), labels)
    pol = p["policy"]
    lines += [f"### Modular vs end-to-end PPO (birdseye), budget `{p['policy_budget']}`", ""]
    if p.get("policy_trunk"):
        same = "the same as" if p["policy_trunk"] == p["chosen"] else "NOT the same as"
        lines += [
            f"Modular trunk: `{p['policy_trunk']}` (the rule on seed 0's runs; {same} the "
            f"rule's choice over all seeds, `{p['chosen']}`), frozen; end-to-end: SB3's "
            "NatureCNN. Episodes evaluated with the same seeds for every run.",
            "",
        ]
    if not pol:
        lines += ["Not run.", ""]
    else:
        groups = list(pol["runs"])
        lines.append("| split | " + " | ".join(f"{g} success (per run)" for g in groups) + " |")
        lines.append("|---|" + "---|" * len(groups))
        for split, row in pol["splits"].items():
            cells = []
            for g in groups:
                runs = row.get(g, {}).get("success_per_run", [])
                per = ", ".join(f"{v:.2f}" for v in runs)
                cells.append(f"{np.mean(runs):.2f} ({per})" if runs else "—")
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
        lines.append("")
        for key, value in pol.items():
            if key.startswith("p_modular"):
                ci = value["ci95"]
                lines.append(
                    f"- P(modular > end-to-end), {key.rsplit('_', 1)[-1]} normalised score: "
                    f"{value['point']:.2f} [95% CI {ci[0]:.2f}, {ci[1]:.2f}] "
                    f"(runs: {pol['runs']})"
                )
        lines.append("")
    d = p["datasets"]
    if "randomised" in d:
        lines += [
            "### Randomised collection (`--randomise visual`)",
            "",
            f"Distribution: `{d['randomised']['distribution']}`.",
            "",
            f"Visual values actually rendered: `{d['randomised']['visual_seen']}`.",
            "",
        ]
    return "\n".join(lines)


def _robot_markdown(r: dict[str, Any]) -> str:
    """The robot section (``r``: the payload's ``robot`` entry)."""
    s = r["ablation"]
    cpu = sum(c["cpu_seconds"] for c in r["cpu_calls"])
    lines = [
        f"{_ROBOT_HEADING} ({r['env']})",
        "",
        f"The same ablation on {r['env']} camera frames (64x64, fixed camera with the "
        "episode's jitter, light and colours): object (cube), target and end-effector "
        "positions (m) regressed from `train` frames, evaluated on fresh `train` and "
        "`heldout-visual` frames (light from the other side, unseen table/target/cube "
        "colours, larger camera jitter). Command: "
        "`python -m benchmarks.perception_transfer --part robot` then `--part report`.",
        "",
        f"Budget (declared in code before any robot result): `{r['budget']}`; every run "
        f"trains exactly `epochs` epochs. CPU time of the robot part: {cpu / 60:.1f} min "
        f"over {len(r['cpu_calls'])} call(s) (collection and training).",
        "",
        "![robot frames](perception-transfer-robot-frames.png)",
        "",
        "Rows of the picture: train frames, randomised-collection (selection set) frames, "
        "heldout-visual frames, then the train frames under each augmentation family.",
        "",
    ]
    if not s:
        return "\n".join(lines)
    labels = list(next(iter(s.values()))["labels"])
    lines += _mae_tables(s, [c for c in [*ROBOT_CONFIGS, CEILING] if c in s], labels)
    lines += ["### Robot recipe selection", "", r["selection_rule"], ""]
    lines += _selection_table(r["selection_scores"], r["chosen"])
    if r["chosen"] is None:
        lines += ["No recipe chosen yet: some configuration has no finished run.", ""]
    t = r["targets"]
    if t:
        met = sum(v["met"] for v in t["labels"].values())
        lines += [
            f"### Robot targets for the chosen recipe ({r['chosen']})",
            "",
            r["targets_rule"],
            "",
            "| label | heldout-visual / train MAE (≤ 2) | none → ceiling gap closed (≥ 70%) "
            "| passes |",
            "|---|---|---|---|",
        ]
        for lab, v in t["labels"].items():
            share = v["gap_closed_vs_ceiling"]
            lines.append(
                f"| {lab} | {v['ratio_heldout_over_train']:.2f} | "
                f"{'n/a' if share is None else f'{share:.0%}'} | {'yes' if v['met'] else 'no'} |"
            )
        lines += [
            "",
            f"Target {'met' if t['met_all'] else 'missed'}: {met} of {len(t['labels'])} "
            "labels pass.",
            "",
        ]
    lines += _gap_table(s, list(ROBOT_CONFIGS), labels)
    stats = r.get("label_stats", {})
    if stats:
        lines += [
            "### Robot labels: spread of each dataset (m)",
            "",
            "min / max / sd of each label in the training frames (`data/`) and the "
            "evaluation frames (`eval/`). Equal columns: the same seed rendered the same "
            "states on both splits (heldout-visual only changes what they look like).",
            "",
            "| label | " + " | ".join(stats) + " |",
            "|---|" + "---|" * len(stats),
        ]
        for lab in labels:
            cells = [
                f"{v[lab]['min']:.3g} / {v[lab]['max']:.3g} / {v[lab]['sd']:.2g}"
                for v in stats.values()
            ]
            lines.append(f"| {lab} | " + " | ".join(cells) + " |")
        lines.append("")
    sel = r["datasets"].get("selection")
    if sel and sel.get("visual_seen"):
        lines += [
            "### Robot selection set (`--randomise visual`)",
            "",
            f"Visual values actually rendered: `{sel['visual_seen']}`.",
            "",
        ]
    return "\n".join(lines)


# ============================================================================ main


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one part; returns the exit status (argparse exits 2 on bad input)."""
    from agents.cli_types import nonneg_int, positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=("ablation", "policy", "rad", "robot", "report"),
        required=True,
        help="ablation: driving perception; policy: modular vs end-to-end PPO; rad: "
        "end-to-end PPO with vs without --augment; robot: the robot-push perception "
        "ablation (under WORK/robot); report: the results files",
    )
    parser.add_argument(
        "--work", type=Path, default=Path("runs/perception-transfer"), help="runs folder"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="parallel trainings (ablation)"
    )
    parser.add_argument(
        "--groups",
        nargs="+",
        default=["end-to-end", "modular"],
        choices=("end-to-end", "modular"),
        help="policy groups to run",
    )
    parser.add_argument(
        "--seeds",
        type=nonneg_int,
        nargs="+",
        default=None,
        help="seeds to run (ablation, robot: training seeds; policy: PPO seeds; default: all)",
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part == "ablation":
        run_ablation(args.work, args.workers, seeds=args.seeds)
    elif args.part == "robot":
        run_robot(args.work, args.workers, args.seeds)
    elif args.part == "policy":
        run_policy(args.work, args.groups, args.seeds or POLICY.seeds)
    elif args.part == "rad":
        run_rad(args.work, args.seeds or POLICY.seeds)
        print(f"wrote {write_rad_report(args.work)}")
    else:
        print(f"wrote {write_report(args.work)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
