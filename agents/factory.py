"""Building the training envs (Monitor, VecEnv, VecNormalize) and checking an algorithm fits.

One place makes every env the CLI uses, so that plugins, ``--env-module`` and subprocess
workers all follow the same path.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from gymnasium import spaces

import envs
from agents.config import ALGOS, HYPERPARAMS_DIR, ConfigError, did_you_mean, yaml_problem
from agents.envmodule import import_env_module  # re-exported: env workers repeat --env-module

__all__ = [
    "GOAL_KEYS",
    "check_compatible",
    "choose_policy",
    "default_algo",
    "env_recipe",
    "has_image",
    "import_env_module",
    "info_keywords",
    "make_env",
    "make_vec_env",
    "resolve_vec_env",
]

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")
DISCRETE_ONLY = {"dqn", "maskable-ppo"}
CONTINUOUS_ONLY = {"sac", "td3", "tqc"}
OFF_POLICY = {"sac", "td3", "tqc", "dqn"}


def default_algo(env_name: str, env: gym.Env) -> str:
    """The env's declared ``EnvSpec.default_algo``; else maskable-ppo if it masks, else ppo.

    Raises:
        ConfigError: The spec names an algorithm that does not exist.
    """
    declared = envs.resolve(env_name).default_algo
    if declared is not None:
        if declared not in ALGOS:
            raise ConfigError(
                f"env {env_name!r} declares default_algo {declared!r}, which is not one of "
                f"{list(ALGOS)}{did_you_mean(declared, ALGOS)}; pass --algo"
            )
        return declared
    return "maskable-ppo" if hasattr(env.unwrapped, "action_masks") else "ppo"


def env_recipe(algo: str, env_name: str) -> tuple[str, Mapping[str, Any]] | None:
    """The env's own hyperparameter entry for ``algo`` (``EnvSpec.hyperparams``), or None.

    Returns ``(where, entry)`` for :func:`agents.config.load_hyperparams`'s ``env_entry``,
    or ``None`` when the spec declares no recipe or none for ``algo`` (then the core's
    ``agents/hyperparams/<algo>.yaml`` entry for the env, or its ``default:``, applies).

    Raises:
        ConfigError: The recipe file is missing or unreadable, or not keyed by algorithm
            names.
    """
    spec = envs.resolve(env_name)
    recipe = spec.hyperparams
    if recipe is None:
        return None
    if isinstance(recipe, str):
        where = recipe
        table = _read_packaged_yaml(recipe, env_name)
    else:
        where, table = f"EnvSpec({env_name!r}).hyperparams", recipe
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must map algorithm names to entries, got {table!r}")
    unknown = [k for k in table if k not in ALGOS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown algorithm {unknown[0]!r}.{did_you_mean(str(unknown[0]), ALGOS)} "
            f"Valid: {list(ALGOS)}"
        )
    if algo not in table:
        return None
    return f"{where}:{algo}", table[algo] or {}


def has_recipe(algo: str, env_name: str, directory: Path = HYPERPARAMS_DIR) -> bool:
    """Whether ``env_name`` has a tuned entry for ``algo`` (its own or the core's)."""
    if env_recipe(algo, env_name) is not None:
        return True
    path = directory / f"{algo}.yaml"
    if not path.exists():
        return False
    table = yaml.safe_load(path.read_text()) or {}
    return isinstance(table, Mapping) and env_name in table


def _read_packaged_yaml(reference: str, env_name: str) -> Any:
    package, _, name = reference.partition(":")
    try:
        text = importlib.resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, OSError) as err:
        raise ConfigError(
            f"env {env_name!r}: hyperparams {reference!r} cannot be read "
            f"({type(err).__name__}: {err}); ship the file inside package {package!r}"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{reference} is not valid YAML: {yaml_problem(err)}") from None


def is_goal_env(env: gym.Env) -> bool:
    """Dict observation with observation/achieved_goal/desired_goal and compute_reward."""
    space = env.observation_space
    return (
        isinstance(space, spaces.Dict)
        and all(k in space.spaces for k in GOAL_KEYS)
        and hasattr(env.unwrapped, "compute_reward")
    )


def check_compatible(algo: str, env_name: str, env: gym.Env, *, her: bool) -> None:
    """Raises ConfigError when ``algo`` (and HER) cannot train on ``env``."""
    action = env.action_space
    if algo in DISCRETE_ONLY and not isinstance(action, spaces.Discrete | spaces.MultiDiscrete):
        raise ConfigError(
            f"{algo} needs discrete actions but {env_name!r} has {action}; "
            f"use one of ppo, a2c, sac, td3, tqc"
        )
    if algo == "dqn" and not isinstance(action, spaces.Discrete):
        raise ConfigError(f"dqn needs a Discrete action space but {env_name!r} has {action}")
    if algo in CONTINUOUS_ONLY and not isinstance(action, spaces.Box):
        raise ConfigError(
            f"{algo} needs continuous (Box) actions but {env_name!r} has {action}; "
            f"use one of ppo, a2c, dqn, maskable-ppo"
        )
    if algo == "maskable-ppo" and not hasattr(env.unwrapped, "action_masks"):
        raise ConfigError(f"maskable-ppo needs an env with action_masks(); {env_name!r} has none")
    if her:
        if algo not in OFF_POLICY:
            raise ConfigError(
                f"HER needs an off-policy algorithm ({sorted(OFF_POLICY)}), not {algo}"
            )
        if not is_goal_env(env):
            raise ConfigError(
                f"HER needs a goal env (dict observation with keys {list(GOAL_KEYS)} and "
                f"compute_reward()); {env_name!r} has {env.observation_space}. "
                f"Set run.her=false or pick a goal env"
            )


def _is_image(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Box) and len(space.shape) == 3


def has_image(space: spaces.Space) -> bool:
    """An image Box, or a Dict holding one."""
    if isinstance(space, spaces.Dict):
        return any(_is_image(s) for s in space.spaces.values())
    return _is_image(space)


def choose_policy(space: spaces.Space) -> str:
    """``MultiInputPolicy`` for dicts, ``CnnPolicy`` for images, else ``MlpPolicy``."""
    if isinstance(space, spaces.Dict):
        return "MultiInputPolicy"
    return "CnnPolicy" if _is_image(space) else "MlpPolicy"


def info_keywords(env: gym.Env) -> tuple[str, ...]:
    """Episode-end info keys the Monitor records: ``is_success`` and the env's own."""
    return ("is_success", *getattr(env.unwrapped, "episode_info_keys", ()))


def make_env(
    name: str,
    env_kwargs: dict[str, Any],
    *,
    split: str = "train",
    env_module: str | None = None,
    monitor_file: str | None = None,
    keywords: Sequence[str] = ("is_success",),
    render_mode: str | None = None,
    ignore_sigint: bool = False,
) -> gym.Env:
    """One env wrapped in a Monitor (picklable through functools.partial for subprocs).

    ``ignore_sigint`` is for worker processes: Ctrl-C reaches the whole process group,
    and the main process, not the workers, decides how to stop (checkpoint first).
    """
    from stable_baselines3.common.monitor import Monitor

    from agents.episodes import EpisodeCap

    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    import_env_module(env_module)
    kwargs = dict(env_kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = EpisodeCap(envs.make(name, split=split, **kwargs))  # never-ending envs fail fast
    return Monitor(env, filename=monitor_file, info_keywords=tuple(keywords))


def resolve_vec_env(vec_env: str, name: str) -> str:
    """The concrete ``run.vec_env`` for env ``name``.

    ``"auto"`` becomes ``"batched"`` when the env declares a native batch
    (``vector_entry_point``), else ``"dummy"``; other values are returned as they are.
    """
    if vec_env != "auto":
        return vec_env
    return "batched" if envs.resolve(name).vector_entry_point is not None else "dummy"


def make_vec_env(
    name: str,
    env_kwargs: dict[str, Any],
    *,
    n_envs: int,
    seed: int,
    vec_env: str = "dummy",
    env_module: str | None = None,
    monitor_dir: Path | None = None,
    monitor_prefix: str = "",
    keywords: Sequence[str] = ("is_success",),
    split: str = "train",
) -> Any:
    """A seeded SB3 VecEnv of ``n_envs`` monitored envs, as ``vec_env`` says.

    ``dummy``/``subproc``: a DummyVecEnv/SubprocVecEnv of Monitor-wrapped envs (one
    monitor file per env); ``batched``: one Gymnasium vector env through
    :class:`agents.vecenv.GymVectorAdapter` in a ``VecMonitor`` (one monitor file,
    ``<prefix>0``, for every world); ``auto``: see :func:`resolve_vec_env`.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    vec_env = resolve_vec_env(vec_env, name)
    if vec_env == "batched":
        from agents.vecenv import make_batched_vec_env

        import_env_module(env_module)
        return make_batched_vec_env(
            name,
            n_envs,
            seed=seed,
            split=split,
            env_kwargs=env_kwargs,
            monitor_file=str(Path(monitor_dir) / f"{monitor_prefix}0") if monitor_dir else None,
            keywords=keywords,
        )

    fns = [
        functools.partial(
            make_env,
            name,
            env_kwargs,
            split=split,
            env_module=env_module,
            monitor_file=(
                str(Path(monitor_dir) / f"{monitor_prefix}{rank}") if monitor_dir else None
            ),
            keywords=tuple(keywords),
            ignore_sigint=vec_env == "subproc",
        )
        for rank in range(n_envs)
    ]
    venv = SubprocVecEnv(fns) if vec_env == "subproc" else DummyVecEnv(fns)
    venv.seed(seed)
    return venv


def normalize_keys(space: spaces.Space) -> list[str] | None:
    """Dict keys VecNormalize may normalise (non-image Box entries); None for flat spaces."""
    if not isinstance(space, spaces.Dict):
        return None
    return [k for k, s in space.spaces.items() if isinstance(s, spaces.Box) and not _is_image(s)]
