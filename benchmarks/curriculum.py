"""Does a curriculum beat domain randomisation? PPO on the ``point`` env, sparse reward.

Setting (fixed before any run): the example ``point`` env (reach a goal 0.1-1.0 m away
under drag 0-0.3 and actuation noise — its ``train`` split) with its dense distance
reward replaced by a **sparse** one (+1 on reaching the goal, 0 otherwise), the standard
hard-exploration case where curricula are expected to matter. PPO (SB3 defaults except
``n_steps=256`` x 4 workers, ``batch_size=256``, ``net_arch=[64, 64]``) trains for the
same number of timesteps under each curriculum, several seeds each:

* ``uniform`` — domain randomisation over ``train`` (the baseline);
* ``stages`` — success-gated: difficulty 0, 0.25, 0.5, 0.75, 1 (``space.at``), advance at
  60 % rolling success over 40 episodes;
* ``learning-progress`` — absolute-LP bandit over 5 difficulty bands;
* ``plr`` — prioritized level replay (return-surprise score).

Every method is evaluated at evenly spaced checkpoints with the deterministic policy on
the *same* fixed scenarios and seeds (common random numbers): 100 from ``train``, 100 from
its hard corner (goal 0.8-1.0 m, drag 0.2-0.3) and 50 from the held-out split
``heldout-far`` (goal 1.4-2.0 m, never practised). Reported: final success rates, the
area under the train-success curve (sample efficiency), mean ± standard deviation over
seeds, and each method's difference to ``uniform``.

    python -m benchmarks.curriculum [--timesteps 60000] [--seeds 0 1 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.cli_types import positive_int
from benchmarks import report

ENV = "point"
METHODS: dict[str, dict[str, Any]] = {
    "uniform": {},
    "stages": {
        "stages": [{"difficulty": d} for d in (0.0, 0.25, 0.5, 0.75, 1.0)],
        "threshold": 0.6,
        "window": 40,
    },
    "learning-progress": {"axes": ["difficulty"], "n_bins": 5},
    "plr": {},
}
HARD = {"goal_distance": [0.8, 1.0], "drag": [0.2, 0.3]}
EVAL_SEED = 12345
N_ENVS, N_STEPS = 4, 256  # PPO workers and steps per worker per update
ROLLOUT = N_ENVS * N_STEPS  # PPO timesteps per update
MAX_SEED = 2**31 - 1  # SB3 seeds NumPy (< 2**32) with seed + env index
N_EVAL = {"train": 100, "hard": 100, "heldout-far": 50}


class SparseSuccessReward(gym.Wrapper):
    """Replaces the reward by 1 on the step that reaches the goal, else 0."""

    def step(self, action: Any) -> Any:
        obs, _, terminated, truncated, info = self.env.step(action)
        success = bool(terminated and info.get("is_success", False))
        return obs, float(success), terminated, truncated, info


def make_env(split: str = "train") -> gym.Env:
    import envs

    return SparseSuccessReward(envs.make(ENV, split=split))


def eval_sets() -> dict[str, list[dict[str, Any]]]:
    """The fixed evaluation scenarios (identical for every method and seed)."""
    space = make_env().unwrapped.scenario_space
    rng = np.random.default_rng(EVAL_SEED)
    hard = space.distribution_from_dict(HARD)
    return {
        "train": [space.sample(rng, "train") for _ in range(N_EVAL["train"])],
        "hard": [hard.sample(rng) for _ in range(N_EVAL["hard"])],
        "heldout-far": [space.sample(rng, "heldout-far") for _ in range(N_EVAL["heldout-far"])],
    }


def evaluate(model: Any, sets: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Success rate of the deterministic policy on each fixed scenario set.

    All episodes of a set run side by side (:class:`agents.episodes.EnvPool`) so the
    policy is queried once per step.
    """
    from agents.episodes import EnvPool, play_vector

    out = {}
    for name, scenarios in sets.items():
        split = "heldout-far" if name == "heldout-far" else "train"
        pool = EnvPool([functools.partial(make_env, split) for _ in scenarios])
        try:
            episodes = play_vector(
                pool,
                model,
                seeds=[EVAL_SEED + k for k in range(len(scenarios))],
                options={"scenario": list(scenarios)},
                masked=False,
            )
        finally:
            pool.close()
        out[name] = float(np.mean([e.success for e in episodes]))
    return out


def run_one(job: tuple[str, int, int, int]) -> dict[str, Any]:
    """Trains one (method, seed) and evaluates it at checkpoints."""
    method, seed, timesteps, n_checkpoints = job
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import curricula

    torch.set_num_threads(1)
    start = time.perf_counter()
    venv = make_vec_env(make_env, n_envs=N_ENVS, seed=seed)
    space = venv.get_attr("scenario_space")[0]
    sched = curricula.make_scheduler(
        method, space, seed=seed, total_timesteps=timesteps, config=METHODS[method]
    )
    callback = curricula.CurriculumCallback(sched)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=N_STEPS,
        batch_size=256,
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    sets = eval_sets()
    curve = []
    chunk = timesteps // n_checkpoints
    train_s = eval_s = 0.0
    for c in range(n_checkpoints):
        t0 = time.perf_counter()
        model.learn(chunk, callback=callback, reset_num_timesteps=c == 0)
        t1 = time.perf_counter()
        curve.append({"timesteps": int(model.num_timesteps), **evaluate(model, sets)})
        train_s += t1 - t0
        eval_s += time.perf_counter() - t1
    venv.close()
    metrics = sched.metrics()
    return {
        "method": method,
        "seed": seed,
        "curve": curve,
        "final": curve[-1],
        "train_auc": float(np.mean([p["train"] for p in curve])),
        "episodes": sched.episodes,
        "scheduler_end": {k: metrics[k] for k in sorted(metrics)[:12]},
        "wall_s": time.perf_counter() - start,
        "train_s": train_s,
        "eval_s": eval_s,
    }


def _run_file(job: tuple[str, int, int, int]) -> str:
    method, seed, timesteps, checkpoints = job
    return f"{method}-seed{seed}-t{timesteps}-c{checkpoints}.json"


def summarise(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Mean, standard deviation, min and max over seeds per method and metric."""
    keys = ["train", "hard", "heldout-far"]
    out: dict[str, Any] = {}
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        stats = {}
        for key in [*keys, "train_auc"]:
            vals = np.array(
                [r["train_auc"] if key == "train_auc" else r["final"][key] for r in mine]
            )
            stats[key] = {
                "mean": float(vals.mean()),
                "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                "min": float(vals.min()),
                "max": float(vals.max()),
                "per_seed": vals.tolist(),
            }
        out[m] = stats
    base = out.get("uniform")
    if base:
        for m in methods:
            for key, s in out[m].items():
                s["minus_uniform"] = s["mean"] - base[key]["mean"]
                a, b = np.array(s["per_seed"]), np.array(base[key]["per_seed"])
                s["minus_uniform_se"] = float(
                    np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
                    if len(a) > 1 and len(b) > 1
                    else 0.0
                )
    return out


def plot(path: Path, runs: list[dict[str, Any]], methods: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        x = [p["timesteps"] for p in mine[0]["curve"]]
        for ax, key in zip(axes, ("train", "hard"), strict=True):
            ys = np.array([[p[key] for p in r["curve"]] for r in mine])
            (line,) = ax.plot(x, ys.mean(0), marker="o", label=m)
            ax.fill_between(x, ys.min(0), ys.max(0), alpha=0.15, color=line.get_color())
    for ax, key in zip(axes, ("train", "hard"), strict=True):
        ax.set_title(f"success on fixed {key} scenarios (mean, min-max over seeds)")
        ax.set_xlabel("timesteps")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("success rate")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=60_000, help="PPO timesteps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=list(METHODS), help="curricula"
    )
    parser.add_argument("--checkpoints", type=positive_int, default=6, help="evaluations per run")
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="runs in parallel (processes)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    if args.timesteps < ROLLOUT * args.checkpoints:
        parser.error(
            f"--timesteps must be at least {ROLLOUT} (one PPO rollout) per checkpoint, i.e. "
            f">= {ROLLOUT * args.checkpoints} for {args.checkpoints} checkpoints, "
            f"got {args.timesteps}"
        )
    bad = [s for s in args.seeds if not 0 <= s <= MAX_SEED]
    if bad:
        parser.error(f"--seeds must be whole numbers from 0 to {MAX_SEED}, got {bad}")
    for option in ("seeds", "methods"):
        values = getattr(args, option)
        if len(set(values)) != len(values):
            parser.error(f"--{option} must not repeat a value, got {values}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder, but {args.out} is a file")
    jobs = [(m, s, args.timesteps, args.checkpoints) for s in args.seeds for m in args.methods]
    cache = (args.out or report.RESULTS) / "curriculum-runs"
    cache.mkdir(parents=True, exist_ok=True)
    done = {}
    for job in jobs:
        path = cache / _run_file(job)
        if path.exists():
            done[job] = json.loads(path.read_text())
    todo = [j for j in jobs if j not in done]
    print(f"{len(done)} runs cached in {cache}, {len(todo)} to go", flush=True)
    start = time.perf_counter()
    if todo:
        with mp.get_context("forkserver").Pool(min(args.workers, len(todo))) as pool:
            for result in pool.imap_unordered(run_one, todo, chunksize=1):
                job = (result["method"], result["seed"], args.timesteps, args.checkpoints)
                (cache / _run_file(job)).write_text(json.dumps(result))
                done[job] = result
                print(
                    f"[{time.perf_counter() - start:6.0f} s] {result['method']} seed "
                    f"{result['seed']}: {result['final']} auc {result['train_auc']:.2f}",
                    flush=True,
                )
    runs = [done[j] for j in jobs]
    wall = (
        time.perf_counter()
        - start
        + sum(r["wall_s"] for j, r in done.items() if j not in todo) / max(1, args.workers)
    )
    summary = summarise(runs, args.methods)

    def cell(s: dict[str, float], diff: bool = True) -> str:
        text = f"{s['mean']:.2f} ± {s['std']:.2f} [{s['min']:.2f}, {s['max']:.2f}]"
        return text

    def delta(s: dict[str, float]) -> str:
        return f"{s['minus_uniform']:+.2f} ± {s['minus_uniform_se']:.2f}"

    rows = [
        [
            m,
            cell(summary[m]["train"]),
            cell(summary[m]["hard"]),
            cell(summary[m]["heldout-far"]),
            cell(summary[m]["train_auc"]),
            delta(summary[m]["hard"]),
            delta(summary[m]["train_auc"]),
        ]
        for m in args.methods
    ]
    table = report.markdown_table(
        [
            "curriculum",
            "final success train",
            "final success hard",
            "final success heldout-far",
            "train-success AUC",
            "hard: Δ vs uniform (± s.e.)",
            "AUC: Δ vs uniform (± s.e.)",
        ],
        rows,
    )
    note = (
        f"\n\nPPO on `{ENV}` with sparse success reward, {args.timesteps} timesteps per run, "
        f"seeds {args.seeds}, {args.checkpoints} evaluation checkpoints; cells are mean ± "
        "sample std [min, max] over seeds; Δ is the difference of means with its standard "
        f"error. Wall time about {wall:.0f} s with {args.workers} parallel runs on a shared "
        "machine.\n"
    )
    path = report.write(
        "curriculum",
        {
            "env": ENV,
            "reward": "sparse success (+1 at goal)",
            "timesteps": args.timesteps,
            "seeds": args.seeds,
            "methods": {m: METHODS[m] for m in args.methods},
            "eval_sets": {"sizes": N_EVAL, "hard": HARD, "seed": EVAL_SEED},
            "summary": summary,
            "runs": runs,
            "wall_s": wall,
        },
        table + note,
        args.out,
    )
    plot(path.with_suffix(".png"), runs, args.methods)
    print(table + note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
