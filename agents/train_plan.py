"""Checking ``agents.train``'s input before anything is written: the :class:`Plan` of a run.

:func:`prepare` resolves the command line (or a ``--resume`` folder) into a checked
:class:`~agents.config.TrainConfig` and a run folder: every flag, the merged
hyperparameters with their ranges, the env and its kwargs, the curriculum, the model
(built once, on no files) and a resumed run's checkpoint files. Anything wrong raises
:class:`~agents.config.ConfigError` (or ``ValueError``), which the CLI reports as a usage
error; nothing has been written by then.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import envs
from agents import factory, modelfile, runs
from agents.algo_kwargs import algo_class, build_algo_kwargs, check_policy_kwargs
from agents.cli_types import check_writable_folder
from agents.config import (
    ALGOS,
    ConfigError,
    RunSettings,
    TrainConfig,
    load_hyperparams,
    merge,
    parse_override,
)
from agents.envmodule import import_env_module

__all__ = ["Plan", "make_scheduler", "n_actions", "policy_kwargs", "prepare"]

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
    "augment",
    "obs_type",
    "context",
    "hyperparams",
    "eval_freq",
    "env_module",
)


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
    recipe = factory.env_recipe(algo, env_name)
    hp = load_hyperparams(
        algo, env_name, user_file=args.hyperparams, overrides=overrides, env_entry=recipe
    )
    if recipe is None and not factory.has_recipe(algo, env_name):
        print(
            f"note: env {env_name!r} ships no {algo} hyperparameters (EnvSpec.hyperparams); "
            f"using the generic default: entry of agents/hyperparams/{algo}.yaml",
            file=sys.stderr,
        )
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
        augment=None if args.augment in (None, "none") else args.augment,
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
    build_algo_kwargs(config.algo, config.algo_kwargs, n_actions(probe))
    if config.augment is not None and config.perception:
        raise ConfigError(
            "--augment trains the policy's own CNN and --perception brings a trained trunk; "
            "augment the perception model's training instead "
            "(python -m agents.perception train --augment SPEC)"
        )
    policy_kwargs(config)  # perception model and augmentation spec errors surface here
    for flag, used in (("--perception", config.perception), ("--augment", config.augment)):
        if used and not factory.has_image(probe.observation_space):
            raise ConfigError(
                f"{flag} needs image observations but {config.env!r} gives "
                f"{probe.observation_space}; pick an image obs type (e.g. --obs-type birdseye)"
            )
    if config.curriculum:
        make_scheduler(config, probe)
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
            scheduler = make_scheduler(config, probe)
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
    check_writable_folder(out, keep=True)


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


def n_actions(env: Any) -> int:
    """Action dimensions of ``env`` (1 for discrete actions): for action-noise kwargs."""
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


def make_scheduler(config: TrainConfig, env: Any) -> Any:
    """The run's curriculum scheduler over ``env``'s scenario space."""
    import curricula

    assert config.curriculum is not None
    return curricula.make_scheduler(
        config.curriculum["name"],
        env.unwrapped.scenario_space,
        seed=config.seed,
        total_timesteps=config.timesteps,
        config=config.curriculum.get("config") or None,
    )


def policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` of the run (perception extractors included)."""
    return modelfile.model_kwargs(config, 1)[1]
