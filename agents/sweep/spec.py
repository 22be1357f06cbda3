"""The runs of a sweep: :func:`expand` crosses a config's axes into :class:`RunSpec` s."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.sweep.config import SweepConfig, SweepConfigError, format_override


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


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(value)).strip("_") or "_"
