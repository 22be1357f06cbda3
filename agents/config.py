"""Typed training configuration: hyperparameter files, merging and ``--set`` overrides.

Hyperparameters live in ``agents/hyperparams/<algo>.yaml``, keyed by env short name with
a ``default:`` entry. Each entry has up to three sections:

* ``run:`` how the run is set up (:class:`RunSettings`, plus ``timesteps`` and
  ``env_kwargs``);
* ``algo:`` keyword arguments of the Stable-Baselines3 algorithm (``learning_rate`` may
  be a typed schedule ``{schedule: linear, start: 3.0e-4, end: 0.0}``);
* ``policy:`` its ``policy_kwargs`` (``activation_fn`` by name: ``tanh``, ``relu``, ...).

Merge order: ``default`` < env entry < ``--hyperparams FILE`` < ``--set`` overrides.
Every file is read with ``yaml.safe_load``; ``--set`` values are YAML scalars, never
evaluated as code. Unknown keys raise :class:`ConfigError` with suggestions.

>>> parse_override("algo.n_steps=256")
(('algo', 'n_steps'), 256)
>>> parse_override("policy.net_arch=[16, 16]")
(('policy', 'net_arch'), [16, 16])
>>> parse_override("algo.learning_rate=1e-3")
(('algo', 'learning_rate'), 0.001)
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ALGOS",
    "SECTIONS",
    "VEC_ENVS",
    "ConfigError",
    "HyperParams",
    "RunSettings",
    "TrainConfig",
    "algo_class",
    "build_algo_kwargs",
    "build_policy_kwargs",
    "check_algo_kwargs",
    "check_policy_kwargs",
    "did_you_mean",
    "load_hyperparams",
    "merge",
    "parse_override",
]

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
SECTIONS = ("run", "algo", "policy")

# name -> "module:Class"; imported only when used (sb3-contrib is optional at import time).
ALGOS: dict[str, str] = {
    "ppo": "stable_baselines3:PPO",
    "a2c": "stable_baselines3:A2C",
    "sac": "stable_baselines3:SAC",
    "td3": "stable_baselines3:TD3",
    "dqn": "stable_baselines3:DQN",
    "tqc": "sb3_contrib:TQC",
    "maskable-ppo": "sb3_contrib:MaskablePPO",
}

# Constructor arguments the CLI sets itself; they may not appear under ``algo:``.
_RESERVED_ALGO_KEYS = {
    "self",
    "policy",
    "env",
    "seed",
    "device",
    "verbose",
    "tensorboard_log",
    "policy_kwargs",
    "_init_setup_model",
    "replay_buffer_class",
}
_RESERVED_POLICY_KEYS = {"self", "observation_space", "action_space", "lr_schedule"}

# How the training envs run (RunSettings.vec_env); "auto" resolves per env.
VEC_ENVS = ("auto", "dummy", "subproc", "batched")

ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message says what is valid."""


def did_you_mean(name: str, valid: typing.Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest valid names, or an empty string."""
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _unknown(kind: str, name: str, valid: typing.Iterable[str]) -> ConfigError:
    valid = sorted(valid)
    return ConfigError(f"unknown {kind} {name!r}.{did_you_mean(name, valid)} Valid: {valid}")


# --------------------------------------------------------------------------- typed sections


@dataclass(frozen=True)
class RunSettings:
    """The ``run:`` section: how a training run is set up (not the algorithm).

    Attributes:
        n_envs: Parallel environments.
        vec_env: ``"dummy"`` (one process), ``"subproc"`` (one process per env),
            ``"batched"`` (one Gymnasium vector env through ``agents.vecenv``: the env's
            native batch when it declares a ``vector_entry_point``) or ``"auto"``:
            ``batched`` for envs with a vector entry point, else ``dummy``.
        policy: SB3 policy name, or ``"auto"``: ``MultiInputPolicy`` for dict
            observations, ``CnnPolicy`` for images, ``MlpPolicy`` otherwise.
        normalize_obs: Normalise observations with ``VecNormalize`` (stats are saved).
        normalize_reward: Normalise rewards with ``VecNormalize``.
        her: Hindsight experience replay (off-policy algorithms on goal-dict envs).
        checkpoint_freq: Timesteps between checkpoints (0: only at the end / on signal).
        keep_checkpoints: How many of the newest checkpoints to keep (older ones are deleted).
        eval_freq: Timesteps between periodic evaluations on ``train`` (0: off).
        eval_episodes: Episodes per split in the final transfer evaluation.
        eval_workers: Worker processes of the final evaluation (1: this process).
        summary_seconds: Seconds between one-line progress summaries (0: off).
        save_replay_buffer: Also checkpoint the replay buffer (off-policy; can be large).
        record_video: Record one evaluation episode (GIF) or transcript at the end.
        torch_threads: CPU threads torch may use (0: torch's default). Small policies
            train fastest with 1: more threads only add synchronisation overhead.
    """

    n_envs: int = 1
    vec_env: str = "auto"
    policy: str = "auto"
    normalize_obs: bool = False
    normalize_reward: bool = False
    her: bool = False
    checkpoint_freq: int = 10_000
    keep_checkpoints: int = 3
    eval_freq: int = 0
    eval_episodes: int = 50
    eval_workers: int = 1
    summary_seconds: float = 15.0
    save_replay_buffer: bool = False
    record_video: bool = True
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if self.n_envs < 1:
            raise ConfigError(f"run.n_envs must be >= 1, got {self.n_envs}")
        if self.vec_env not in VEC_ENVS:
            raise ConfigError(f"run.vec_env must be one of {list(VEC_ENVS)}, got {self.vec_env!r}")
        if self.eval_workers < 1:
            raise ConfigError(f"run.eval_workers must be >= 1, got {self.eval_workers}")
        if self.keep_checkpoints < 1:
            raise ConfigError(f"run.keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        for name in ("checkpoint_freq", "eval_freq", "eval_episodes", "torch_threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"run.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        """Builds the section, rejecting unknown keys and values of the wrong type."""
        return _typed(cls, data, "run")


def _typed(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    for key, value in data.items():
        if key not in valid:
            raise _unknown(f"{where} key", key, valid)
        expected = hints[key]
        ok = (
            isinstance(value, bool)
            if expected is bool
            else isinstance(value, (int, float)) and not isinstance(value, bool)
            if expected is float
            else isinstance(value, int) and not isinstance(value, bool)
            if expected is int
            else isinstance(value, expected)
        )
        if not ok:
            raise ConfigError(
                f"{where}.{key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
    return cls(**data)


@dataclass(frozen=True)
class HyperParams:
    """One merged hyperparameter entry (plain YAML data, validated later per algorithm)."""

    run: dict[str, Any] = field(default_factory=dict)
    algo: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str) -> HyperParams:
        """Checks an entry has only ``run:``/``algo:``/``policy:`` mappings."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a mapping with keys {list(SECTIONS)}")
        for key, value in data.items():
            if key not in SECTIONS:
                raise _unknown(f"section in {where}", key, SECTIONS)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key} must be a mapping, got {value!r}")
        return cls(**{k: dict(v or {}) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form."""
        return {"run": dict(self.run), "algo": dict(self.algo), "policy": dict(self.policy)}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merges mappings; values in ``override`` win; lists are replaced, not merged.

    >>> merge({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
    {'a': {'x': 1, 'y': 3}, 'b': [2]}
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None


def load_hyperparams(
    algo: str,
    env: str,
    *,
    user_file: Path | None = None,
    overrides: typing.Sequence[tuple[tuple[str, ...], Any]] = (),
    directory: Path = HYPERPARAMS_DIR,
) -> HyperParams:
    """Merges default < env entry < user file < overrides for ``algo`` on ``env``.

    The user file has the same shape as an entry (``run:``/``algo:``/``policy:``), or
    is keyed by env name like the shipped files (then its ``default`` and ``env``
    entries are merged in that order).
    """
    path = directory / f"{algo}.yaml"
    table = _read_yaml(path) if path.exists() else {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path} must map env names to entries")
    merged = HyperParams.from_dict(table.get("default"), f"{path.name}:default").to_dict()
    if env in table:
        merged = merge(merged, HyperParams.from_dict(table[env], f"{path.name}:{env}").to_dict())
    if user_file is not None:
        data = _read_yaml(user_file) or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{user_file} must be a mapping")
        if set(data) & set(SECTIONS):  # an entry (unknown keys raise), else keyed by env
            entries = [(str(user_file), data)]
        else:
            entries = [(f"{user_file}:{k}", data[k]) for k in ("default", env) if k in data]
        for where, entry in entries:
            merged = merge(merged, HyperParams.from_dict(entry, where).to_dict())
    for keys, value in overrides:
        nested: Any = value
        for key in reversed(keys):
            nested = {key: nested}
        merged = merge(merged, nested)
    return HyperParams.from_dict(merged, "hyperparameters")


# --------------------------------------------------------------------------- --set parsing


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Parses ``section.key[.sub]=value``; the value is a YAML scalar/list/mapping.

    Numbers in e-notation without a dot (``1e-3``, which YAML 1.1 reads as a string)
    are read as floats.

    Raises:
        ConfigError: No ``=``, an empty key, an unknown section or unparsable YAML.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"malformed --set {text!r}: expected SECTION.KEY=VALUE, e.g. algo.n_steps=256"
        )
    parts = tuple(key.split("."))
    if len(parts) < 2 or not all(parts):
        raise ConfigError(
            f"malformed --set key {key!r}: expected SECTION.KEY with SECTION one of "
            f"{list(SECTIONS)}, e.g. algo.learning_rate=3e-4"
        )
    if parts[0] not in SECTIONS:
        raise ConfigError(
            f"malformed --set key {key!r}: unknown section {parts[0]!r}."
            f"{did_you_mean(parts[0], SECTIONS)} Valid sections: {list(SECTIONS)}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"malformed --set value in {text!r}: not valid YAML ({first})") from None
    if value is None and raw.strip() not in ("null", "~", "None"):
        raise ConfigError(f"malformed --set {text!r}: missing value after '='")
    return parts, _number(value)


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value) if any(c.isdigit() for c in value) else value
        except ValueError:
            return value
    return value


# --------------------------------------------------------------------------- the run config


@dataclass(frozen=True)
class TrainConfig:
    """The resolved configuration of one run, saved as ``config.yaml`` in the run folder.

    Attributes:
        env: Env short name.
        algo: Algorithm name (a key of :data:`ALGOS`).
        seed: Seed of the model and of the envs.
        timesteps: Total environment steps to train for.
        env_kwargs: Keyword arguments passed to ``envs.make`` (``obs_type``, ``context``...).
        policy: SB3 policy name actually used.
        run: The ``run:`` section.
        algo_kwargs: Algorithm keyword arguments as written in YAML (schedules as dicts).
        policy_kwargs: ``policy_kwargs`` as written in YAML.
        curriculum: ``None`` or ``{"name": ..., "config": {...}}``.
        perception: ``None`` or ``{"path": ..., "finetune": bool}``.
        env_module: Module imported to register the env, or ``None``.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    env: str
    algo: str
    seed: int
    timesteps: int
    env_kwargs: dict[str, Any]
    policy: str
    run: RunSettings
    algo_kwargs: dict[str, Any]
    policy_kwargs: dict[str, Any]
    curriculum: dict[str, Any] | None = None
    perception: dict[str, Any] | None = None
    env_module: str | None = None
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict (the content of ``config.yaml``)."""
        data = dataclasses.asdict(self)
        data["run"] = dataclasses.asdict(self.run)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuilds a config saved by :meth:`to_dict` (unknown keys raise)."""
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in valid:
                raise _unknown("config key", key, valid)
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and _required(f)]
        if missing:
            raise ConfigError(f"config is missing keys {missing}")
        return cls(**{**data, "run": RunSettings.from_dict(data.get("run") or {})})


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# --------------------------------------------------------------------------- SB3 kwargs


def algo_class(name: str) -> type:
    """The SB3 class of an algorithm name (``ConfigError`` with did-you-mean if unknown)."""
    if name not in ALGOS:
        raise _unknown("algo", name, ALGOS)
    module, _, attr = ALGOS[name].partition(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


def _signature_keys(fn: Any) -> set[str]:
    return set(inspect.signature(fn).parameters)


def check_algo_kwargs(algo: str, kwargs: Mapping[str, Any]) -> None:
    """Raises ConfigError for ``algo:`` keys the algorithm does not accept."""
    valid = _signature_keys(algo_class(algo).__init__) - _RESERVED_ALGO_KEYS
    for key in kwargs:
        if key not in valid:
            raise _unknown(f"algo hyperparameter for {algo}", key, valid)


def check_policy_kwargs(algo: str, policy: str, kwargs: Mapping[str, Any]) -> None:
    """Raises ConfigError for ``policy:`` keys the policy class does not accept."""
    aliases = algo_class(algo).policy_aliases
    if policy not in aliases:
        raise _unknown(f"policy for {algo}", policy, aliases)
    valid = _signature_keys(aliases[policy].__init__) - _RESERVED_POLICY_KEYS
    for key in kwargs:
        if key not in valid:
            raise _unknown(f"policy hyperparameter for {algo} {policy}", key, valid)


def _schedule(value: Any, key: str) -> Any:
    if not isinstance(value, Mapping):
        return value
    from stable_baselines3.common.utils import LinearSchedule

    kinds = {"linear"}
    kind = value.get("schedule")
    if kind not in kinds:
        raise ConfigError(f"algo.{key}: schedule must be one of {sorted(kinds)}, got {kind!r}")
    extra = set(value) - {"schedule", "start", "end", "end_fraction"}
    if extra or "start" not in value:
        raise ConfigError(
            f"algo.{key}: a linear schedule takes start, end (default 0.0) and end_fraction "
            f"(default 1.0); got keys {sorted(value)}"
        )
    return LinearSchedule(
        float(value["start"]), float(value.get("end", 0.0)), float(value.get("end_fraction", 1.0))
    )


def _action_noise(value: Any, n_actions: int) -> Any:
    if value is None or not isinstance(value, Mapping):
        raise ConfigError(f"algo.action_noise must be {{type: normal, sigma: 0.1}}, got {value!r}")
    import numpy as np
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    kinds = {"normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}
    kind = value.get("type")
    if kind not in kinds or set(value) - {"type", "sigma"}:
        raise ConfigError(
            f"algo.action_noise must be {{type: {'|'.join(kinds)}, sigma: float}}, got {value!r}"
        )
    sigma = float(value.get("sigma", 0.1))
    return kinds[kind](np.zeros(n_actions), sigma * np.ones(n_actions))


def build_algo_kwargs(algo: str, kwargs: Mapping[str, Any], n_actions: int) -> dict[str, Any]:
    """Turns YAML ``algo:`` data into SB3 constructor kwargs (schedules, action noise)."""
    check_algo_kwargs(algo, kwargs)
    out = {}
    for key, value in kwargs.items():
        if key in ("learning_rate", "clip_range", "clip_range_vf"):
            value = _schedule(_number(value), key)
        elif key == "action_noise":
            value = _action_noise(value, n_actions)
        else:
            value = _number(value)
        out[key] = value
    return out


def build_policy_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Turns YAML ``policy:`` data into SB3 ``policy_kwargs`` (activation by name)."""
    import torch.nn as nn

    out = dict(kwargs)
    if "activation_fn" in out:
        name = out["activation_fn"]
        table = {
            "tanh": nn.Tanh,
            "relu": nn.ReLU,
            "elu": nn.ELU,
            "leaky_relu": nn.LeakyReLU,
            "gelu": nn.GELU,
            "silu": nn.SiLU,
        }
        if name not in table:
            raise ConfigError(f"policy.activation_fn must be one of {ACTIVATIONS}, got {name!r}")
        out["activation_fn"] = table[name]
    return out
