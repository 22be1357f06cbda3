"""Train an agent on a practicegym env: ``python -m agents.train --env driving``.

Reads the hyperparameters of the algorithm for the env (``agents/hyperparams/<algo>.yaml``),
checks every input before training starts (bad input exits with code 2 and one message),
trains with Stable-Baselines3 into a run folder (see :mod:`agents.runs`), then evaluates
on ``train`` and every held-out split and prints a table.

Exit codes: 0 done; 2 bad input; 128 + signal number when SIGINT/SIGTERM stopped the run
(a checkpoint was saved; continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from gymnasium import spaces

import envs
from agents import artifacts, factory, modelfile, runs
from agents.algo_kwargs import algo_class, build_algo_kwargs
from agents.callbacks import (
    CheckpointCallback,
    StopFlag,
    StopOnSignal,
    SummaryCallback,
    catch_signals,
)
from agents.cli_types import UsageError, cli_main, nonneg_int, positive_int, seed_int
from agents.config import (
    ALGOS,
    VEC_ENVS,
    ConfigError,
    RunSettings,
    TrainConfig,
)
from agents.train_plan import Plan, make_scheduler, n_actions, policy_kwargs, prepare
from curricula.registry import SCHEDULERS
from envs.core import EnvContractError

__all__ = ["build_parser", "main"]

PROG = "python -m agents.train"


# ============================================================================ the CLI


def _shipped_defaults() -> str:
    """``driving: ppo, ...``: the registry's default algorithm of the main envs."""
    main_envs = ("driving", "robot-reach", "robot-push", "dialogue")
    return ", ".join(f"{name}: {envs.spec(name).default_algo}" for name in main_envs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--help`` documents every flag."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Train a Stable-Baselines3 agent on a practicegym env, save everything in a run\n"
            "folder, and print success/return on train and every held-out split.\n"
            "Hyperparameters come from agents/hyperparams/<algo>.yaml; merge order:\n"
            "default < env entry < --hyperparams FILE < --set."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python -m agents.train --env driving\n"
            "  python -m agents.train --env robot-reach --algo tqc --timesteps 30000\n"
            "  python -m agents.train --env driving --curriculum linear --set algo.n_steps=256\n"
            "  python -m agents.train --resume runs/driving/ppo-0-20250101-120000\n"
            "exit codes: 0 done, 2 bad input, 128+N stopped by signal N (checkpoint saved)"
        ),
    )
    p.add_argument(
        "--env",
        help="env short name or id (built-in or plugin), e.g. driving, robot-reach, dialogue; "
        "required unless --resume",
    )
    p.add_argument(
        "--algo",
        metavar="ALGO",
        help=f"algorithm, one of {list(ALGOS)}; default: the env's shipped default "
        f"({_shipped_defaults()}, others: ppo)",
    )
    p.add_argument(
        "--timesteps",
        type=positive_int,
        help="total environment steps (default: run.timesteps from the hyperparameters); "
        "with --resume, the new total",
    )
    p.add_argument("--seed", type=seed_int, help="seed of the model and the envs (default: 0)")
    p.add_argument("--n-envs", type=positive_int, help="parallel envs (default: run.n_envs)")
    p.add_argument(
        "--vec-env",
        choices=VEC_ENVS,
        help="dummy: all envs in this process; subproc: one process per env; batched: one "
        "Gymnasium vector env (the env's native batch when it registers a vector_entry_point, "
        "else Gymnasium's sync vectorisation); auto: batched for envs with a native batch, "
        "else dummy (default: run.vec_env, auto)",
    )
    p.add_argument(
        "--curriculum",
        metavar="NAME",
        help="curriculum scheduler over the env's scenario space "
        f"({', '.join(SCHEDULERS)}); default: none (train split)",
    )
    p.add_argument(
        "--curriculum-config",
        metavar="FILE",
        type=Path,
        help="YAML file with the scheduler's options (needs --curriculum)",
    )
    p.add_argument(
        "--perception",
        metavar="PATH",
        type=Path,
        help="folder of a pretrained perception model (agents.perception): its CNN trunk "
        "becomes the policy's feature extractor for image observations (frozen)",
    )
    p.add_argument(
        "--perception-finetune",
        action="store_true",
        help="fine-tune the --perception trunk with RL instead of freezing it",
    )
    p.add_argument(
        "--augment",
        metavar="SPEC",
        help="augment image observations in PPO/SAC updates (end-to-end CNN, RAD-style; "
        "rollouts see plain frames): 'all' or a comma-separated list of "
        "agents.perception.augment families, e.g. colour or channels,shift; "
        "default: off. Not with --perception (augment its training instead)",
    )
    p.add_argument(
        "--obs-type",
        help="observation type passed to the env as obs_type (env-specific, e.g. "
        "driving: kinematics or birdseye); default: the env's own",
    )
    p.add_argument(
        "--context",
        choices=("visible", "hidden"),
        help="visible appends the normalised scenario parameters to the observation; "
        "default: hidden",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one hyperparameter, SECTION in run/algo/policy; VALUE is parsed as "
        "YAML (never evaluated), e.g. --set algo.learning_rate=1e-3 "
        "--set policy.net_arch=[64,64] --set run.normalize_obs=true; repeatable",
    )
    p.add_argument(
        "--hyperparams",
        metavar="FILE",
        type=Path,
        help="YAML file with run:/algo:/policy: sections (or keyed by env name) merged over "
        "the shipped hyperparameters",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="root folder; the run goes to OUT/<env>/<algo>-<seed>-<timestamp>/ (default: runs)",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        type=Path,
        help="continue the run in RUN_DIR from its latest checkpoint with its saved config",
    )
    p.add_argument(
        "--eval-freq",
        type=nonneg_int,
        help="timesteps between evaluations on the train split during training, saved in "
        "eval/ (0: off; default: run.eval_freq)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="torch device; auto (default) uses a GPU when one is present",
    )
    p.add_argument(
        "--env-module",
        metavar="MODULE",
        help="import MODULE before looking up --env (a module that registers envs, like "
        "rl-zoo3's --gym-packages); plugins with entry points need no flag",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (one-line summaries are still printed)",
    )
    return p


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """Runs the CLI in-process; returns the exit code (see :mod:`agents.cli_types`)."""
    args = build_parser().parse_args(argv)
    try:
        plan = prepare(args)
    except (ConfigError, ValueError, envs.PluginError) as err:
        raise UsageError(err) from None
    try:
        return train(plan, progress=not args.no_progress, argv=argv)
    except runs.RunLockError as err:
        raise UsageError(err) from None
    except EnvContractError as err:  # e.g. an episode that never ends: not a usage error
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1


# ============================================================================ training


def train(plan: Plan, *, progress: bool = True, argv: list[str] | None = None) -> int:
    """Trains according to ``plan``; returns the exit code.

    Holds the run folder's lock throughout.

    Raises:
        runs.RunLockError: Another process is writing the run, or it cannot be written
            (raised before anything is written).
    """
    run_dir = plan.run_dir or runs.new_run_dir(
        plan.out, plan.config.env, plan.config.algo, plan.config.seed
    )
    with runs.RunLock(run_dir):
        return _train_locked(plan, run_dir, progress=progress, argv=argv)


@contextlib.contextmanager
def denormals_flushed(enabled: bool) -> Iterator[None]:
    """Flushes denormal floats to zero on this thread while inside (``run.flush_denormal``).

    The CPU flag also changes NumPy and simulator arithmetic on the thread, so it is set
    for learning only and put back to torch's default (off) after: evaluation, and any
    code that runs later in the process, sees IEEE arithmetic.
    """
    import torch

    if not enabled:
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _train_locked(plan: Plan, run_dir: Path, *, progress: bool, argv: list[str] | None) -> int:
    config = plan.config
    if plan.resume is not None:
        runs.clean_orphans(run_dir)
        dropped = runs.truncate_monitors(run_dir, plan.resume.saved_at())
        print(
            f"resuming {run_dir} from the checkpoint at step {plan.resume.timesteps} "
            f"({dropped} monitor rows after it dropped)"
        )
    _write_run_files(run_dir, config, argv, resumed=plan.resume is not None)
    print(f"run folder: {run_dir}")
    if config.run.torch_threads > 0:
        import torch

        torch.set_num_threads(config.run.torch_threads)

    probe = envs.make(config.env, **config.env_kwargs)
    keywords = factory.info_keywords(probe)
    spaces_of = (probe.observation_space, probe.action_space)
    session = len(list((run_dir / "monitor").glob("*-0.monitor.csv")))
    venv = factory.make_vec_env(
        config.env,
        config.env_kwargs,
        n_envs=config.run.n_envs,
        seed=config.seed + 1000 * session,
        vec_env=config.run.vec_env,
        env_module=config.env_module,
        monitor_dir=run_dir / "monitor",
        monitor_prefix=f"s{session}-",
        keywords=keywords,
    )
    venv = _normalize(venv, config, probe, plan.resume)
    model = _build_model(config, venv, run_dir, plan.resume, probe)
    scheduler = _scheduler(config, probe, plan.resume)
    probe.close()

    def save(step: int) -> runs.Checkpoint:
        return _save_checkpoint(run_dir, model, step, scheduler, config.run)

    flag = StopFlag()
    callbacks = [
        StopOnSignal(flag),
        CheckpointCallback(config.run.checkpoint_freq, save),
        SummaryCallback(config.timesteps, config.run.summary_seconds),
    ]
    if scheduler is not None:
        import curricula

        callbacks.append(curricula.CurriculumCallback(scheduler))
    if config.run.eval_freq > 0:
        evaluation = _eval_callback(config, run_dir, keywords, spaces_of[0])
        if plan.resume is not None:
            runs.restore_evaluations(evaluation, run_dir, plan.resume.timesteps)
        callbacks.append(evaluation)

    remaining = config.timesteps - model.num_timesteps
    with catch_signals(flag), denormals_flushed(config.run.flush_denormal):
        if remaining > 0:
            model.learn(
                remaining,
                callback=callbacks,
                tb_log_name="tb",
                reset_num_timesteps=plan.resume is None,
                progress_bar=progress,
            )
    if flag:
        checkpoint = save(model.num_timesteps)
        venv.close()
        print(
            f"stopped by signal {flag.signum} at {model.num_timesteps} steps; checkpoint "
            f"{checkpoint.path}; continue with: python -m agents.train --resume {run_dir}"
        )
        return 128 + int(flag.signum or 0)

    save(model.num_timesteps)
    _save_final(run_dir, model)
    normalizer = _frozen_normalizer(model.get_vec_normalize_env())
    venv.close()
    policy = runs.RunPolicy(model, normalizer, *spaces_of)
    artifacts.finish(run_dir, config, policy, progress=progress)
    return 0


def _write_run_files(
    run_dir: Path, config: TrainConfig, argv: list[str] | None, *, resumed: bool
) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    line = shlex.join([sys.executable, "-m", "agents.train", *args]) + "\n"
    runs.atomic_write(run_dir / runs.CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
    command = run_dir / "command.txt"
    previous = command.read_text() if resumed and command.exists() else ""
    runs.atomic_write(command, previous + line)
    if not resumed:
        runs.atomic_write(run_dir / "versions.json", json.dumps(runs.versions(), indent=2) + "\n")


def _normalize(venv: Any, config: TrainConfig, probe: Any, resume: runs.Checkpoint | None) -> Any:
    from stable_baselines3.common.vec_env import VecNormalize

    if not (config.run.normalize_obs or config.run.normalize_reward):
        return venv
    if resume is not None and resume.vecnormalize is not None:
        return modelfile.restore_vecnormalize(
            modelfile.read_vecnormalize(resume.vecnormalize), venv
        )
    space = probe.observation_space
    if _is_image(space) and config.run.normalize_obs:
        print("note: run.normalize_obs is ignored for image observations")
    return VecNormalize(
        venv,
        norm_reward=config.run.normalize_reward,
        gamma=float(config.algo_kwargs.get("gamma", 0.99)),
        **_obs_normalization(config, space),
    )


def _is_image(space: Any) -> bool:
    return factory.has_image(space) and not isinstance(space, spaces.Dict)


def _obs_normalization(config: TrainConfig, space: Any) -> dict[str, Any]:
    """VecNormalize's observation settings, the same for the training and evaluation envs."""
    return {
        "norm_obs": config.run.normalize_obs and not _is_image(space),
        "norm_obs_keys": factory.normalize_keys(space),
    }


def _build_model(
    config: TrainConfig, venv: Any, run_dir: Path, resume: runs.Checkpoint | None, probe: Any
) -> Any:
    cls = algo_class(config.algo)
    algo_kwargs = build_algo_kwargs(config.algo, config.algo_kwargs, n_actions(probe))
    if config.run.her:
        from stable_baselines3 import HerReplayBuffer

        algo_kwargs["replay_buffer_class"] = HerReplayBuffer
    if resume is not None:
        model = modelfile.load_model(
            resume.model,
            config,
            venv,
            template_env=probe,
            device=config.device,
            tensorboard_log=str(run_dir / "tb"),
        )
        buffer = resume.path / modelfile.REPLAY_BUFFER
        if buffer.exists() and getattr(model, "replay_buffer", None) is not None:
            modelfile.read_replay_buffer(model.replay_buffer, buffer)
        return model
    return cls(
        config.policy,
        venv,
        policy_kwargs=policy_kwargs(config),
        seed=config.seed,
        device=config.device,
        tensorboard_log=str(run_dir / "tb"),
        verbose=0,
        **algo_kwargs,
    )


def _scheduler(config: TrainConfig, probe: Any, resume: runs.Checkpoint | None) -> Any:
    if not config.curriculum:
        return None
    scheduler = make_scheduler(config, probe)
    if resume is not None and resume.curriculum is not None:
        scheduler.load_state_dict(json.loads(resume.curriculum.read_text()))
    return scheduler


def _save_checkpoint(
    run_dir: Path, model: Any, step: int, scheduler: Any, settings: RunSettings
) -> runs.Checkpoint:
    files: dict[str, Any] = {runs.MODEL: lambda p: model.save(p)}
    norm = model.get_vec_normalize_env()
    if norm is not None:
        files[runs.VECNORMALIZE] = lambda p: modelfile.write_vecnormalize(norm, p)
    if scheduler is not None:
        files[runs.CURRICULUM] = lambda p: p.write_text(json.dumps(scheduler.state_dict()))
    if settings.save_replay_buffer and getattr(model, "replay_buffer", None) is not None:
        files[modelfile.REPLAY_BUFFER] = lambda p: modelfile.write_replay_buffer(
            model.replay_buffer, p
        )
    return runs.write_checkpoint(run_dir, step, files, keep=settings.keep_checkpoints)


def _save_final(run_dir: Path, model: Any) -> None:
    runs.atomic_write(run_dir / runs.MODEL, lambda p: model.save(p))
    norm = model.get_vec_normalize_env()
    if norm is not None:
        runs.atomic_write(
            run_dir / runs.VECNORMALIZE, lambda p: modelfile.write_vecnormalize(norm, p)
        )


def _frozen_normalizer(norm: Any) -> runs.ObsNormalizer | None:
    return None if norm is None else runs.ObsNormalizer.from_vecnormalize(norm)


def _eval_callback(
    config: TrainConfig, run_dir: Path, keywords: tuple[str, ...], obs_space: Any
) -> Any:
    from stable_baselines3.common.vec_env import VecNormalize

    # Wrapped like the training env (VecNormalize syncs its statistics wrapper by wrapper).
    eval_env = factory.make_vec_env(
        config.env,
        config.env_kwargs,
        n_envs=1,
        seed=config.seed + 10_000,
        vec_env="batched" if config.run.vec_env == "batched" else "dummy",
        env_module=config.env_module,
        keywords=keywords,
    )
    if config.run.normalize_obs or config.run.normalize_reward:
        eval_env = VecNormalize(
            eval_env, training=False, norm_reward=False, **_obs_normalization(config, obs_space)
        )
    kwargs: dict[str, Any] = {
        "eval_freq": max(config.run.eval_freq // config.run.n_envs, 1),
        "n_eval_episodes": min(10, max(config.run.eval_episodes, 1)),
        "log_path": str(run_dir / "eval"),
        "deterministic": True,
        "verbose": 0,
    }
    if config.algo == "maskable-ppo":
        from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

        return MaskableEvalCallback(eval_env, **kwargs)
    from stable_baselines3.common.callbacks import EvalCallback

    return EvalCallback(eval_env, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
