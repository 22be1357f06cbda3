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
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from gymnasium import spaces

import envs
from agents import artifacts, factory, modelfile, runs
from agents.algo_kwargs import algo_class, build_algo_kwargs, check_policy_kwargs
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
    load_hyperparams,
    merge,
    parse_override,
)
from agents.envmodule import import_env_module
from curricula.registry import SCHEDULERS

__all__ = ["build_parser", "main"]

PROG = "python -m agents.train"
# CLI flags that change the config; with --resume the saved config is used instead.
_CONFIG_FLAGS = (
    "env",
    "algo",
    "seed",
    "n_envs",
    "vec_env",
    "curriculum",
    "curriculum_config",
    "perception",
    "obs_type",
    "context",
    "hyperparams",
    "eval_freq",
    "env_module",
)


# ============================================================================ the CLI


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
        "(driving: ppo, robot-reach: sac, robot-push: tqc, dialogue: maskable-ppo, others: ppo)",
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


# ============================================================================ checking input


@dataclass(frozen=True)
class Plan:
    """A checked run, ready to train."""

    config: TrainConfig
    run_dir: Path | None  # None: create a new folder under out
    out: Path
    resume: runs.Checkpoint | None = None


def prepare(args: argparse.Namespace) -> Plan:
    """Checks every input and resolves the config; raises ConfigError/ValueError."""
    if args.resume is not None:
        return _prepare_resume(args)
    if not args.env:
        raise ConfigError("--env is required (or --resume RUN_DIR); see --help")
    import_env_module(args.env_module)
    env_name = envs.resolve(args.env).name
    if args.algo is not None and args.algo not in ALGOS:
        algo_class(args.algo)  # raises with did-you-mean
    if args.curriculum_config is not None and args.curriculum is None:
        raise ConfigError("--curriculum-config needs --curriculum NAME")
    overrides = [parse_override(text) for text in args.overrides]

    probe = _probe(env_name, {})
    algo = args.algo or factory.default_algo(env_name, probe)
    hp = load_hyperparams(algo, env_name, user_file=args.hyperparams, overrides=overrides)
    run_data = dict(hp.run)
    timesteps = run_data.pop("timesteps", 100_000)
    if isinstance(timesteps, bool) or not isinstance(timesteps, int):
        raise ConfigError(f"run.timesteps must be an integer >= 1, got {timesteps!r}")
    env_kwargs = run_data.pop("env_kwargs", None) or {}
    if not isinstance(env_kwargs, dict) or not all(isinstance(k, str) for k in env_kwargs):
        raise ConfigError(
            f"run.env_kwargs must be a mapping of names to values, got {env_kwargs!r}"
        )
    env_kwargs = dict(env_kwargs)
    if args.obs_type is not None:
        env_kwargs["obs_type"] = args.obs_type
    if args.context is not None:
        env_kwargs["context"] = args.context
    cli_run = {"n_envs": args.n_envs, "vec_env": args.vec_env, "eval_freq": args.eval_freq}
    run = RunSettings.from_dict(
        merge(run_data, {k: v for k, v in cli_run.items() if v is not None})
    )
    run = replace(run, vec_env=factory.resolve_vec_env(run.vec_env, env_name))
    if args.timesteps is not None:
        timesteps = args.timesteps
    _check_timesteps(timesteps)
    if args.seed is not None:
        _check_seed(args.seed)

    if env_kwargs:
        probe.close()
        probe = _probe(env_name, env_kwargs)
    factory.check_compatible(algo, env_name, probe, her=run.her)
    policy = factory.choose_policy(probe.observation_space) if run.policy == "auto" else run.policy
    config = TrainConfig(
        env=env_name,
        algo=algo,
        seed=0 if args.seed is None else args.seed,
        timesteps=timesteps,
        env_kwargs=env_kwargs,
        policy=policy,
        run=run,
        algo_kwargs=dict(hp.algo),
        policy_kwargs=dict(hp.policy),
        curriculum=_curriculum_entry(args),
        perception=(
            {"path": str(args.perception), "finetune": bool(args.perception_finetune)}
            if args.perception
            else None
        ),
        env_module=args.env_module,
        device=args.device,
    )
    try:
        _check_config(config, probe)
    finally:
        probe.close()
    _check_out(args.out)
    return Plan(config=config, run_dir=None, out=args.out)


def _check_config(config: TrainConfig, probe: Any) -> None:
    """Checks a whole config against an env instance; raises ConfigError (no files)."""
    config.run.check_machine()
    if config.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                "--device cuda, but torch sees no CUDA GPU here; use --device cpu or auto"
            )
    check_policy_kwargs(config.algo, config.policy, config.policy_kwargs)
    build_algo_kwargs(config.algo, config.algo_kwargs, _n_actions(probe))
    _policy_kwargs(config)  # perception model errors surface here
    if config.perception and not factory.has_image(probe.observation_space):
        raise ConfigError(
            f"--perception needs image observations but {config.env!r} gives "
            f"{probe.observation_space}; pick an image obs type (e.g. --obs-type birdseye)"
        )
    if config.curriculum:
        _make_scheduler(config, probe)
    _check_model(config, probe)


def _prepare_resume(args: argparse.Namespace) -> Plan:
    given = [f"--{k.replace('_', '-')}" for k in _CONFIG_FLAGS if getattr(args, k) is not None]
    if args.overrides:
        given.append("--set")
    if given:
        raise ConfigError(
            f"--resume continues with the run's saved config; drop {', '.join(given)} "
            "(only --timesteps, --device and --no-progress may change)"
        )
    info = runs.load_run(args.resume)
    where = info.path / runs.CONFIG
    try:
        config = TrainConfig.from_dict(info.config)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None
    import_env_module(info.config.get("env_module"), run_dir=info.path)  # recorded, announced
    try:
        envs.resolve(config.env)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    checkpoint = runs.latest_checkpoint(info.path)
    if checkpoint is None:
        raise ConfigError(f"{info.path} has no checkpoint to resume from (checkpoints/ is empty)")
    if args.timesteps is not None:
        _check_timesteps(args.timesteps)
        config = replace(config, timesteps=args.timesteps)
    if args.device != "auto":
        config = replace(config, device=args.device)
    probe = _probe(config.env, config.env_kwargs)
    try:
        try:
            _check_config(config, probe)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        _check_checkpoint(config, checkpoint, probe)
    finally:
        probe.close()
    return Plan(config=config, run_dir=info.path, out=info.path.parent, resume=checkpoint)


def _check_checkpoint(config: TrainConfig, checkpoint: runs.Checkpoint, probe: Any) -> None:
    """Reads every file of ``checkpoint`` as resuming will (nothing written); ConfigError if bad.

    Loading runs no code from the files (:mod:`agents.modelfile`).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    try:
        checkpoint.saved_at()
        modelfile.load_model(
            checkpoint.model, config, None, template_env=probe, device="cpu", acting_only=True
        )
        if checkpoint.vecnormalize is not None:
            state = modelfile.read_vecnormalize(checkpoint.vecnormalize)
            modelfile.restore_vecnormalize(state, DummyVecEnv([lambda: probe]))
        for name in (modelfile.OLD_REPLAY_BUFFER, modelfile.REPLAY_BUFFER):
            if (checkpoint.path / name).exists():
                modelfile.check_replay_buffer(checkpoint.path / name)
        if config.curriculum and checkpoint.curriculum is not None:
            scheduler = _make_scheduler(config, probe)
            scheduler.load_state_dict(json.loads(checkpoint.curriculum.read_text()))
    except modelfile.UnsafeFileError as err:
        raise ConfigError(str(err)) from None
    except Exception as err:  # whatever a corrupt file makes its reader raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(
            f"checkpoint {checkpoint.path} cannot be resumed ({type(err).__name__}: {first}); "
            "delete that folder to resume from the previous checkpoint"
        ) from None


MAX_TIMESTEPS = 10**12


def _check_timesteps(timesteps: int) -> None:
    if not 1 <= timesteps <= MAX_TIMESTEPS:
        raise ConfigError(f"--timesteps must be in [1, {MAX_TIMESTEPS:.0e}], got {timesteps}")


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:
        raise ConfigError(f"--seed must be an integer in [0, 2**32 - 1], got {seed}")


def _check_out(out: Path) -> None:
    """Creates ``out`` now (before any work) so an unwritable folder is a usage error."""
    blocker = next((p for p in (Path(out), *Path(out).parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(
            f"--out {str(out)!r} cannot be written: {str(blocker)!r} is a file, not a folder"
        )
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ConfigError(
            f"--out {str(out)!r} cannot be written: {err.strerror or err}; pass a writable folder"
        ) from None


def _check_model(config: TrainConfig, probe: Any) -> None:
    """Builds the model once on ``probe`` (no files) so SB3 rejects bad values before training.

    SB3 reports bad hyperparameter values (``algo.learning_rate=abc``) with assertions
    and TypeErrors from inside its constructors; they become one ConfigError here.
    """
    try:
        model = modelfile.template_model(config, probe)
    except (AssertionError, TypeError, ValueError) as err:
        raise ConfigError(
            f"{config.algo} rejected the algo/policy hyperparameters: {err}; check the "
            f"--set/--hyperparams values against agents/hyperparams/{config.algo}.yaml"
        ) from None
    del model


def _probe(env_name: str, env_kwargs: dict[str, Any]) -> Any:
    try:
        return envs.make(env_name, **env_kwargs)
    except TypeError as err:
        raise ConfigError(f"env {env_name!r} rejected env_kwargs {env_kwargs}: {err}") from None


def _n_actions(env: Any) -> int:
    shape = getattr(env.action_space, "shape", None) or (1,)
    return int(shape[0]) if shape else 1


def _curriculum_entry(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.curriculum is None:
        return None
    config: dict[str, Any] = {}
    if args.curriculum_config is not None:
        import curricula

        config = dict(curricula.load_config(args.curriculum_config) or {})
    return {"name": args.curriculum, "config": config}


def _make_scheduler(config: TrainConfig, env: Any) -> Any:
    import curricula

    assert config.curriculum is not None
    return curricula.make_scheduler(
        config.curriculum["name"],
        env.unwrapped.scenario_space,
        seed=config.seed,
        total_timesteps=config.timesteps,
        config=config.curriculum.get("config") or None,
    )


def _policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    return modelfile.model_kwargs(config, 1)[1]


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
        callbacks.append(_eval_callback(config, run_dir, keywords, spaces_of[0]))

    remaining = config.timesteps - model.num_timesteps
    with catch_signals(flag):
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
    algo_kwargs = build_algo_kwargs(config.algo, config.algo_kwargs, _n_actions(probe))
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
        policy_kwargs=_policy_kwargs(config),
        seed=config.seed,
        device=config.device,
        tensorboard_log=str(run_dir / "tb"),
        verbose=0,
        **algo_kwargs,
    )


def _scheduler(config: TrainConfig, probe: Any, resume: runs.Checkpoint | None) -> Any:
    if not config.curriculum:
        return None
    scheduler = _make_scheduler(config, probe)
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
