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
import inspect
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
    "algo_class",
    "build_algo_kwargs",
    "build_policy_kwargs",
    "check_algo_kwargs",
    "check_policy_kwargs",
    "check_values",
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


# --------------------------------------------------------------------------- SB3 kwargs


def algo_class(name: str) -> Any:
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
    fraction = _num(value.get("end_fraction", 1.0))
    if fraction is None or not 0.0 < fraction <= 1.0:
        raise ConfigError(
            f"algo.{key}: end_fraction must be a number in (0, 1], got {value['end_fraction']!r}"
        )
    start, end = _num(value["start"]), _num(value.get("end", 0.0))
    if start is None or end is None:
        raise ConfigError(f"algo.{key}: start and end must be finite numbers, got {dict(value)}")
    return LinearSchedule(start, end, fraction)


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
    sigma = _num(value.get("sigma", 0.1))
    if sigma is None or sigma < 0:
        raise ConfigError(
            f"algo.action_noise.sigma must be a finite number >= 0, got {value.get('sigma')!r}"
        )
    return kinds[kind](np.zeros(n_actions), sigma * np.ones(n_actions))


# --------------------------------------------------------------------------- value ranges


def _num(value: Any) -> float | None:
    """The value as a float if it is a real number (not bool, not NaN/inf), else None."""
    value = _number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _real(low: float, high: float | None = None, *, open_low: bool = False) -> Any:
    def check(value: Any) -> bool:
        x = _num(value)
        if x is None or x < low or (open_low and x == low):
            return False
        return high is None or x <= high

    lo = "(" if open_low else "["
    text = (
        f"a finite number in {lo}{low}, {high}]"
        if high is not None
        else (f"a finite number {'>' if open_low else '>='} {low}")
    )
    return check, text


def _integer(low: int, high: int | None = None) -> Any:
    if high is None:
        return (lambda v: _int_in(v, low, None)), f"an integer >= {low} (not bool or float)"
    return (lambda v: _int_in(v, low, high)), f"an integer in [{low}, {high}] (not bool or float)"


def _boolean() -> Any:
    return (lambda v: isinstance(v, bool)), "true or false"


def _optional(rule: Any) -> Any:
    check, text = rule
    return (lambda v: v is None or check(v)), f"null or {text}"


def _schedule_or(rule: Any) -> Any:
    check, text = rule

    def ok(value: Any) -> bool:
        if isinstance(value, Mapping):  # the schedule's own keys are checked by _schedule
            return all(
                check(value[k]) or (k == "end" and _real(0.0)[0](value[k]))
                for k in ("start", "end")
                if k in value
            )
        return check(value)

    return ok, f"{text}, or a linear schedule of such"


def _ent_coef(value: Any) -> bool:
    if isinstance(value, str) and value.startswith("auto"):
        rest = value[len("auto") :]
        return not rest or (rest.startswith("_") and _real(0.0, open_low=True)[0](rest[1:]))
    return _real(0.0)[0](value)


def _train_freq(value: Any) -> bool:
    if isinstance(value, list) and len(value) == 2:
        return _int_in(value[0], 1, None) and value[1] in ("step", "episode")
    return _int_in(value, 1, None)


def _gradient_steps(value: Any) -> bool:
    return _int_in(value, 1, None) or (isinstance(value, int) and value == -1)


# Valid values of SB3 constructor arguments (all algorithms; each takes a subset).
ALGO_RULES: dict[str, Any] = {
    "learning_rate": _schedule_or(_real(0.0, open_low=True)),
    "gamma": _real(0.0, 1.0, open_low=True),
    "gae_lambda": _real(0.0, 1.0),
    "clip_range": _schedule_or(_real(0.0, open_low=True)),
    "clip_range_vf": _optional(_real(0.0, open_low=True)),
    "ent_coef": (_ent_coef, "a finite number >= 0 (SAC/TQC also 'auto' or 'auto_0.1')"),
    "vf_coef": _real(0.0),
    "max_grad_norm": _real(0.0, open_low=True),
    "target_kl": _optional(_real(0.0, open_low=True)),
    "n_steps": _integer(1, 2**20),
    "batch_size": _integer(1, 2**24),
    "n_epochs": _integer(1, 10_000),
    "buffer_size": _integer(1, 2**27),
    "learning_starts": _integer(0),
    "tau": _real(0.0, 1.0, open_low=True),
    "train_freq": (_train_freq, "an integer >= 1 or [n, step|episode]"),
    "gradient_steps": (_gradient_steps, "an integer >= 1, or -1"),
    "policy_delay": _integer(1),
    "target_policy_noise": _real(0.0),
    "target_noise_clip": _real(0.0),
    "target_update_interval": _integer(1),
    "exploration_fraction": _real(0.0, 1.0),
    "exploration_initial_eps": _real(0.0, 1.0),
    "exploration_final_eps": _real(0.0, 1.0),
    "sde_sample_freq": (lambda v: _int_in(v, -1, None), "an integer >= -1"),
    "use_sde": _boolean(),
    "use_sde_at_warmup": _boolean(),
    "normalize_advantage": _boolean(),
    "optimize_memory_usage": _boolean(),
    "use_rms_prop": _boolean(),
    "rms_prop_eps": _real(0.0, open_low=True),
    "top_quantiles_to_drop_per_net": _integer(0),
    "stats_window_size": _integer(1),
    "target_entropy": (
        lambda v: v == "auto" or _num(v) is not None,
        "'auto' or a finite number",
    ),
}


def _net_arch(value: Any) -> bool:
    def layers(v: Any) -> bool:
        return isinstance(v, list) and all(_int_in(n, 1, 65_536) for n in v)

    if isinstance(value, Mapping):
        return bool(value) and all(isinstance(k, str) and layers(v) for k, v in value.items())
    return layers(value)


POLICY_RULES: dict[str, Any] = {
    "net_arch": (_net_arch, "a list of layer sizes in [1, 65536], or {pi: [...], vf: [...]}"),
    "log_std_init": _real(-20.0, 20.0),
    "ortho_init": _boolean(),
    "share_features_extractor": _boolean(),
    "normalize_images": _boolean(),
    "squash_output": _boolean(),
    "full_std": _boolean(),
    "use_expln": _boolean(),
    "n_critics": _integer(1),
    "n_quantiles": _integer(1),
    "dropout_rate": _real(0.0, 1.0),
}


def check_values(section: str, kwargs: Mapping[str, Any]) -> None:
    """Raises ConfigError naming the key and its valid range for an out-of-range value.

    Args:
        section: ``"algo"`` or ``"policy"``.
        kwargs: The section's YAML data.
    """
    rules = ALGO_RULES if section == "algo" else POLICY_RULES
    for key, value in kwargs.items():
        if key in rules:
            check, valid = rules[key]
            if not check(value):
                raise ConfigError(f"{section}.{key} must be {valid}, got {value!r}")


def build_algo_kwargs(algo: str, kwargs: Mapping[str, Any], n_actions: int) -> dict[str, Any]:
    """Turns YAML ``algo:`` data into SB3 constructor kwargs (schedules, action noise).

    Raises:
        ConfigError: An unknown key or a value out of its range (:data:`ALGO_RULES`).
    """
    check_algo_kwargs(algo, kwargs)
    check_values("algo", kwargs)
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
    """Turns YAML ``policy:`` data into SB3 ``policy_kwargs`` (activation by name).

    Raises:
        ConfigError: A value out of its range (:data:`POLICY_RULES`) or an unknown activation.
    """
    import torch.nn as nn

    check_values("policy", kwargs)
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
        if not isinstance(name, str) or name not in table:
            raise ConfigError(f"policy.activation_fn must be one of {ACTIVATIONS}, got {name!r}")
        out["activation_fn"] = table[name]
    return out
