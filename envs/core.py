"""The env contract every practicegym env follows: :class:`ScenarioEnv`.

``ScenarioEnv`` is a fixed template around two hooks a subclass fills:

* ``_reset_world(scenario) -> (obs, info)`` builds the world for one scenario;
* ``_step_world(action) -> (obs, reward, terminated, truncated, info)`` advances it.

The template does what every env must do the same way: samples the scenario from the
active distribution with ``self.np_random`` (or takes ``options["scenario"]``, filling
missing parameters by sampling), validates actions (NaN, inf or a wrong shape raise
``ValueError``; continuous actions are clipped to the action space), reports
``info["scenario"]`` on reset and on every step and ``info["is_success"]`` at episode
end, and appends the normalised scenario to the observation when ``context="visible"``.

It also holds the other typed parts of the env contract: :class:`Policy` (what a
scripted expert, and every policy the evaluator runs, looks like) and the perception
hooks an env may offer (:class:`FramePerception`, :class:`TextPerception`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.scenarios import Distribution, Levels, ParamDistribution, Scenario, ScenarioSpace

__all__ = [
    "CONTEXT_KEY",
    "EnvContractError",
    "FramePerception",
    "Policy",
    "ScenarioEnv",
    "TextPerception",
    "draw_scenario",
    "validate_action",
]

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")
CONTEXT_MODES = ("hidden", "visible")
CONTEXT_KEY = "context"
_PLAIN_INTS = (int, np.int64, np.int32)


class EnvContractError(RuntimeError):
    """An env broke the :class:`ScenarioEnv` contract (e.g. episode-end info missing)."""


@runtime_checkable
class Policy(Protocol):
    """What acts in an env: SB3's ``predict`` with ``action_masks``.

    Scripted experts, the evaluator's baselines and trained policies all have this
    shape. One observation in (unbatched, as the env returns it), ``(action, state)``
    out. ``action_masks`` is the env's ``action_masks()`` (a bool array) when the env
    masks actions, else ``None``; a policy that cannot use masks ignores them.
    """

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[Any, Any]:
        """The action for ``observation`` and the next recurrent state."""
        ...


@runtime_checkable
class FramePerception(Protocol):
    """Perception hooks of an env whose world can be seen (``agents.perception``).

    ``perception_frame`` renders the current state as an ``(size, size, 3)`` uint8
    image, ``perception_labels`` returns the privileged quantities a CNN should read off
    it, keyed as ``perception_label_units`` (name -> unit) lists them.
    """

    perception_label_units: ClassVar[dict[str, str]]

    def perception_frame(self, size: int = 64) -> Any:
        """The current state as an image."""
        ...

    def perception_labels(self) -> dict[str, float]:
        """Privileged labels of the current state."""
        ...


@runtime_checkable
class TextPerception(Protocol):
    """Perception hooks of an env whose observations are text (``agents.perception``).

    ``perception_text`` is the latest utterance the agent perceives;
    ``perception_semantics`` its true meaning in the env's semantic notation.
    """

    def perception_text(self) -> str:
        """The latest text the agent perceives."""
        ...

    def perception_semantics(self) -> str:
        """The true semantics of :meth:`perception_text`."""
        ...


class ScenarioEnv(gym.Env[ObsType, ActType], Generic[ObsType, ActType], abc.ABC):
    """Base class of practicegym envs: scenario sampling, action checks and context.

    Subclasses set ``self.action_space`` and call :meth:`_declare_observation_space`
    in ``__init__`` after ``super().__init__``, and implement ``_reset_world`` and
    ``_step_world``.

    Args:
        scenario_space: The env's scenario space.
        split: Split whose distribution resets sample from (``"train"`` or a held-out
            split name).
        context: ``"hidden"`` (default) or ``"visible"``: visible appends the
            normalised scenario to the observation (a ``"context"`` key for dict
            observations, extra trailing entries for flat ``Box`` observations).
        render_mode: One of the class's ``metadata["render_modes"]`` or ``None``.

    Attributes:
        episode_info_keys: Keys every env reports in ``info`` at episode end besides
            ``is_success`` (its safety/quality measures); the conformance kit checks them.
        copy_atol: Absolute tolerance within which a ``copy.deepcopy`` or ``pickle``
            copy taken mid-episode reproduces the original's observations, rewards and
            numeric infos (0: bit for bit, the default). An env whose simulator cannot
            hand over every bit of its state (PyBullet's contact caches) declares what it
            achieves; the conformance kit checks copies against it.
    """

    episode_info_keys: ClassVar[tuple[str, ...]] = ()
    copy_atol: ClassVar[float] = 0.0

    def __init__(
        self,
        scenario_space: ScenarioSpace,
        *,
        split: str | Distribution = "train",
        context: str = "hidden",
        render_mode: str | None = None,
    ) -> None:
        if context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {list(CONTEXT_MODES)}, got {context!r}")
        modes = self.metadata.get("render_modes", [])
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")
        self.scenario_space = scenario_space
        self.context = context
        self.render_mode = render_mode
        self._distribution = scenario_space.distribution(split)
        self.split = split if isinstance(split, str) else "custom"
        self.scenario: Scenario = {}
        self._episode_over = True

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    def _reset_world(self, scenario: Scenario) -> tuple[Any, dict[str, Any]]:
        """Builds the world for ``scenario``; returns the first observation and info."""

    @abc.abstractmethod
    def _step_world(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Advances the world by one (validated) action.

        Must put ``is_success`` and every key of ``episode_info_keys`` in ``info`` when
        the returned ``terminated`` or ``truncated`` is true.
        """

    # --------------------------------------------------------------- template

    def _declare_observation_space(self, world_space: spaces.Space) -> None:
        """Sets ``observation_space`` from the world's, adding context when visible."""
        self._world_observation_space = world_space
        if self.context == "hidden":
            self.observation_space = world_space
            return
        size = self.scenario_space.context_size
        context_space = spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        if isinstance(world_space, spaces.Dict):
            self.observation_space = spaces.Dict({**world_space.spaces, CONTEXT_KEY: context_space})
        elif isinstance(world_space, spaces.Box) and len(world_space.shape) == 1:
            self.observation_space = spaces.Box(
                low=np.concatenate([world_space.low, context_space.low]).astype(world_space.dtype),
                high=np.concatenate([world_space.high, context_space.high]).astype(
                    world_space.dtype
                ),
                dtype=world_space.dtype,
            )
        else:
            self.observation_space = spaces.Dict(
                {"observation": world_space, CONTEXT_KEY: context_space}
            )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Starts an episode in a scenario drawn from the active distribution.

        Args:
            seed: Seeds ``self.np_random`` (Gymnasium semantics).
            options: ``{"scenario": {...}}`` forces a scenario; missing parameters are
                drawn from the active distribution. Other keys raise ``ValueError``.
        """
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        super().reset(seed=seed)
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(
                f"reset options must be a dict like {{'scenario': {{...}}}} or None, "
                f"got {type(options).__name__}"
            )
        options = dict(options or {})
        forced = options.pop("scenario", None)
        if options:
            raise ValueError(
                f"unknown reset options {sorted(options, key=repr)}; valid: ['scenario']"
            )
        self.scenario = draw_scenario(
            self.scenario_space, self._distribution, self.np_random, forced
        )
        obs, info = self._reset_world(self.scenario)
        self._episode_over = False
        info["scenario"] = dict(self.scenario)
        return self._with_context(obs), info

    def step(self, action: ActType) -> tuple[ObsType, float, bool, bool, dict[str, Any]]:
        """Validates ``action`` and advances the world (see the class docstring)."""
        if not self.scenario:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._episode_over:
            raise EpisodeOverError(
                f"{type(self).__name__}: the episode has ended (terminated or truncated); "
                "call reset() before step()"
            )
        action = validate_action(self.action_space, action)
        obs, reward, terminated, truncated, info = self._step_world(action)
        info["scenario"] = dict(self.scenario)
        if terminated or truncated:
            self._episode_over = True
            missing = [k for k in ("is_success", *self.episode_info_keys) if k not in info]
            if missing:
                raise EnvContractError(
                    f"{type(self).__name__} did not report {missing} in info at episode end "
                    f"(required: is_success and episode_info_keys {list(self.episode_info_keys)})"
                )
            info["is_success"] = bool(info["is_success"])
        return self._with_context(obs), float(reward), bool(terminated), bool(truncated), info

    def set_distribution(self, split_or_distribution: str | Distribution | Mapping) -> None:
        """Changes what later resets sample: a split name, a Distribution or its dict form.

        Curricula call this on every worker through ``VecEnv.env_method``.
        """
        if isinstance(split_or_distribution, Mapping):
            split_or_distribution = self.scenario_space.distribution_from_dict(
                split_or_distribution
            )
        self._distribution = self.scenario_space.distribution(split_or_distribution)
        self.split = split_or_distribution if isinstance(split_or_distribution, str) else "custom"

    def get_distribution(self) -> Distribution:
        """The distribution later resets sample from."""
        return self._distribution

    def _with_context(self, obs: Any) -> Any:
        if self.context == "hidden":
            return obs
        context = self.scenario_space.normalize(self.scenario)
        if isinstance(self._world_observation_space, spaces.Dict):
            return {**obs, CONTEXT_KEY: context}
        if isinstance(self.observation_space, spaces.Dict):
            return {"observation": obs, CONTEXT_KEY: context}
        return np.concatenate([obs, context.astype(obs.dtype)])


def draw_scenario(
    space: ScenarioSpace,
    distribution: Distribution,
    rng: np.random.Generator,
    forced: Mapping[str, Any] | None = None,
) -> Scenario:
    """The scenario of a reset: drawn from ``distribution``, then ``forced`` values applied.

    Every env (and vector env world) draws its scenario this way, so a world seeded like
    a single env sees the same scenarios.
    """
    scenario = distribution.sample(rng)
    if not isinstance(distribution, (ParamDistribution, Levels)):
        scenario = space.validate(scenario)  # a user-defined distribution
    if forced is not None:
        scenario.update(space.validate(forced, partial=True))
    return scenario


_REAL_KINDS = frozenset("biuf")  # bool, signed/unsigned int, float (not complex/str/object)


class EpisodeOverError(gym.error.ResetNeeded, ValueError):
    """``step()`` after the episode ended; call ``reset()`` first."""


def validate_action(space: spaces.Space, action: Any) -> Any:
    """Checks an action against ``space``; returns it in canonical form.

    Box actions must have the space's shape and be finite; they are clipped to the
    bounds. Discrete actions must be integers in range. Anything else raises
    ``ValueError`` saying what was expected.
    """
    if isinstance(space, spaces.Box):
        try:
            raw = np.asarray(action)
        except (TypeError, ValueError):
            raw = np.asarray(None)
        if raw.dtype.kind not in _REAL_KINDS:  # complex, strings, objects
            raise ValueError(
                f"action must be real numbers with shape {space.shape}, got {raw.dtype} {action!r}"
            )
        if raw.shape != space.shape:
            raise ValueError(f"action must have shape {space.shape}, got shape {raw.shape}")
        if not np.isfinite(raw).all():
            raise ValueError(f"action must be finite (no NaN/inf), got {raw}")
        # Clip before the cast, so a huge finite action (1e300) is clipped, not made inf.
        return raw.clip(space.low, space.high).astype(space.dtype, copy=False)
    if isinstance(space, spaces.Discrete):
        if type(action) in _PLAIN_INTS and space.start <= action < space.start + space.n:
            return int(action)  # fast path: a plain in-range integer needs no conversion
        arr = np.asarray(action)
        if (
            arr.dtype.kind not in _REAL_KINDS
            or arr.size != 1
            or not (
                np.issubdtype(arr.dtype, np.integer)
                or (
                    np.issubdtype(arr.dtype, np.floating)
                    and np.isfinite(arr).all()
                    and float(arr.reshape(())).is_integer()
                )
            )
        ):
            raise ValueError(
                f"action must be one integer in [{space.start}, {space.start + space.n - 1}], "
                f"got {action!r}"
            )
        value = int(arr.reshape(()))
        if not space.start <= value < space.start + space.n:
            raise ValueError(
                f"action {value} out of range; valid: [{space.start}, {space.start + space.n - 1}]"
            )
        return value
    if isinstance(space, spaces.MultiDiscrete):
        arr = np.asarray(action)
        if arr.shape != space.shape or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"action must be integers with shape {space.shape}, got {action!r}")
        if np.any(arr < space.start) or np.any(arr >= space.start + space.nvec):
            raise ValueError(f"action {arr} out of range; valid: each below {space.nvec}")
        return arr.astype(space.dtype)
    if not space.contains(action):
        raise ValueError(f"action {action!r} is not in the action space {space}")
    return action
