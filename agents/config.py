"""Typed training configuration: hyperparameter files, merging and ``--set`` overrides.

Hyperparameters live in ``agents/hyperparams/<algo>.yaml``, keyed by env short name with
a ``default:`` entry. Each entry has up to three sections:

* ``run:`` how the run is set up (:class:`RunSettings`, plus ``timesteps`` and
  ``env_kwargs``);
* ``algo:`` keyword arguments of the Stable-Baselines3 algorithm (``learning_rate`` may
  be a typed schedule ``{schedule: linear, start: 3.0e-4, end: 0.0}``);
* ``policy:`` its ``policy_kwargs`` (``activation_fn`` by name: ``tanh``, ``relu``, ...).

Merge order: ``default`` < env entry < ``--hyperparams FILE`` < ``--set`` overrides.
What the ``algo:`` and ``policy:`` sections may hold, and how they become Stable-Baselines3
keyword arguments, is :mod:`agents.algo_kwargs`.
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
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envs.config import check_keys, did_you_mean, from_mapping

__all__ = [
    "ALGOS",
    "SECTIONS",
    "VEC_ENVS",
    "ConfigError",
    "HyperParams",
    "RunSettings",
    "TrainConfig",
    "did_you_mean",
    "load_hyperparams",
    "merge",
    "parse_override",
    "yaml_problem",
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

# How the training envs run (RunSettings.vec_env); "auto" resolves per env.
VEC_ENVS = ("auto", "dummy", "subproc", "batched")

ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")
MAX_ENVS = 4096
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message says what is valid."""


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
        flush_denormal: Flush denormal floats to zero on the CPU
            (``torch.set_flush_denormal``). Adam's moments of weights whose gradient stays
            zero (dead ReLU units) decay into the denormal range (below 1.2e-38), where x86
            arithmetic is many times slower: at 200k steps of a robot-push SAC run 45-78%
            of its hidden layers' Adam moments were denormal, and an Adam step on them took
            1.2-1.4 ms instead of 0.50 ms flushed. Only values below 1.2e-38 change.
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
    flush_denormal: bool = True

    def __post_init__(self) -> None:
        _typed_values(self, "run")
        limits = {
            "n_envs": (1, MAX_ENVS),
            "eval_workers": (1, MAX_ENVS),
            "keep_checkpoints": (1, None),
            "checkpoint_freq": (0, None),
            "eval_freq": (0, None),
            "eval_episodes": (1, None),
            "torch_threads": (0, MAX_ENVS),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                valid = f"in [{low}, {high}]" if high is not None else f">= {low}"
                raise ConfigError(f"run.{name} must be an integer {valid}, got {value}")
        if self.vec_env not in VEC_ENVS:
            raise ConfigError(f"run.vec_env must be one of {list(VEC_ENVS)}, got {self.vec_env!r}")
        if not math.isfinite(self.summary_seconds) or self.summary_seconds < 0:
            raise ConfigError(
                f"run.summary_seconds must be a finite number >= 0, got {self.summary_seconds}"
            )

    def check_machine(self, cores: int | None = None) -> None:
        """Raises ConfigError for process and thread counts this machine cannot carry.

        Checked before training (not when a saved run is read, so a run trained on a
        bigger machine still loads here): at most 4 per core of ``torch_threads``,
        ``eval_workers`` and, with ``vec_env: subproc``, ``n_envs``.
        """
        cores = cores or os.cpu_count() or 1
        limit = 4 * cores
        counts = {"torch_threads": self.torch_threads, "eval_workers": self.eval_workers}
        if self.vec_env == "subproc":
            counts["n_envs"] = self.n_envs
        for name, value in counts.items():
            if value > limit:
                raise ConfigError(
                    f"run.{name} must be <= {limit} on this machine ({cores} cores, 4 per "
                    f"core), got {value}"
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        """Builds the section, rejecting unknown keys and values of the wrong type."""
        return from_mapping(cls, data, what="run", error=ConfigError)


def _type_ok(value: Any, expected: Any) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _typed_values(obj: Any, where: str) -> None:
    """Raises ConfigError for a field of a flat dataclass whose value has the wrong type."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, expected = getattr(obj, f.name), hints[f.name]
        if not _type_ok(value, expected):
            raise ConfigError(
                f"{where}.{f.name} must be {expected.__name__}, got {type(value).__name__} "
                f"{value!r}"
            )


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
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a YAML text file (not UTF-8)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {yaml_problem(err)}") from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what was wrong and where (line, column)."""
    problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def load_hyperparams(
    algo: str,
    env: str,
    *,
    user_file: Path | None = None,
    overrides: typing.Sequence[tuple[tuple[str, ...], Any]] = (),
    directory: Path = HYPERPARAMS_DIR,
    env_entry: tuple[str, Mapping[str, Any]] | None = None,
) -> HyperParams:
    """Merges default < env entry < user file < overrides for ``algo`` on ``env``.

    The user file has the same shape as an entry (``run:``/``algo:``/``policy:``), or
    is keyed by env name like the shipped files (then its ``default`` and ``env``
    entries are merged in that order). ``env_entry`` (``(where, entry)``: the env's own
    recipe, from its ``EnvSpec``; see :func:`agents.factory.env_recipe`) replaces the
    shipped file's entry for ``env``.
    """
    path = directory / f"{algo}.yaml"
    table = _read_yaml(path) if path.exists() else {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path} must map env names to entries")
    merged = HyperParams.from_dict(table.get("default"), f"{path.name}:default").to_dict()
    if env_entry is not None:
        merged = merge(merged, HyperParams.from_dict(env_entry[1], env_entry[0]).to_dict())
    elif env in table:
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
        augment: ``None`` or the augmentation spec of the policy's own CNN
            (:mod:`agents.perception.augment`).
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
    augment: str | None = None
    env_module: str | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("env", isinstance(self.env, str) and bool(self.env), "an env name"),
            ("algo", self.algo in ALGOS, f"one of {list(ALGOS)}"),
            ("seed", _int_in(self.seed, 0, 2**32 - 1), "an integer in [0, 2**32 - 1]"),
            ("timesteps", _int_in(self.timesteps, 1, None), "an integer >= 1"),
            ("env_kwargs", _str_keyed(self.env_kwargs), "a mapping of names to values"),
            ("policy", isinstance(self.policy, str) and bool(self.policy), "a policy name"),
            ("run", isinstance(self.run, RunSettings), "a run: section"),
            ("algo_kwargs", _str_keyed(self.algo_kwargs), "a mapping of names to values"),
            ("policy_kwargs", _str_keyed(self.policy_kwargs), "a mapping of names to values"),
            (
                "curriculum",
                self.curriculum is None
                or (_str_keyed(self.curriculum) and isinstance(self.curriculum.get("name"), str)),
                "null or {name: ..., config: {...}}",
            ),
            (
                "perception",
                self.perception is None
                or (
                    _str_keyed(self.perception)
                    and isinstance(self.perception.get("path"), str)
                    and isinstance(self.perception.get("finetune"), bool)
                ),
                "null or {path: ..., finetune: true|false}",
            ),
            ("augment", self.augment is None or isinstance(self.augment, str), "null or a spec"),
            ("env_module", self.env_module is None or isinstance(self.env_module, str), "a name"),
            ("device", self.device in DEVICES, f"one of {list(DEVICES)}"),
        ]
        for name, ok, valid in checks:
            if not ok:
                value = getattr(self, name)
                raise ConfigError(f"config {name} must be {valid}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-safe dict (the content of ``config.yaml``)."""
        data = dataclasses.asdict(self)
        data["run"] = dataclasses.asdict(self.run)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuilds a config saved by :meth:`to_dict` (unknown keys raise)."""
        check_keys(data, [f.name for f in dataclasses.fields(cls)], "config", ConfigError)
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and _required(f)]
        if missing:
            raise ConfigError(f"config is missing keys {missing}")
        run = data.get("run") or {}
        if not isinstance(run, Mapping):
            raise ConfigError(f"config run must be a mapping, got {run!r}")
        return cls(**{**data, "run": RunSettings.from_dict(run)})


def _int_in(value: Any, low: int, high: int | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= low and (high is None or value <= high)


def _str_keyed(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
