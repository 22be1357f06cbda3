"""The typed sweep config: the YAML file whose axes are crossed into runs.

:class:`SweepConfig` (with :class:`Resources` and :class:`EvaluationSettings`) rejects
unknown keys, wrong types, empty or duplicated lists and unknown envs, algorithms or
curricula; :func:`load_config` reads it from a YAML file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from agents.config import yaml_problem
from agents.evaluation.transfer import EVAL_SEED
from envs.config import check_keys


class SweepConfigError(ValueError):
    """A sweep config, folder or flag is invalid (the CLI exits with status 2)."""


@dataclass(frozen=True)
class Resources:
    """Ray resources each run declares (its task is scheduled where these are free).

    Attributes:
        num_cpus: CPUs per run (training + evaluation run in one process).
        num_gpus: GPUs per run; fractions share a GPU. 0 trains on CPU.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Resources:
        """Builds from YAML; unknown keys or negative amounts raise SweepConfigError."""
        data = dict(data or {})
        check_keys(data, [f.name for f in fields(cls)], "resources", SweepConfigError)
        out = cls(**{k: float(v) for k, v in data.items() if _is_number(v, k, "resources")})
        if out.num_cpus <= 0 or out.num_gpus < 0:
            raise SweepConfigError(
                f"resources need num_cpus > 0 and num_gpus >= 0, got {out.num_cpus}, {out.num_gpus}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping :meth:`from_dict` reads back."""
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}


@dataclass(frozen=True)
class EvaluationSettings:
    """How each finished run is evaluated with :func:`agents.evaluation.evaluate_transfer`.

    Attributes:
        episodes: Episodes per split.
        splits: Splits to evaluate (``None``: every split of the env).
        seed: Seed of the evaluator's common random numbers (same for every run).
        bootstrap_reps: Bootstrap replicates of the grouped report's CIs and probability
            of improvement (``None``: the evaluator's defaults, 2000 and 1000).
    """

    episodes: int = 20
    splits: tuple[str, ...] | None = None
    seed: int = EVAL_SEED
    bootstrap_reps: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EvaluationSettings:
        """Builds from YAML; unknown keys or bad values raise SweepConfigError."""
        data = dict(data or {})
        check_keys(data, [f.name for f in fields(cls)], "evaluation", SweepConfigError)
        episodes = data.get("episodes", cls.episodes)
        seed = data.get("seed", cls.seed)
        for key, value in (("episodes", episodes), ("seed", seed)):
            if not _is_int(value, minimum=0):
                raise SweepConfigError(f"evaluation.{key} must be an int >= 0, got {value!r}")
        if episodes < 1:
            raise SweepConfigError(f"evaluation.episodes must be >= 1, got {episodes}")
        splits = data.get("splits")
        if splits is not None:
            splits = tuple(_as_list(splits, "evaluation.splits", str, allow_scalar=False))
        reps = data.get("bootstrap_reps")
        if reps is not None and not _is_int(reps, minimum=1):
            raise SweepConfigError(f"evaluation.bootstrap_reps must be an int >= 1, got {reps!r}")
        return cls(episodes=episodes, splits=splits, seed=seed, bootstrap_reps=reps)

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping :meth:`from_dict` reads back."""
        return {
            "episodes": self.episodes,
            "splits": None if self.splits is None else list(self.splits),
            "seed": self.seed,
            "bootstrap_reps": self.bootstrap_reps,
        }


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: the axes whose cross product is the set of runs.

    YAML keys (unknown keys are rejected)::

        name: point-curricula        # names the default output folder
        envs: [point]                # env short names (plugins included)
        algos: [ppo]                 # agents.train --algo values
        curricula: [uniform, linear] # --curriculum values; null = the training default
        seeds: [0, 1, 2, 3, 4]
        timesteps: 20000             # or a list to cross
        set:                         # --set overrides; each a LIST of values to cross
          algo.learning_rate: [3.0e-4, 1.0e-3]
        group_by: [curriculum]       # rliable groups; default: every axis that varies
        retries: 2                   # extra attempts after a failure or a killed worker
        timeout_s: null              # cancel (and retry) an attempt running longer than this
        resources: {num_cpus: 1, num_gpus: 0}
        evaluation: {episodes: 20, splits: null, seed: 0, bootstrap_reps: null}

    Attributes:
        envs: Env short names.
        algos: Algorithm names (``agents.config.ALGOS``).
        seeds: Training seeds; the runs within a group.
        timesteps: Training budgets to cross.
        curricula: Curriculum scheduler names (``curricula.SCHEDULERS``); ``None``: none.
        overrides: ``(key, values)`` pairs; each value list is crossed.
        group_by: Axes whose values name an rliable group; ``None`` picks the varying ones.
            Envs are never pooled: each env gets its own grouped report.
        name: Sweep name.
        retries: Extra attempts per run after a failure.
        timeout_s: Wall-clock limit of one attempt (``None``: none); a late one is cancelled.
        resources: Resources each run's Ray task declares.
        evaluation: Evaluator settings.
    """

    envs: tuple[str, ...]
    algos: tuple[str, ...]
    seeds: tuple[int, ...]
    timesteps: tuple[int, ...]
    curricula: tuple[str | None, ...] = (None,)
    overrides: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    group_by: tuple[str, ...] | None = None
    name: str = "sweep"
    retries: int = 2
    timeout_s: float | None = None
    resources: Resources = field(default_factory=Resources)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    KEYS = (
        "name",
        "envs",
        "algos",
        "curricula",
        "seeds",
        "timesteps",
        "set",
        "group_by",
        "retries",
        "timeout_s",
        "resources",
        "evaluation",
    )

    @classmethod
    def from_dict(cls, data: Any) -> SweepConfig:
        """Builds and validates a config from a YAML mapping.

        Raises:
            SweepConfigError: Unknown keys, wrong types, empty or duplicated lists,
                unknown envs or algorithms, malformed ``set`` keys.
        """
        import envs
        from agents.config import ALGOS, ConfigError, did_you_mean, parse_override

        if not isinstance(data, Mapping):
            raise SweepConfigError(f"a sweep config must be a mapping, got {type(data).__name__}")
        check_keys(data, cls.KEYS, "sweep config", SweepConfigError)
        for key in ("envs", "algos", "seeds", "timesteps"):
            if key not in data:
                raise SweepConfigError(
                    f"the sweep config needs {key!r} (required: envs, algos, seeds, timesteps)"
                )
        env_names = tuple(_as_list(data["envs"], "envs", str, allow_scalar=False))
        for name in env_names:
            try:
                envs.resolve(name)
            except ValueError as err:
                raise SweepConfigError(f"sweep key 'envs': {err}") from None
        algos = tuple(_as_list(data["algos"], "algos", str, allow_scalar=False))
        for algo in algos:
            if algo not in ALGOS:
                raise SweepConfigError(
                    f"sweep key 'algos': unknown algorithm {algo!r}.{did_you_mean(algo, ALGOS)} "
                    f"Valid: {sorted(ALGOS)}"
                )
        seeds = tuple(_as_list(data["seeds"], "seeds", int, allow_scalar=False))
        timesteps = tuple(_as_list(data["timesteps"], "timesteps", int, allow_scalar=True))
        if any(t < 1 for t in timesteps):
            raise SweepConfigError(f"sweep key 'timesteps' must be >= 1, got {list(timesteps)}")
        curricula_raw = data.get("curricula", [None])
        curricula = tuple(
            _as_list(curricula_raw, "curricula", (str, type(None)), allow_scalar=False)
        )
        from curricula import SCHEDULERS

        for name in curricula:
            if name is not None and name not in SCHEDULERS:
                raise SweepConfigError(
                    f"sweep key 'curricula': unknown curriculum {name!r}."
                    f"{did_you_mean(name, SCHEDULERS)} Valid: {sorted(SCHEDULERS)} or null (none)"
                )
        overrides = []
        set_block = data.get("set") or {}
        if not isinstance(set_block, Mapping):
            raise SweepConfigError(f"sweep key 'set' must map KEY -> [values], got {set_block!r}")
        for key, values in set_block.items():
            if not isinstance(values, list) or not values:
                raise SweepConfigError(
                    f"set.{key} must be a non-empty LIST of values to cross (write [{values!r}] "
                    "for a single value)"
                )
            for value in values:
                try:
                    parse_override(f"{key}={format_override(value)}")
                except ConfigError as err:
                    raise SweepConfigError(f"sweep key 'set': {err}") from None
            overrides.append((str(key), tuple(values)))
        group_by = data.get("group_by")
        if group_by is not None:
            group_by = tuple(_as_list(group_by, "group_by", str, allow_scalar=False))
            valid = ["algo", "curriculum", "timesteps"] + [f"set.{k}" for k, _ in overrides]
            for axis in group_by:
                if axis not in valid:
                    raise SweepConfigError(
                        f"group_by: unknown axis {axis!r}.{did_you_mean(axis, valid)} "
                        f"Valid: {valid}"
                    )
        name = data.get("name", cls.name)
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise SweepConfigError(f"sweep name must match [A-Za-z0-9._-]+, got {name!r}")
        retries = data.get("retries", cls.retries)
        if not _is_int(retries, minimum=0):
            raise SweepConfigError(f"retries must be an int >= 0, got {retries!r}")
        timeout_s = data.get("timeout_s")
        if timeout_s is not None and (not _is_real(timeout_s) or timeout_s <= 0):
            raise SweepConfigError(f"timeout_s must be a number > 0 or null, got {timeout_s!r}")
        return cls(
            envs=env_names,
            algos=algos,
            seeds=seeds,
            timesteps=timesteps,
            curricula=curricula,
            overrides=tuple(overrides),
            group_by=group_by,
            name=name,
            retries=retries,
            timeout_s=None if timeout_s is None else float(timeout_s),
            resources=Resources.from_dict(data.get("resources")),
            evaluation=EvaluationSettings.from_dict(data.get("evaluation")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping :meth:`from_dict` reads back."""
        return {
            "name": self.name,
            "envs": list(self.envs),
            "algos": list(self.algos),
            "curricula": list(self.curricula),
            "seeds": list(self.seeds),
            "timesteps": list(self.timesteps),
            "set": {k: list(v) for k, v in self.overrides},
            "group_by": None if self.group_by is None else list(self.group_by),
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "resources": self.resources.to_dict(),
            "evaluation": self.evaluation.to_dict(),
        }

    def extension_of(self, saved: SweepConfig) -> tuple[int, int] | None:
        """``(old, new)`` budget if this config is ``saved`` with only a larger budget.

        That is what ``--extend`` accepts: one ``timesteps`` value in both, the new one
        larger, every other key equal. ``None`` if the two configs are equal.

        Raises:
            SweepConfigError: Anything else differs, or the budget did not grow.
        """
        mine, theirs = self.to_dict(), saved.to_dict()
        if mine == theirs:
            return None
        others = sorted(k for k in mine if k != "timesteps" and mine[k] != theirs[k])
        if others:
            raise SweepConfigError(
                f"an extension may change only 'timesteps'; these differ too: {others}"
            )
        if len(self.timesteps) != 1 or len(saved.timesteps) != 1:
            raise SweepConfigError(
                "an extension needs one 'timesteps' value in the saved and the new config, got "
                f"{list(saved.timesteps)} and {list(self.timesteps)}"
            )
        old, new = saved.timesteps[0], self.timesteps[0]
        if new <= old:
            raise SweepConfigError(
                f"an extension must raise the budget: the sweep trained to {old} steps, got {new}"
            )
        return old, new

    def varying_axes(self) -> list[str]:
        """Axes (other than seeds) with more than one value."""
        axes = {
            "env": self.envs,
            "algo": self.algos,
            "curriculum": self.curricula,
            "timesteps": self.timesteps,
        }
        axes.update({f"set.{k}": v for k, v in self.overrides})
        return [axis for axis, values in axes.items() if len(values) > 1]

    def grouping(self) -> tuple[str, ...]:
        """Axes naming the rliable groups (default: the varying ones except ``env``)."""
        if self.group_by is not None:
            return self.group_by
        varying = [a for a in self.varying_axes() if a != "env"]
        return tuple(varying) or ("algo",)


def load_config(path: str | Path) -> SweepConfig:
    """Reads a sweep YAML file with ``yaml.safe_load``.

    Raises:
        SweepConfigError: Missing or unreadable file, invalid YAML or an invalid config.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"sweep config {path} does not exist (expected a YAML file)")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise SweepConfigError(f"cannot read sweep config {path}: {err}") from None
    except yaml.YAMLError as err:
        raise SweepConfigError(
            f"sweep config {path} is not valid YAML: {yaml_problem(err)}"
        ) from None
    try:
        return SweepConfig.from_dict(data)
    except SweepConfigError as err:
        raise SweepConfigError(f"{path}: {err}") from None


def format_override(value: Any) -> str:
    """Formats a ``set`` value as the YAML text ``agents.train --set key=TEXT`` reads back.

    >>> [format_override(v) for v in (256, 0.0003, 1e-05, True, "MlpPolicy", "true", [16, 16])]
    ['256', '0.0003', '1.0e-05', 'true', 'MlpPolicy', "'true'", '[16, 16]']
    """
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    if yaml.safe_load(text) != value:
        raise SweepConfigError(f"set value {value!r} does not survive a YAML round trip")
    return text


def _as_list(value: Any, key: str, kind: type | tuple[type, ...], allow_scalar: bool) -> list:
    if allow_scalar and not isinstance(value, list):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SweepConfigError(f"sweep key {key!r} must be a non-empty list, got {value!r}")
    for item in value:
        if not isinstance(item, kind) or isinstance(item, bool):
            names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            raise SweepConfigError(f"sweep key {key!r}: {item!r} is not a {names}")
    dupes = sorted({str(v) for v in value if value.count(v) > 1})
    if dupes:
        raise SweepConfigError(f"sweep key {key!r} lists {dupes} more than once")
    return value


def _is_number(value: Any, key: str, where: str) -> bool:
    if not _is_real(value):
        raise SweepConfigError(f"{where}.{key} must be a number, got {value!r}")
    return True


def _is_int(value: Any, minimum: int) -> bool:
    """Whether ``value`` is an int (not a bool) >= ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_real(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
