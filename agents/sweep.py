"""Sweeps: the envs x algos x curricula x seeds matrix on Ray, from one laptop to a cluster.

A YAML sweep config lists the values of each axis; their cross product is the set of runs.
Every run is ``agents.train.main([...])`` — the training CLI itself, not a second trainer —
executed as a Ray task with declared CPU/GPU resources, then evaluated on every split with
the transfer evaluator. The sweep ends with the grouped rliable report (IQM with bootstrap
CIs, probability of improvement between groups)::

    python -m agents.sweep examples/sweeps/point-curricula.yaml            # local Ray
    python -m agents.sweep CONFIG.yaml --address auto                      # join a cluster
    python -m agents.sweep --resume runs/sweeps/point-curricula-20261128-120000

The sweep folder::

    <out>/sweep.yaml       the sweep config, as expanded (resume reads it)
    <out>/state.json       each run's status, attempts and errors (atomic writes)
    <out>/runs/<run_id>/attempt-<k>/<env>/<algo>-<seed>-<stamp>/   run folders + train.log
    <out>/results/<run_id>.json   one per finished run, written as it finishes
    <out>/report.md, report.json  runs table, failures and the grouped report
    <out>/grouped/<env>/   the evaluator's grouped report (tables, PNGs)

A failed or killed run is retried up to ``retries`` times (a retry continues the killed
attempt's latest checkpoint); ``--resume`` skips finished runs. Each run gets a fresh
Ray worker process and trains on the device its task declared. Without ``--address`` a
local Ray starts here (``--num-cpus`` caps it); with it, the sweep joins that cluster
unchanged (nodes need practicegym installed and ``--out`` on a shared filesystem). Ray
is an optional extra: ``pip install -e ".[sweep]"``.

>>> cfg = SweepConfig.from_dict(
...     {"envs": ["point"], "algos": ["ppo"], "curricula": ["uniform", "linear"],
...      "seeds": [0, 1], "timesteps": 512}
... )
>>> [spec.run_id for spec in expand(cfg)]  # doctest: +NORMALIZE_WHITESPACE
['point-ppo-uniform-s0', 'point-ppo-uniform-s1', 'point-ppo-linear-s0',
 'point-ppo-linear-s1']
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "EvaluationSettings",
    "Resources",
    "RunRecord",
    "RunSpec",
    "SweepConfig",
    "SweepConfigError",
    "SweepResult",
    "SweepState",
    "expand",
    "load_config",
    "main",
    "run_sweep",
    "transfer_reports",
    "write_report",
]

STATE = "state.json"
CONFIG = "sweep.yaml"
INSTALL_HINT = 'pip install -e ".[sweep]"'
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
TrainFn = Callable[[list[str]], int]


class SweepConfigError(ValueError):
    """A sweep config, folder or flag is invalid (the CLI exits with status 2)."""


class RayMissingError(RuntimeError):
    """Ray, the optional ``sweep`` extra, is not installed."""


class RunRejectedError(RuntimeError):
    """``agents.train`` rejected the run's arguments (exit status 2): retrying cannot help."""


# --------------------------------------------------------------------------- typed config


def _check_keys(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    from agents.config import did_you_mean

    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise SweepConfigError(
                f"unknown key {key!r} in {where}.{did_you_mean(str(key), allowed)} "
                f"Valid keys: {allowed}"
            )


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
        _check_keys(data, [f.name for f in fields(cls)], "resources")
        out = cls(**{k: float(v) for k, v in data.items() if _is_number(v, k, "resources")})
        if out.num_cpus <= 0 or out.num_gpus < 0:
            raise SweepConfigError(
                f"resources need num_cpus > 0 and num_gpus >= 0, got {out.num_cpus}, {out.num_gpus}"
            )
        return out


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
    seed: int = 0
    bootstrap_reps: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EvaluationSettings:
        """Builds from YAML; unknown keys or bad values raise SweepConfigError."""
        data = dict(data or {})
        _check_keys(data, [f.name for f in fields(cls)], "evaluation")
        episodes = data.get("episodes", cls.episodes)
        seed = data.get("seed", cls.seed)
        for key, value in (("episodes", episodes), ("seed", seed)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SweepConfigError(f"evaluation.{key} must be an int >= 0, got {value!r}")
        if episodes < 1:
            raise SweepConfigError(f"evaluation.episodes must be >= 1, got {episodes}")
        splits = data.get("splits")
        if splits is not None:
            splits = tuple(_as_list(splits, "evaluation.splits", str, allow_scalar=False))
        reps = data.get("bootstrap_reps")
        if reps is not None and (not isinstance(reps, int) or isinstance(reps, bool) or reps < 1):
            raise SweepConfigError(f"evaluation.bootstrap_reps must be an int >= 1, got {reps!r}")
        return cls(episodes=episodes, splits=splits, seed=seed, bootstrap_reps=reps)


def _is_number(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SweepConfigError(f"{where}.{key} must be a number, got {value!r}")
    return True


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
        _check_keys(data, cls.KEYS, "the sweep config")
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
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise SweepConfigError(f"retries must be an int >= 0, got {retries!r}")
        timeout_s = data.get("timeout_s")
        if timeout_s is not None and (
            not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or timeout_s <= 0
        ):
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
            "resources": {"num_cpus": self.resources.num_cpus, "num_gpus": self.resources.num_gpus},
            "evaluation": {
                "episodes": self.evaluation.episodes,
                "splits": None if self.evaluation.splits is None else list(self.evaluation.splits),
                "seed": self.evaluation.seed,
                "bootstrap_reps": self.evaluation.bootstrap_reps,
            },
        }

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
        raise SweepConfigError(f"sweep config {path} is not valid YAML: {err}") from None
    try:
        return SweepConfig.from_dict(data)
    except SweepConfigError as err:
        raise SweepConfigError(f"{path}: {err}") from None


# --------------------------------------------------------------------------- expansion


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(value)).strip("_") or "_"


@dataclass(frozen=True)
class RunSpec:
    """One run of the sweep: the arguments of one ``agents.train`` call.

    Attributes:
        run_id: Unique, file-name-safe id within the sweep.
        env: Env short name.
        algo: Algorithm name.
        seed: Training seed.
        timesteps: Training budget.
        curriculum: Curriculum scheduler name (``None``: none).
        overrides: ``(key, value)`` ``--set`` overrides.
    """

    run_id: str
    env: str
    algo: str
    seed: int
    timesteps: int
    curriculum: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def train_argv(self, out_dir: str | Path, device: str | None = None) -> list[str]:
        """The ``agents.train`` arguments of this run, writing under ``out_dir``.

        ``device`` (``cpu``/``cuda``) is passed as ``--device`` when given.
        """
        argv = ["--env", self.env, "--algo", self.algo, "--timesteps", str(self.timesteps)]
        argv += ["--seed", str(self.seed)]
        if self.curriculum is not None:
            argv += ["--curriculum", self.curriculum]
        for key, value in self.overrides:
            argv += ["--set", f"{key}={format_override(value)}"]
        if device is not None:
            argv += ["--device", device]
        return [*argv, "--out", str(out_dir), "--no-progress"]

    def axes(self) -> dict[str, Any]:
        """Axis name -> value (``env``, ``algo``, ``curriculum``, ``timesteps``, ``set.*``)."""
        out: dict[str, Any] = {
            "env": self.env,
            "algo": self.algo,
            "curriculum": self.curriculum,
            "timesteps": self.timesteps,
        }
        out.update({f"set.{k}": v for k, v in self.overrides})
        return out

    def group(self, group_by: Sequence[str]) -> str:
        """The rliable group label, e.g. ``"curriculum=linear"``."""
        axes = self.axes()
        return " ".join(f"{a.removeprefix('set.')}={axes[a]}" for a in group_by)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the state file)."""
        return {
            "run_id": self.run_id,
            "env": self.env,
            "algo": self.algo,
            "seed": self.seed,
            "timesteps": self.timesteps,
            "curriculum": self.curriculum,
            "overrides": [[k, v] for k, v in self.overrides],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["overrides"] = tuple((k, v) for k, v in data.get("overrides", ()))
        return cls(**data)


def expand(config: SweepConfig) -> list[RunSpec]:
    """The cross product of the config's axes, seeds innermost.

    Run ids name the env, algorithm, curriculum, every other axis that varies and the seed.

    Raises:
        SweepConfigError: Two runs would get the same id.
    """
    varying = set(config.varying_axes())
    set_keys = [k for k, _ in config.overrides]
    specs, seen = [], set()
    for env, algo, curriculum, timesteps, *values, seed in itertools.product(
        config.envs,
        config.algos,
        config.curricula,
        config.timesteps,
        *(v for _, v in config.overrides),
        config.seeds,
    ):
        parts = [env, algo, curriculum if curriculum is not None else "default"]
        if "timesteps" in varying:
            parts.append(f"t{timesteps}")
        for key, value in zip(set_keys, values, strict=True):
            if f"set.{key}" in varying:
                parts.append(f"{key.split('.')[-1]}={format_override(value)}")
        parts.append(f"s{seed}")
        run_id = "-".join(_slug(p) for p in parts)
        if run_id in seen:
            raise SweepConfigError(f"two runs of the sweep would share the id {run_id!r}")
        seen.add(run_id)
        specs.append(
            RunSpec(
                run_id=run_id,
                env=env,
                algo=algo,
                seed=seed,
                timesteps=timesteps,
                curriculum=curriculum,
                overrides=tuple(zip(set_keys, values, strict=True)),
            )
        )
    return specs


# --------------------------------------------------------------------------- state file


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``path`` through a temporary file and a rename (never half-written)."""
    from agents.runs import atomic_write

    atomic_write(Path(path), text)


@dataclass
class RunRecord:
    """What the sweep knows about one run (one entry of ``state.json``).

    Attributes:
        spec: The run.
        status: ``pending``, ``running``, ``done`` or ``failed``.
        attempts: Attempts started, over every invocation of the sweep.
        errors: One line per failed attempt: ``attempt k: reason``.
        run_dir: The training run folder (set once it is known).
        result: Path of ``results/<run_id>.json`` relative to the sweep folder.
        duration_s: Wall time of the successful attempt.
        host: Node that ran the successful attempt.
    """

    spec: RunSpec
    status: str = PENDING
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    run_dir: str | None = None
    result: str | None = None
    duration_s: float | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "spec": self.spec.to_dict(),
            "status": self.status,
            "attempts": self.attempts,
            "errors": list(self.errors),
            "run_dir": self.run_dir,
            "result": self.result,
            "duration_s": self.duration_s,
            "host": self.host,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["spec"] = RunSpec.from_dict(data["spec"])
        return cls(**data)


class SweepState:
    """The sweep folder's ``state.json``: every run's record, saved atomically.

    Args:
        out_dir: The sweep folder.
        records: Run id -> record, in sweep order.
    """

    def __init__(self, out_dir: Path, records: dict[str, RunRecord]) -> None:
        self.out_dir = Path(out_dir)
        self.records = records

    @classmethod
    def create(cls, out_dir: str | Path, config: SweepConfig) -> SweepState:
        """Starts a new sweep folder (``sweep.yaml`` + ``state.json``).

        Raises:
            SweepConfigError: ``out_dir`` already holds a sweep (use resume).
        """
        out_dir = Path(out_dir)
        if (out_dir / STATE).exists():
            raise SweepConfigError(
                f"{out_dir} already holds a sweep ({STATE}); continue it with --resume {out_dir} "
                "or choose another --out"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
        state = cls(out_dir, {s.run_id: RunRecord(s) for s in expand(config)})
        state.save()
        return state

    @classmethod
    def load(cls, out_dir: str | Path) -> SweepState:
        """Reads a sweep folder's state.

        Raises:
            SweepConfigError: No or unreadable ``state.json``.
        """
        path = Path(out_dir) / STATE
        if not path.is_file():
            raise SweepConfigError(f"{out_dir} is not a sweep folder (no {STATE})")
        try:
            data = json.loads(path.read_text())
            records = {k: RunRecord.from_dict(v) for k, v in data["runs"].items()}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SweepConfigError(f"{path} is unreadable: {err}") from None
        return cls(Path(out_dir), records)

    def save(self) -> None:
        """Writes ``state.json`` atomically."""
        data = {
            "version": 1,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": self.counts(),
            "runs": {k: r.to_dict() for k, r in self.records.items()},
        }
        atomic_write_text(self.out_dir / STATE, json.dumps(data, indent=2) + "\n")

    def counts(self) -> dict[str, int]:
        """Number of runs per status."""
        out = {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        for record in self.records.values():
            out[record.status] += 1
        return out

    def is_finished(self, run_id: str) -> bool:
        """Whether the run is done and its result file exists (a resume skips it)."""
        record = self.records[run_id]
        return (
            record.status == DONE
            and record.result is not None
            and (self.out_dir / record.result).is_file()
        )

    def todo(self) -> list[str]:
        """Run ids still to run, in sweep order; resets interrupted/failed ones to pending."""
        out = []
        for run_id, record in self.records.items():
            if not self.is_finished(run_id):
                record.status = PENDING
                out.append(run_id)
        return out

    def result(self, run_id: str) -> dict[str, Any] | None:
        """The saved result of a finished run."""
        if not self.is_finished(run_id):
            return None
        return json.loads((self.out_dir / str(self.records[run_id].result)).read_text())


# --------------------------------------------------------------------------- one run (Ray task)


def find_run_dir(root: Path) -> Path | None:
    """The training run folder under ``root`` (the newest holding a ``config.yaml``)."""
    root = Path(root)
    if (root / "config.yaml").is_file():
        return root
    found = [p.parent for p in root.rglob("config.yaml") if "checkpoints" not in p.parts]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def split_scores(report: Any) -> dict[str, float]:
    """Split -> the run's mean score (normalised when the env has baselines, else return)."""
    return {split: float(report.scores(split).mean()) for split in report.splits}


def _earlier_run(attempt_dir: Path) -> Path | None:
    """The newest run folder an earlier attempt of the same run left, if any."""
    found = []
    for sibling in attempt_dir.parent.glob("attempt-*"):
        if sibling != attempt_dir and (run_dir := find_run_dir(sibling)) is not None:
            found.append(run_dir)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _train(run: RunSpec, out: Path, train_fn: TrainFn, log: Any, device: str | None) -> Path:
    """Trains the run, continuing what an earlier, killed attempt left; returns the run folder.

    An earlier attempt's finished model is kept (only the evaluation is redone); its
    latest checkpoint is continued with ``agents.train --resume``; otherwise training
    starts afresh under ``out``.
    """
    from agents.runs import MODEL, latest_checkpoint

    earlier = _earlier_run(out)
    if earlier is not None and (earlier / MODEL).is_file():
        print(f"[sweep] {earlier} holds a finished model (left by an earlier attempt); evaluating")
        return earlier
    if earlier is not None and (checkpoint := latest_checkpoint(earlier)) is not None:
        print(
            f"[sweep] resuming {earlier} from its checkpoint at {checkpoint.timesteps} steps "
            "(left by an earlier attempt)"
        )
        argv, run_dir = ["--resume", str(earlier), "--no-progress"], earlier
        if device is not None:
            argv += ["--device", device]
    else:
        argv, run_dir = run.train_argv(out, device), None
    print(f"[sweep] python -m agents.train {' '.join(argv)}")
    rc = train_fn(argv)
    if rc != 0:
        log.flush()
        tail = _tail(out / "train.log")
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        error = RunRejectedError if rc == 2 else RuntimeError
        raise error(
            f"agents.train exited with status {rc}: {last}\nend of {out / 'train.log'}:\n{tail}"
        )
    run_dir = run_dir or find_run_dir(out)
    if run_dir is None:
        raise RuntimeError(f"agents.train returned 0 but left no run folder under {out}")
    return run_dir


def execute_run(
    spec: dict[str, Any],
    attempt_dir: str,
    evaluation: dict[str, Any],
    train_fn: TrainFn | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Trains one run with ``agents.train.main`` and evaluates it; the body of a Ray task.

    Training output goes to ``attempt_dir/train.log``. A retry continues what an earlier
    attempt of the run left (finished model or latest checkpoint). The transfer report
    is saved in the run folder (``transfer/``) and returned.

    Args:
        spec: :meth:`RunSpec.to_dict` of the run.
        attempt_dir: ``--out`` folder of this attempt (``<sweep>/runs/<run_id>/attempt-<k>``).
        evaluation: :class:`EvaluationSettings` fields.
        train_fn: The training entry point; ``None`` is ``agents.train.main`` (tests wrap it).
        device: ``--device`` for training: ``cpu`` when the task holds no GPU, ``cuda``
            when it does (``None``: the CLI's ``auto``).

    Raises:
        RuntimeError: Training exited with a non-zero status or left no run folder.
    """
    from agents.evaluation import evaluate_transfer
    from agents.runs import load_policy, load_run

    if train_fn is None:
        from agents.train import main as train_fn
    run = RunSpec.from_dict(spec)
    out = Path(attempt_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (
        open(out / "train.log", "a", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        run_dir = _train(run, out, train_fn, log, device)
    train_s = time.perf_counter() - start
    info = load_run(run_dir)
    report = evaluate_transfer(
        load_policy(run_dir),
        info.env,
        splits=None if evaluation["splits"] is None else list(evaluation["splits"]),
        episodes=evaluation["episodes"],
        seed=evaluation["seed"],
        env_kwargs=info.env_kwargs,
        progress=False,
        label=run.run_id,
    )
    report.save(run_dir / "transfer")
    return {
        "run_id": run.run_id,
        "run_dir": str(run_dir),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "train_s": train_s,
        "duration_s": time.perf_counter() - start,
        "score_kind": report.score_kind,
        "scores": split_scores(report),
        "transfer": report.to_dict(),
    }


# --------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        out_dir: The sweep folder.
        records: Every run's record, in sweep order.
        report: The ``report.json`` content (runs, failures, grouped report).
        interrupted: The sweep was stopped (Ctrl-C) before every run finished.
    """

    out_dir: Path
    records: tuple[RunRecord, ...]
    report: dict[str, Any]
    interrupted: bool = False

    @property
    def done(self) -> list[RunRecord]:
        """Finished runs."""
        return [r for r in self.records if r.status == DONE]

    @property
    def failed(self) -> list[RunRecord]:
        """Runs that failed every attempt."""
        return [r for r in self.records if r.status == FAILED]

    @property
    def ok(self) -> bool:
        """Every run finished."""
        return not self.interrupted and len(self.done) == len(self.records)

    def transfer_reports(self) -> dict[str, dict[str, list[Any]]]:
        """The finished runs' transfer reports by env and group (:func:`transfer_reports`)."""
        return transfer_reports(SweepState.load(self.out_dir), load_config(self.out_dir / CONFIG))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise RayMissingError(
            f"sweeps run on Ray, which is not installed ({err}). Install the optional extra: "
            f"{INSTALL_HINT}"
        ) from err
    return ray


def _describe_failure(ray: Any, err: BaseException) -> str:
    """One readable reason for a failed attempt."""
    if isinstance(err, ray.exceptions.RayTaskError):
        cause = getattr(err, "cause", None)
        if cause is not None:
            return f"{type(cause).__name__}: {cause}"
        return str(err)
    if isinstance(err, ray.exceptions.WorkerCrashedError):
        return "WorkerCrashedError: the worker process died (killed or crashed) during the run"
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


class _Progress:
    """The overall tqdm bar plus one line per finished run."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.total = total
        self.finished = initial
        self.bar = tqdm(
            total=total,
            initial=initial,
            desc="sweep",
            unit="run",
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._tqdm = tqdm
        self.enabled = enabled

    def line(self, text: str) -> None:
        if self.enabled:
            self._tqdm.write(text)

    def finish(self, text: str) -> None:
        self.finished += 1
        self.bar.update(1)
        self.line(f"[{self.finished}/{self.total}] {text}")

    def close(self) -> None:
        self.bar.close()


def _scores_text(scores: Mapping[str, float]) -> str:
    return "  ".join(f"{split} {value:.2f}" for split, value in scores.items())


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connects to Ray; returns whether this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    import logging

    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:  # "local": always a new Ray here, never a stray `ray start` cluster
        kwargs.update(
            address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False
        )
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        if address is None:
            raise SweepConfigError(f"cannot start a local Ray: {err}") from None
        raise SweepConfigError(
            f"cannot join the Ray cluster at {address!r}: {err}. Start one with "
            "`ray start --head` and pass its address ('auto' on one of its nodes), or drop "
            "--address for a local Ray"
        ) from None
    return True


def run_sweep(
    config: SweepConfig | None,
    out_dir: str | Path,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    num_cpus: int | None = None,
    retries: int | None = None,
    resume: bool = False,
    progress: bool = True,
    train_fn: TrainFn | None = None,
) -> SweepResult:
    """Runs (or resumes) a sweep on Ray and writes its report.

    Args:
        config: The sweep; ``None`` with ``resume`` reads ``out_dir/sweep.yaml``.
        out_dir: The sweep folder (created; must not hold a sweep unless ``resume``).
        address: Ray cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` starts
            a local Ray (or uses the one already initialised in this process).
        max_concurrent: At most this many runs in flight (``None``: as resources allow).
        num_cpus: CPUs of the local Ray (default: all); not allowed with ``address``.
        retries: Extra attempts per run in this invocation (default: the config's).
        resume: Continue the sweep in ``out_dir``, skipping finished runs.
        progress: Show the progress bar and one line per finished run.
        train_fn: Training entry point called in each task (default ``agents.train.main``).

    Returns:
        The records of every run and the report; failures are recorded, not raised.

    Raises:
        SweepConfigError: Bad arguments, a folder that already holds a sweep (without
            ``resume``) or that holds none (with it), a config differing from the saved one.
        RayMissingError: Ray is not installed.
    """
    if max_concurrent is not None and max_concurrent < 1:
        raise SweepConfigError(f"max_concurrent must be >= 1, got {max_concurrent}")
    if retries is not None and retries < 0:
        raise SweepConfigError(f"retries must be >= 0, got {retries}")
    if num_cpus is not None and (num_cpus < 1 or address is not None):
        raise SweepConfigError(
            "num_cpus sizes a local Ray and must be >= 1; a cluster (address) keeps its own"
        )
    out_dir = Path(out_dir).resolve()
    if resume:
        state = SweepState.load(out_dir)
        saved = load_config(out_dir / CONFIG)
        if config is not None and config.to_dict() != saved.to_dict():
            raise SweepConfigError(
                f"the config differs from the one the sweep in {out_dir} started with "
                f"({out_dir / CONFIG}); resume without a config or start a new sweep"
            )
        config = saved
    elif config is None:
        raise SweepConfigError("a sweep config is required unless resuming")
    elif (out_dir / STATE).exists():  # checked again on creation; this one is before Ray starts
        raise SweepConfigError(
            f"{out_dir} already holds a sweep ({STATE}); continue it with --resume {out_dir} "
            "or choose another --out"
        )
    ray = _import_ray()
    todo = state.todo() if resume else [s.run_id for s in expand(config)]
    started = _connect(ray, address, num_cpus) if todo else False
    interrupted = False
    try:
        if not resume:
            state = SweepState.create(out_dir, config)
        state.save()
        bar = _Progress(len(state.records), len(state.records) - len(todo), progress)
        if resume:
            bar.line(f"resuming {out_dir}: {len(todo)} of {len(state.records)} runs left")
        evaluation = {
            "episodes": config.evaluation.episodes,
            "splits": config.evaluation.splits,
            "seed": config.evaluation.seed,
        }
        retries = config.retries if retries is None else retries
        try:
            if todo:
                _drive(ray, state, todo, evaluation, config, retries, max_concurrent, train_fn, bar)
        except KeyboardInterrupt:
            interrupted = True
            bar.line(f"interrupted: finished runs are kept; continue with --resume {out_dir}")
        finally:
            for record in state.records.values():
                if record.status == RUNNING:
                    record.status = PENDING
            state.save()
            bar.close()
    finally:
        if started:
            ray.shutdown()
    report = write_report(state, config)
    return SweepResult(out_dir, tuple(state.records.values()), report, interrupted)


def _drive(
    ray: Any,
    state: SweepState,
    todo: list[str],
    evaluation: dict[str, Any],
    config: SweepConfig,
    retries: int,
    max_concurrent: int | None,
    train_fn: TrainFn | None,
    bar: _Progress,
) -> None:
    """Submits runs as Ray tasks, records each result as it lands, retries failures.

    Ray's own task retries are off (``max_retries=0``) so that every attempt, and why it
    failed, is recorded here. An attempt running longer than ``config.timeout_s`` is
    cancelled (its worker killed) and counts as a failure. A run whose arguments
    ``agents.train`` rejects (:class:`RunRejectedError`) is not retried.
    """
    # max_calls=1: every run gets a fresh worker process, like a command line would
    # (no state, threads or GPU memory carried over from the previous run).
    task = ray.remote(max_calls=1, max_retries=0)(execute_run).options(
        num_cpus=config.resources.num_cpus, num_gpus=config.resources.num_gpus
    )
    # Train on what the task declared: the GPU Ray assigned it, or the CPU only.
    device = "cuda" if config.resources.num_gpus > 0 else "cpu"
    queue = deque(todo)
    tries = dict.fromkeys(todo, 0)
    inflight: dict[Any, str] = {}
    deadlines: dict[Any, float] = {}
    timed_out: set[Any] = set()
    limit = max_concurrent or len(todo)
    try:
        while queue or inflight:
            while queue and len(inflight) < limit:
                run_id = queue.popleft()
                record = state.records[run_id]
                record.attempts += 1
                record.status = RUNNING
                tries[run_id] += 1
                attempt_dir = state.out_dir / "runs" / run_id / f"attempt-{record.attempts}"
                ref = task.remote(
                    record.spec.to_dict(), str(attempt_dir), evaluation, train_fn, device
                )
                inflight[ref] = run_id
                if config.timeout_s is not None:
                    deadlines[ref] = time.monotonic() + config.timeout_s
            state.save()
            wait = None
            if deadlines:
                wait = max(0.0, min(deadlines.values()) - time.monotonic())
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=wait)
            if not ready:  # a deadline passed: cancel; the ref then fails and is handled below
                now = time.monotonic()
                for ref, deadline in list(deadlines.items()):
                    if deadline <= now:
                        ray.cancel(ref, force=True)
                        timed_out.add(ref)
                        del deadlines[ref]
                continue
            for ref in ready:
                run_id = inflight.pop(ref)
                deadlines.pop(ref, None)
                record = state.records[run_id]
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:
                    reason = _describe_failure(ray, err)
                    if ref in timed_out:
                        reason = f"TimeoutError: cancelled after timeout_s={config.timeout_s} s"
                    record.errors.append(f"attempt {record.attempts}: {reason}")
                    first = reason.splitlines()[0]
                    rejected = isinstance(getattr(err, "cause", None), RunRejectedError)
                    if tries[run_id] <= retries and not rejected:
                        record.status = PENDING
                        queue.append(run_id)
                        bar.line(f"retry  {run_id} (attempt {record.attempts} failed: {first})")
                    else:
                        record.status = FAILED
                        bar.finish(f"FAILED {run_id} after {record.attempts} attempts: {first}")
                else:
                    _record_result(state, record, result)
                    bar.finish(
                        f"done   {run_id} ({record.duration_s:.0f}s, attempt {record.attempts})  "
                        f"{_scores_text(result['scores'])}"
                    )
                state.save()
    finally:
        for ref in inflight:
            ray.cancel(ref, force=True)


def _record_result(state: SweepState, record: RunRecord, result: dict[str, Any]) -> None:
    rel = f"results/{record.spec.run_id}.json"
    payload = {"spec": record.spec.to_dict(), "attempt": record.attempts, **result}
    atomic_write_text(state.out_dir / rel, json.dumps(payload, indent=2, default=str) + "\n")
    record.status = DONE
    record.result = rel
    record.run_dir = result["run_dir"]
    record.duration_s = float(result["duration_s"])
    record.host = result.get("host")


# --------------------------------------------------------------------------- the report


def transfer_reports(state: SweepState, config: SweepConfig) -> dict[str, dict[str, list[Any]]]:
    """The finished runs' transfer reports: env -> group label -> reports (seed order).

    This is what the grouped report aggregates; callers such as benchmarks can pass one
    env's mapping to :func:`agents.evaluation.aggregate_runs` themselves.
    """
    from agents.evaluation import TransferReport

    group_by = config.grouping()
    per_env: dict[str, dict[str, list[Any]]] = {}
    for run_id, record in state.records.items():
        result = state.result(run_id)
        if result is not None:
            report = TransferReport.from_dict(result["transfer"])
            group = per_env.setdefault(record.spec.env, {}).setdefault(
                record.spec.group(group_by), []
            )
            group.append(report)
    return per_env


def write_report(state: SweepState, config: SweepConfig) -> dict[str, Any]:
    """Writes ``report.md``/``report.json``: runs, failures and the grouped rliable report.

    Groups are the values of :meth:`SweepConfig.grouping`; per env, every group's
    finished runs (seeds) go to :func:`agents.evaluation.aggregate_runs` (IQM, mean,
    median, optimality gap with bootstrap CIs; probability of improvement between
    groups), saved under ``grouped/<env>/``. Failed runs and the failed attempts of
    runs that recovered are listed with their reasons.
    """
    group_by = config.grouping()
    rows, failures, recovered = [], [], []
    for run_id, record in state.records.items():
        result = state.result(run_id)
        rows.append(
            {
                "run_id": run_id,
                "group": record.spec.group(group_by),
                "status": record.status,
                "attempts": record.attempts,
                "duration_s": record.duration_s,
                "run_dir": record.run_dir,
                "scores": result["scores"] if result else {},
            }
        )
        entry = {"run_id": run_id, "status": record.status, "errors": list(record.errors)}
        if record.status != DONE:
            failures.append(entry)
        elif record.errors:
            recovered.append(entry)
    grouped: dict[str, Any] = {}
    tables = []
    for env, groups in transfer_reports(state, config).items():
        try:
            aggregate = aggregate_groups(groups, config.evaluation.bootstrap_reps)
        except ValueError as err:  # e.g. runs evaluated on different splits
            grouped[env] = {"error": str(err)}
            tables.append(f"### {env}\n\nNo grouped report: {err}")
            continue
        aggregate.save(state.out_dir / "grouped" / env)
        grouped[env] = aggregate.to_dict()
        tables.append(f"### {env}\n\n{aggregate.table()}")
    report = {
        "sweep": config.name,
        "out_dir": str(state.out_dir),
        "group_by": list(group_by),
        "counts": state.counts(),
        "runs": rows,
        "failures": failures,
        "recovered": recovered,
        "grouped": grouped,
    }
    atomic_write_text(state.out_dir / "report.json", json.dumps(report, indent=1, default=str))
    markdown = "\n\n".join(tables) or "No finished runs yet: no grouped report."
    atomic_write_text(state.out_dir / "report.md", _report_markdown(report, markdown))
    return report


def aggregate_groups(groups: Mapping[str, Sequence[Any]], reps: int | None = None) -> Any:
    """The evaluator's rliable aggregation of ``{group: [TransferReport, ...]}`` (one env)."""
    from agents.evaluation import aggregate_runs

    if reps is None:
        return aggregate_runs(groups)
    return aggregate_runs(groups, reps=reps, improvement_reps=reps)


def _report_markdown(report: dict[str, Any], grouped_md: str) -> str:
    counts = report["counts"]
    lines = [
        f"# Sweep `{report['sweep']}`",
        "",
        f"{counts[DONE]} done, {counts[FAILED]} failed, {counts[PENDING]} not run; "
        f"groups by {', '.join(report['group_by'])}.",
        "",
        "## Grouped report (rliable, per env; details in grouped/<env>/report.md)",
        "",
        grouped_md,
        "",
        "## Runs",
        "",
        "| run | group | status | attempts | time (s) | scores |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["runs"]:
        duration = "" if row["duration_s"] is None else f"{row['duration_s']:.0f}"
        lines.append(
            f"| {row['run_id']} | {row['group']} | {row['status']} | {row['attempts']} | "
            f"{duration} | {_scores_text(row['scores'])} |"
        )
    lines += ["", "## Failures", ""]
    if not report["failures"]:
        lines.append("None.")
    for failure in report["failures"]:
        lines.append(f"- **{failure['run_id']}** ({failure['status']}):")
        for error in failure["errors"] or ["not run yet"]:
            lines.append(f"  - {error.splitlines()[0]}")
    if report["recovered"]:
        lines += ["", "## Failed attempts of runs that then finished", ""]
    for entry in report["recovered"]:
        lines.append(f"- **{entry['run_id']}**:")
        lines += [f"  - {error.splitlines()[0]}" for error in entry["errors"]]
    lines += ["", f"Full reasons (with the end of each train.log) are in {STATE}."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.sweep",
        description=(
            "Run a sweep (envs x algos x curricula x seeds x --set values) on Ray: every run "
            "is agents.train, evaluated on every split; ends with the grouped rliable report."
        ),
        epilog=(
            "Local: python -m agents.sweep examples/sweeps/point-curricula.yaml --num-cpus 2. "
            "Cluster: start it with `ray start --head` (and `ray start --address HEAD:6379` on "
            "workers), then add --address auto on the head or --address ray://HEAD:10001. "
            "Exit status: 0 every run finished, 1 some failed (see report.md), 2 bad input, "
            "130 interrupted (continue with --resume)."
        ),
    )
    parser.add_argument("config", nargs="?", help="sweep YAML file (optional with --resume)")
    parser.add_argument(
        "--address",
        help="join this Ray cluster ('auto', 'HOST:6379' or 'ray://HOST:10001') instead of "
        "starting a local Ray",
    )
    parser.add_argument(
        "--num-cpus",
        type=int,
        metavar="N",
        help="CPUs of the local Ray (default: all); not with --address",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="at most N runs at once (default: as resources allow)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="sweep folder (default: runs/sweeps/<name>-<YYYYmmdd-HHMMSS>)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the sweep in DIR; finished runs are not redone",
    )
    parser.add_argument(
        "--retries",
        type=int,
        metavar="K",
        help="extra attempts per failed or killed run (default: the "
        "config's 'retries', 2 if unset)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar or per-run lines"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns 0 if every run finished, 1 if some failed.

    Bad input (config, folders, flags, Ray missing) prints one message and returns 2; an
    interrupted sweep returns 130.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        if args.resume is not None and args.out is not None:
            raise SweepConfigError(
                "--resume DIR continues the sweep in DIR; do not also give --out"
            )
        if args.config is None and args.resume is None:
            raise SweepConfigError("give a sweep CONFIG.yaml (or --resume DIR)")
        config = load_config(args.config) if args.config is not None else None
        if args.resume is not None:
            out_dir = args.resume
        else:
            assert config is not None
            out_dir = (
                args.out or Path("runs/sweeps") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            )
        result = run_sweep(
            config,
            out_dir,
            address=args.address,
            max_concurrent=args.max_concurrent,
            num_cpus=args.num_cpus,
            retries=args.retries,
            resume=args.resume is not None,
            progress=not args.no_progress,
        )
    except (SweepConfigError, RayMissingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report_md = result.out_dir / "report.md"
    print(f"\nsweep folder: {result.out_dir}\nreport: {report_md}")
    if result.failed:
        print(f"{len(result.failed)} run(s) failed; reasons in {report_md} and {STATE}")
    if result.interrupted:
        return 130
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
