"""``DrivingVectorEnv``: N driving worlds advanced by one set of array operations per step.

A native :class:`gymnasium.vector.VectorEnv` over :class:`~envs.driving.worlds.DrivingWorlds`,
registered as the ``vector_entry_point`` of every driving id::

    gymnasium.make_vec("practicegym/Driving-v0", num_envs=256,
                       vectorization_mode="vector_entry_point")
    envs.make_vec("driving", num_envs=256, split="heldout-curves")

Gymnasium 1.x semantics: ``metadata["autoreset_mode"]`` is ``NEXT_STEP`` (default) or
``SAME_STEP`` (pass ``autoreset_mode=``); infos are dicts of ``(N,)`` arrays with
``_key`` masks (``reward_terms`` and ``scenario`` nested the same way); in ``SAME_STEP``
mode the step that ends an episode returns the next episode's first observation and
puts the last one in ``info["final_obs"]`` (an object array, ``None`` elsewhere) and
its info in ``info["final_info"]``. ``reset(seed=s)`` seeds world ``k`` with ``s + k``
(``seed=[...]`` one per world); world ``k`` then follows ``DrivingEnv`` reset with the
same seed bit for bit under the same actions, whatever N.

Per-world access (used by the SB3 adapter's ``env_method``/``get_attr``):
:meth:`call_world`, :meth:`get_world_attr`, :meth:`set_world_attr`.

Example:
    >>> env = DrivingVectorEnv(num_envs=4)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space.shape
    ((4, 40), (4, 2))
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> reward.shape, info["reward_terms"]["progress"].shape, bool(info["_crashed"].all())
    ((4,), (4,), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.core import CONTEXT_KEY, draw_scenario
from envs.driving.config import DrivingConfig, RewardWeights
from envs.driving.env import DrivingEnv
from envs.driving.worlds import DrivingWorlds, WorldView
from envs.scenarios import Categorical, Distribution, Integer

__all__ = ["DrivingVectorEnv"]

_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


class DrivingVectorEnv(VectorEnv):
    """N driving worlds in one batch (see the module docstring).

    Args:
        num_envs: Number of worlds N.
        task, split, context, render_mode, obs_type, action_type, reward, config: As
            for :class:`~envs.driving.env.DrivingEnv`, shared by every world.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default) or ``SAME_STEP`` (or their
            values, ``"NextStep"``/``"SameStep"``, or names, ``"next_step"``/``"same_step"``).
    """

    def __init__(
        self,
        num_envs: int = 1,
        task: str = "full",
        split: str = "train",
        context: str = "hidden",
        render_mode: str | None = None,
        obs_type: str = "kinematics",
        action_type: str = "continuous",
        reward: RewardWeights | Mapping[str, float] | None = None,
        config: DrivingConfig | Mapping[str, Any] | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        names = {m.value.lower(): m for m in _MODES} | {m.name.lower(): m for m in _MODES}
        key = autoreset_mode.value if isinstance(autoreset_mode, AutoresetMode) else autoreset_mode
        mode = names.get(str(key).lower())
        if mode is None:
            valid = [m.value for m in _MODES] + [m.name.lower() for m in _MODES]
            raise ValueError(f"autoreset_mode must be one of {valid}, got {autoreset_mode!r}")
        # A batch of one describes a world: spaces, scenario space, configs, checks.
        self._single = DrivingEnv(
            task, split, context, render_mode, obs_type, action_type, reward, config
        )
        single = self._single
        self.num_envs = num_envs
        self.autoreset_mode = mode
        self.metadata = {**DrivingEnv.metadata, "autoreset_mode": mode}
        self.render_mode = render_mode
        self.task, self.context, self.config = task, context, single.config
        self.scenario_space = single.scenario_space
        self.single_observation_space = single.observation_space
        self.single_action_space = single.action_space
        self.observation_space = batch_space(single.observation_space, num_envs)
        self.action_space = batch_space(single.action_space, num_envs)
        self.worlds = DrivingWorlds(
            num_envs,
            space=self.scenario_space,
            obs_type=obs_type,
            action_type=action_type,
            weights=single.weights,
            config=single.config,
        )
        self._distributions: list[Distribution] = [single.get_distribution()] * num_envs
        self.splits = [single.split] * num_envs
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._scenario_columns = {
            p.name: np.zeros(num_envs, dtype=_column_dtype(p)) for p in self.scenario_space.params
        }
        self._context = np.zeros((num_envs, self.scenario_space.context_size), np.float32)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False
        self._discrete = isinstance(single.action_space, spaces.Discrete)

    # ------------------------------------------------------------------ reset

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Resets every world (or those in ``options["reset_mask"]``).

        Args:
            seed: ``int`` (world ``k`` gets ``seed + k``), a list of one seed (or
                ``None``) per world, or ``None`` (keep each world's generator).
            options: ``{"scenario": {...}}`` forces scenario values in every world (or
                a list of one dict or ``None`` per world); ``{"reset_mask": bool array}``
                resets only those worlds.
        """
        n = self.num_envs
        options = dict(options or {})
        forced = options.pop("scenario", None)
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(
                f"unknown reset options {sorted(options)}; valid: ['reset_mask', 'scenario']"
            )
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds: list[int | None] = [int(seed) + k for k in range(n)]
        elif seed is None:
            seeds = [None] * n
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise ValueError(f"seed list has {len(seeds)} entries; expected {n} (num_envs)")
        if forced is None or isinstance(forced, Mapping):
            forced_list = [forced] * n
        else:
            forced_list = list(forced)
            if len(forced_list) != n:
                raise ValueError(
                    f"options['scenario'] list has {len(forced_list)} entries; expected {n}"
                )
        if mask is None:
            worlds = np.arange(n)
        else:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != bool:
                raise ValueError(f"reset_mask must be a bool array of shape ({n},)")
            worlds = np.flatnonzero(mask)
        for k in worlds.tolist():
            if seeds[k] is not None or self._rngs[k] is None:
                self._rngs[k], _ = seeding.np_random(seeds[k])
        self._reset_worlds(worlds, forced_list)
        self._needs_reset[worlds] = False
        self._started = True
        info = self._reset_infos(worlds)
        obs = self._with_context(self.worlds.observe(), None)
        return obs, info

    def _reset_worlds(self, worlds: np.ndarray, forced: Sequence[Any] | None = None) -> None:
        """Draws a scenario for each of ``worlds`` and rebuilds them (per world: reset-time)."""
        space = self.scenario_space
        rngs = [self._rngs[k] for k in worlds.tolist()]
        scenarios = [
            draw_scenario(space, self._distributions[k], rng, None if forced is None else forced[k])
            for k, rng in zip(worlds.tolist(), rngs, strict=True)
        ]
        self.worlds.reset_worlds(worlds, scenarios, rngs)  # type: ignore[arg-type]
        for k, scenario in zip(worlds.tolist(), scenarios, strict=True):
            if self.context == "visible":
                self._context[k] = space.normalize(scenario)
            for name, column in self._scenario_columns.items():
                column[k] = scenario[name]

    def _reset_infos(self, worlds: np.ndarray) -> dict[str, Any]:
        """Infos (dict of ``(N,)`` arrays with masks) holding only ``worlds``' reset info."""
        info: dict[str, Any] = {}
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[worlds] = True
        for key, values in self.worlds.reset_info(worlds).items():
            full = np.zeros(self.num_envs, dtype=values.dtype)
            full[worlds] = values
            info[key], info["_" + key] = full, mask.copy()
        info["scenario"], info["_scenario"] = self._scenario_info(mask), mask.copy()
        return info

    def _scenario_info(self, mask: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, column in self._scenario_columns.items():
            out[name], out["_" + name] = column.copy(), mask.copy()
        return out

    # ------------------------------------------------------------------- step

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Advances every world; ended worlds reset as ``metadata["autoreset_mode"]`` says."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = self._validate(actions)
        worlds = self.worlds
        reward, terminated, truncated, step_info = worlds.step(actions)
        n = self.num_envs
        info: dict[str, Any] = {}
        every = np.ones(n, dtype=bool)
        terms = step_info.pop("reward_terms")
        for key, values in step_info.items():
            info[key], info["_" + key] = values, every.copy()
        info["reward_terms"] = {**terms, **{"_" + k: every.copy() for k in terms}}
        info["_reward_terms"] = every.copy()
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            restart = np.flatnonzero(self._needs_reset)
            if len(restart):
                self._reset_worlds(restart)
                reward[restart] = 0.0
                terminated[restart] = truncated[restart] = False
                self._overwrite(info, restart)
            self._needs_reset = terminated | truncated
            info["scenario"], info["_scenario"] = self._scenario_info(every), every.copy()
            obs = self._with_context(worlds.observe(), None)
            return obs, reward, terminated, truncated, info
        done = np.flatnonzero(terminated | truncated)
        info["scenario"], info["_scenario"] = self._scenario_info(every), every.copy()
        if len(done):
            final_obs = self._with_context(worlds.observe(done), done)
            boxed = np.full(n, None, dtype=object)
            for j, k in enumerate(done.tolist()):
                boxed[k] = _index(final_obs, j)
            mask = np.zeros(n, dtype=bool)
            mask[done] = True
            info["final_obs"], info["_final_obs"] = boxed, mask
            info["final_info"] = _masked(info, mask)
            info["_final_info"] = mask.copy()
            self._reset_worlds(done)
            self._overwrite(info, done)
            info["scenario"] = self._scenario_info(every)
        obs = self._with_context(worlds.observe(), None)
        return obs, reward, terminated, truncated, info

    def _overwrite(self, info: dict[str, Any], worlds: np.ndarray) -> None:
        """Replaces ``worlds``' step info by their reset info (no reward terms)."""
        for key, values in self.worlds.reset_info(worlds).items():
            info[key] = info[key].copy()
            info[key][worlds] = values
        terms = info["reward_terms"]
        for name in [k for k in terms if not k.startswith("_")]:
            terms[name] = terms[name].copy()
            terms[name][worlds] = 0.0
            terms["_" + name][worlds] = False
        info["_reward_terms"][worlds] = False

    def _validate(self, actions: Any) -> np.ndarray:
        """Checks an action batch; raises ``ValueError`` naming the offending worlds."""
        n = self.num_envs
        single = self.single_action_space
        if self._discrete:
            arr = np.asarray(actions)
            if arr.shape != (n,) or not (
                np.issubdtype(arr.dtype, np.integer)
                or (np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all())
            ):
                raise ValueError(
                    f"actions must be {n} integers (shape ({n},)), got shape {arr.shape} "
                    f"of {arr.dtype}"
                )
            bad = np.flatnonzero((arr < 0) | (arr >= single.n) | (arr != np.round(arr)))
            if len(bad):
                raise ValueError(
                    f"actions of worlds {bad.tolist()[:10]} are {arr[bad][:10].tolist()}; "
                    f"valid: integers in [0, {single.n - 1}]"
                )
            return arr.astype(np.intp)
        try:
            arr = np.asarray(actions, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"actions must be numeric with shape {(n, *single.shape)}") from None
        if arr.shape != (n, *single.shape):
            raise ValueError(f"actions must have shape {(n, *single.shape)}, got {arr.shape}")
        finite = np.isfinite(arr).reshape(n, -1).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite).tolist()
            raise ValueError(f"actions of worlds {bad[:10]} are not finite (NaN/inf)")
        return np.clip(arr, single.low, single.high)

    def _with_context(self, obs: np.ndarray, worlds: np.ndarray | None) -> Any:
        if self.context == "hidden":
            return obs
        context = self._context if worlds is None else self._context[worlds]
        if isinstance(self.single_observation_space, spaces.Dict):
            return {"observation": obs, CONTEXT_KEY: context.copy()}
        return np.concatenate([obs, context], axis=1)

    # ------------------------------------------------------- distributions

    def set_distribution(
        self,
        split_or_distribution: str | Distribution | Mapping,
        indices: Sequence[int] | None = None,
    ) -> None:
        """Changes what later resets of ``indices`` (default all) worlds sample."""
        dist = split_or_distribution
        if isinstance(dist, Mapping):
            dist = self.scenario_space.distribution_from_dict(dist)
        dist = self.scenario_space.distribution(dist)
        name = split_or_distribution if isinstance(split_or_distribution, str) else "custom"
        for k in range(self.num_envs) if indices is None else indices:
            self._distributions[k] = dist
            self.splits[k] = name

    def get_distribution(self, index: int = 0) -> Distribution:
        """The distribution later resets of world ``index`` sample from."""
        return self._distributions[index]

    # ----------------------------------------------------------- per world

    def call_world(self, index: int, name: str, *args: Any, **kwargs: Any) -> Any:
        """Calls the single-env method ``name`` for world ``index``.

        Supported: ``set_distribution``, ``get_distribution``, ``perception_frame``,
        ``perception_labels``.
        """
        k = self._check_index(index)
        worlds = np.array([k])
        if name == "set_distribution":
            return self.set_distribution(*args, indices=[k], **kwargs)
        if name == "get_distribution":
            return self.get_distribution(k)
        if name == "perception_frame":
            return self.worlds.frames(worlds)[0]
        if name == "perception_labels":
            return {key: float(v[0]) for key, v in self.worlds.labels(worlds).items()}
        raise AttributeError(
            f"DrivingVectorEnv has no per-world method {name!r}; valid: "
            "['get_distribution', 'perception_frame', 'perception_labels', 'set_distribution']"
        )

    _WORLD_ATTRS = ("scenario", "split")
    _SHARED_ATTRS = (
        "task",
        "context",
        "config",
        "scenario_space",
        "render_mode",
        "spec",
        "metadata",
        "perception_label_units",
        "episode_info_keys",
    )

    def get_world_attr(self, index: int, name: str) -> Any:
        """World ``index``'s value of a single-env attribute (``scenario``, ``split``, ...)."""
        k = self._check_index(index)
        if name == "scenario":
            return dict(self.worlds.scenarios[k])
        if name == "split":
            return self.splits[k]
        if name == "observation_space":
            return self.single_observation_space
        if name == "action_space":
            return self.single_action_space
        if name in self._SHARED_ATTRS:
            return getattr(self._single, name)
        raise AttributeError(
            f"DrivingVectorEnv has no per-world attribute {name!r}; valid: "
            f"{sorted([*self._WORLD_ATTRS, *self._SHARED_ATTRS, 'action_space'])}"
        )

    def set_world_attr(self, index: int, name: str, value: Any) -> None:
        """Per-world attributes are read-only; use :meth:`set_distribution` for splits."""
        self._check_index(index)
        raise AttributeError(f"DrivingVectorEnv cannot set {name!r} per world")

    def _check_index(self, index: int) -> int:
        if not 0 <= int(index) < self.num_envs:
            raise IndexError(f"world index {index} out of range [0, {self.num_envs - 1}]")
        return int(index)

    def world(self, index: int) -> WorldView:
        """World ``index`` as a read-only env-like view (what a scripted expert needs)."""
        return WorldView(self.worlds, self._check_index(index))

    # ---------------------------------------------------------- perception

    def perception_frames(self) -> np.ndarray:
        """``(N, H, H, 3)`` bird's-eye rasters of every world (visual parameters applied)."""
        return self.worlds.frames()

    def perception_labels(self) -> dict[str, np.ndarray]:
        """Privileged labels of every world, ``(N,)`` arrays (see ``DrivingEnv``)."""
        return self.worlds.labels()

    # ------------------------------------------------------------ rendering

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One ``render_size`` bird's-eye frame per world (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array" or not self._started:
            return None
        if not hasattr(self, "_view"):
            from envs.driving.observations import BirdseyeRenderer

            self._view = BirdseyeRenderer(self.config.render_size, self.config.render_scale)
        w = self.worlds
        frames = self._view.render(w.roads, w.egos, w.traffic, w.colours, np.arange(self.num_envs))
        return tuple(frames)


def _column_dtype(param: Any) -> Any:
    """Dtype of a scenario parameter's info column."""
    if isinstance(param, Categorical):
        return object
    return np.int64 if isinstance(param, Integer) else np.float64


def _index(obs: Any, j: int) -> Any:
    if isinstance(obs, dict):
        return {key: value[j] for key, value in obs.items()}
    return obs[j]


def _masked(info: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """A copy of ``info`` whose masks are and-ed with ``mask`` (nested dicts too)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = _masked(value, mask)
        elif key.startswith("_"):
            out[key] = value & mask
        else:
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
    return out
