"""The scheduler interface every curriculum implements, its typed configs and the guard.

A :class:`CurriculumScheduler` decides *what to practise next* — a scenario
:class:`~envs.scenarios.Distribution` (a sub-distribution of ``train``, or concrete
:class:`~envs.scenarios.Levels` to replay) — from the results of finished episodes. It
works on any env through the generic scenario-space API only, owns a seeded
``np.random.Generator``, and serialises its whole state (RNG included) to plain JSON.

The guard: :meth:`CurriculumScheduler.distribution` checks every proposal with
``space.is_within_train`` and raises :class:`CurriculumGuardError` when a scheduler would
let a worker practise anything outside ``train`` (held-out splits stay held out).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from envs.config import from_mapping
from envs.fileio import atomic_write
from envs.scenarios import Distribution, ScenarioSpace

__all__ = [
    "CurriculumGuardError",
    "CurriculumScheduler",
]

C = TypeVar("C")


class CurriculumGuardError(ValueError):
    """A scheduler proposed a distribution that can draw scenarios outside ``train``."""


# --------------------------------------------------------------------------- configs


def config_to_plain(config: Any) -> Any:
    """A config dataclass as plain JSON/YAML data (inverse of :func:`envs.config.from_mapping`)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {
            f.name: config_to_plain(getattr(config, f.name)) for f in dataclasses.fields(config)
        }
    if isinstance(config, (list, tuple)):
        return [config_to_plain(v) for v in config]
    if isinstance(config, Mapping):
        return {k: config_to_plain(v) for k, v in config.items()}
    return config


def scenario_key(scenario: Mapping[str, Any]) -> str:
    """A hashable, order-independent key of one concrete scenario (its sorted JSON)."""
    return json.dumps(scenario, sort_keys=True)


def check_fraction(owner: str, name: str, value: float, *, open_low: bool = False) -> None:
    """Raises ValueError unless ``value`` is a number in [0, 1] (or (0, 1])."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (0.0 < value <= 1.0) if open_low else (0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{owner}.{name} must be a number in {interval}, got {value!r}")


def check_positive_int(owner: str, name: str, value: int) -> None:
    """Raises ValueError unless ``value`` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}.{name} must be an integer >= 1, got {value!r}")


# ------------------------------------------------------------------------ scheduler


class CurriculumScheduler(abc.ABC):
    """Chooses what workers practise next from the results of finished episodes.

    Subclasses set ``name`` and ``config_class`` and implement :meth:`_propose` and
    :meth:`_update`; they keep their state in plain attributes listed by
    :meth:`_state`/:meth:`_load_state`.

    Args:
        space: The env's scenario space (the only thing a scheduler knows of the env).
        seed: Seeds the scheduler's own ``np.random.Generator``.
        total_timesteps: Training budget (schedules that depend on time use it).
        config: Options (a mapping from YAML or an instance of ``config_class``).

    Attributes:
        per_worker: ``True`` when each worker gets its own decision at its episode end
            (bandit/replay schedulers); ``False`` when all workers share one distribution
            that is re-sent whenever it changes.
        version: Increases whenever the shared distribution changes; the SB3 callback
            reports with each episode the version its scenario was drawn under.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    per_worker: ClassVar[bool] = False

    def __init__(
        self,
        space: ScenarioSpace,
        *,
        seed: int,
        total_timesteps: int,
        config: Mapping[str, Any] | Any | None = None,
    ) -> None:
        if not isinstance(space, ScenarioSpace):
            raise ValueError(f"space must be a ScenarioSpace, got {type(space).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, (int, np.integer)):
            raise ValueError(f"total_timesteps must be an integer, got {total_timesteps!r}")
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        self.space = space
        self.seed = int(seed)
        self.total_timesteps = int(total_timesteps)
        self.config = from_mapping(self.config_class, config)
        self.rng = np.random.default_rng(self.seed)
        self.num_timesteps = 0
        self.episodes = 0
        self.version = 0

    # ----------------------------------------------------------------- public API

    def distribution(self, worker: int | None = None) -> Distribution:
        """What ``worker`` (or every worker, for shared schedulers) should practise next.

        Raises:
            CurriculumGuardError: The proposal could draw a scenario outside ``train``.
        """
        dist = self._propose(worker)
        self.check_within_train(dist)
        return dist

    def check_within_train(self, dist: Distribution) -> None:
        """The guard: raises :class:`CurriculumGuardError` unless ``dist`` lies in train."""
        if not self.space.is_within_train(dist):
            raise CurriculumGuardError(
                f"{self.name} curriculum proposed {dist.to_dict()}, which can draw scenarios "
                f"outside the 'train' split {self.space.distribution('train').to_dict()}; "
                "curricula may only practise inside train (held-out splits stay held out)"
            )

    def update_on_episode(
        self,
        scenario: Mapping[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        *,
        worker: int | None = None,
        version: int | None = None,
    ) -> None:
        """Records one finished episode.

        Args:
            scenario: The scenario it was played in (``info["scenario"]``).
            episode_return: Undiscounted return.
            length: Number of steps.
            success: ``info["is_success"]`` (``None`` when the env did not report it).
            worker: Index of the worker that played it.
            version: :attr:`version` under which its scenario was drawn (``None`` when
                it came from the env's construction distribution).
        """
        scenario = self.space.validate(scenario)
        self.episodes += 1
        self._update(
            scenario,
            float(episode_return),
            int(length),
            None if success is None else bool(success),
            worker,
            version,
        )

    def on_timesteps(self, num_timesteps: int) -> None:
        """Tells the scheduler how many environment steps training has taken so far."""
        self.num_timesteps = int(num_timesteps)

    def metrics(self) -> dict[str, float]:
        """Scalars to log (``difficulty``, per-bin success and weights, ...)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The whole state as JSON-serialisable data (RNG included)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "total_timesteps": self.total_timesteps,
            "config": config_to_plain(self.config),
            "rng": _json_safe(self.rng.bit_generator.state),
            "num_timesteps": self.num_timesteps,
            "episodes": self.episodes,
            "version": self.version,
            "state": self._state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict` output so a resumed run continues its curriculum.

        Raises:
            ValueError: ``state`` belongs to another scheduler or another config.
        """
        if state.get("name") != self.name:
            raise ValueError(
                f"state belongs to the {state.get('name')!r} curriculum, not {self.name!r}"
            )
        if state.get("config") != json.loads(json.dumps(config_to_plain(self.config))):
            raise ValueError(
                f"state was saved with config {state.get('config')}, but this scheduler has "
                f"{config_to_plain(self.config)}; build it with the saved config to resume"
            )
        self.seed = int(state["seed"])
        self.rng.bit_generator.state = state["rng"]
        self.num_timesteps = int(state["num_timesteps"])
        self.episodes = int(state["episodes"])
        self.version = int(state["version"])
        self._load_state(state["state"])

    def save(self, path: str | os.PathLike) -> None:
        """Writes :meth:`state_dict` as JSON (atomically)."""
        atomic_write(path, json.dumps(self.state_dict(), indent=1))

    def load(self, path: str | os.PathLike) -> None:
        """Restores a state written by :meth:`save`."""
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read curriculum state {str(path)!r}: {err}") from None
        self.load_state_dict(state)

    # -------------------------------------------------------------- subclass hooks

    @abc.abstractmethod
    def _propose(self, worker: int | None) -> Distribution:
        """The next distribution (checked by the guard afterwards)."""

    def _update(  # noqa: B027 (optional hook)
        self,
        scenario: dict[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        worker: int | None,
        version: int | None,
    ) -> None:
        """Learns from one finished episode (``scenario`` already validated)."""

    def _state(self) -> dict[str, Any]:
        """Subclass state as JSON-serialisable data."""
        return {}

    def _load_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027
        """Inverse of :meth:`_state`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, config={self.config})"


def _json_safe(value: Any) -> Any:
    """Converts numpy scalars/arrays inside nested data to plain Python."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
