"""What the ``algo:`` and ``policy:`` sections may hold, and how they become SB3 kwargs.

Each algorithm's ``algo:`` keys are checked against its constructor's signature and
against :data:`ALGO_RULES` (value ranges), the ``policy:`` keys against the policy class
and :data:`POLICY_RULES`; :func:`build_algo_kwargs` / :func:`build_policy_kwargs` turn the
plain YAML values (schedules, action noise, activation names) into what Stable-Baselines3
takes. The sections themselves are read and merged by :mod:`agents.config`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from agents.config import (
    ACTIVATIONS,
    ALGOS,
    ConfigError,
    _int_in,
    _number,
    _unknown,
)

__all__ = [
    "ALGO_RULES",
    "POLICY_RULES",
    "algo_class",
    "build_algo_kwargs",
    "build_policy_kwargs",
    "check_algo_kwargs",
    "check_policy_kwargs",
    "check_values",
]

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
