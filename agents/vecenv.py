"""An SB3 ``VecEnv`` over any Gymnasium 1.x ``VectorEnv``: :class:`GymVectorAdapter`.

Stable-Baselines3 has no adapter for Gymnasium's vector API, so a native batch (N worlds
advanced per call, registered as an env's ``vector_entry_point``) or a Gymnasium
``SyncVectorEnv`` reaches SB3 through this one class. :func:`make_batched_vec_env` builds
it from a registered env name, seeded and wrapped in SB3's ``VecMonitor``.

>>> venv = make_batched_vec_env("driving", 2, seed=0)
>>> venv.reset().shape
(2, 40)
>>> venv.close()
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

import envs

__all__ = [
    "SUPPORTED_AUTORESET_MODES",
    "GymVectorAdapter",
    "autoreset_mode",
    "make_batched_vec_env",
    "split_infos",
]

SUPPORTED_AUTORESET_MODES = (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)
# Keys of a SAME_STEP step info that describe the episode just ended, not the new one.
_FINAL_KEYS = ("final_obs", "final_info")
_MASKS = "action_masks"
# Drawn at reset and fixed for the episode (the scenario contract): split once per episode.
_SCENARIO = "scenario"


def autoreset_mode(venv: gym.vector.VectorEnv) -> AutoresetMode:
    """The ``metadata["autoreset_mode"]`` of ``venv`` (Gymnasium's default: NEXT_STEP)."""
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    return AutoresetMode(mode.value if isinstance(mode, AutoresetMode) else mode)


def _rows(value: Any) -> Sequence[Any]:
    """One entry per world: Python scalars for a 1-D array (``tolist`` is one C call)."""
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype != object:
        return value.tolist()
    if isinstance(value, np.ndarray) and value.ndim > 1:
        return list(value)
    return [v.item() if isinstance(v, np.generic) else v for v in value]


def split_infos(
    info: Mapping[str, Any], num_envs: int, worlds: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Turns a Gymnasium vector info (arrays with ``_key`` masks) into one dict per world.

    Nested dicts (``info["scenario"]``, ``info["reward_terms"]``) become per-world dicts;
    NumPy scalars become Python scalars; a key without a mask belongs to every world
    (its value is split along the first axis when that axis has one entry per world, and
    copied to every world otherwise).

    >>> info = {"x": np.array([1.0, 2.0]), "_x": np.array([True, False]),
    ...         "scenario": {"a": np.array([3, 4]), "_a": np.array([True, True])},
    ...         "_scenario": np.array([True, True])}
    >>> split_infos(info, 2)
    [{'x': 1.0, 'scenario': {'a': 3}}, {'scenario': {'a': 4}}]
    >>> split_infos({"note": "same for all"}, 2)
    [{'note': 'same for all'}, {'note': 'same for all'}]
    >>> split_infos(info, 2, worlds=[1])  # only these worlds' dicts, in that order
    [{'scenario': {'a': 4}}]
    """
    picked = list(range(num_envs)) if worlds is None else list(worlds)
    out: list[dict[str, Any]] = [{} for _ in picked]
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue  # a mask
        mask = info.get(f"_{key}")
        rows: Sequence[Any]  # one per picked world, in ``picked`` order
        if isinstance(value, Mapping):
            rows = split_infos(value, num_envs, worlds)
        elif mask is None and np.shape(value)[:1] != (num_envs,):
            rows = [value] * len(picked)
        else:
            rows = _rows(value if worlds is None else np.asarray(value)[picked])
        keep = None if mask is None or mask.all() else mask.tolist()
        for world, i, row in zip(out, picked, rows, strict=True):
            if keep is None or keep[i]:
                world[key] = row
    return out


class GymVectorAdapter(VecEnv):
    """SB3 ``VecEnv`` over a Gymnasium ``VectorEnv`` (native batch or Sync/Async).

    What SB3 expects and how it is produced:

    * **Autoreset.** SB3 resets a world inside the step that ends its episode. That is
      Gymnasium's ``AutoresetMode.SAME_STEP``: the step's ``final_obs`` becomes
      ``infos[i]["terminal_observation"]`` and ``final_info`` is world ``i``'s info (the
      new episode's reset info goes to ``reset_infos[i]``). ``DISABLED`` works too: the
      adapter resets the done worlds itself with ``reset(options={"reset_mask": dones})``.
      ``NEXT_STEP`` (Gymnasium's default) is refused: its reset happens in the *next*
      call, which steps every other world too, so there is no faithful way to give SB3
      the reset observation; build the vector env with ``autoreset_mode=SAME_STEP``
      (:func:`make_batched_vec_env` does for Gymnasium's own vectorisation).
    * **Infos** become one dict per world (:func:`split_infos`), with
      ``TimeLimit.truncated`` (truncated and not terminated) on every step. A world's
      ``info["scenario"]`` is split once per episode (it is fixed until the next reset)
      and copied into each step's dict.
    * **Seeding** as SB3's ``DummyVecEnv``: ``seed(s)`` then ``reset()`` resets world
      ``i`` with seed ``s + i`` (``reset(seed=[s, s + 1, ...])``).
    * **Per-world calls** (``env_method``/``get_attr``/``set_attr``, e.g. curricula's
      ``env_method("set_distribution", d, indices=[i])``) use the world protocol when
      the vector env defines it::

          call_world(index, name, *args, **kwargs)  # -> the world method's result
          get_world_attr(index, name)                # -> the world attribute
          set_world_attr(index, name, value)

      otherwise a ``SyncVectorEnv``'s own envs, otherwise (calls on every world only)
      Gymnasium's ``call``/``get_attr``/``set_attr``.
    * **Action masks**: when the vector env has ``action_masks()`` (one row per world),
      :meth:`action_masks` and ``env_method("action_masks")`` (what sb3-contrib's
      ``MaskablePPO`` calls) return its rows.
    * ``render()`` returns the first world's frame; ``env_is_wrapped`` is False per world
      (wrap the adapter in ``VecMonitor`` for episode statistics); ``close`` closes the
      vector env.

    Args:
        venv: The Gymnasium vector env (closed by :meth:`close`).

    Raises:
        ValueError: ``venv`` is not a ``VectorEnv`` or autoresets with ``NEXT_STEP``.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        if not isinstance(venv, gym.vector.VectorEnv):
            raise ValueError(f"venv must be a gymnasium.vector.VectorEnv, got {type(venv)}")
        mode = autoreset_mode(venv)
        if mode not in SUPPORTED_AUTORESET_MODES:
            raise ValueError(
                f"the vector env autoresets with {mode}; GymVectorAdapter needs one of "
                f"{[m.value for m in SUPPORTED_AUTORESET_MODES]} (e.g. SyncVectorEnv(..., "
                "autoreset_mode=AutoresetMode.SAME_STEP))"
            )
        self.venv: Any = venv  # any VectorEnv: call/get_attr/set_attr are duck-typed
        self.autoreset_mode = mode
        self._base: Any = venv.unwrapped
        self._actions: Any = None
        self._scenarios: list[Any] = []  # each world's scenario row, split at its reset
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    # ------------------------------------------------------------------ stepping

    def reset(self) -> VecEnvObs:
        """Resets every world (with the seeds and options set by ``seed``/``set_options``)."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=self._shared_options())
        self.reset_infos = split_infos(info, self.num_envs)
        self._scenarios = [row.get(_SCENARIO) for row in self.reset_infos]
        self._reset_seeds()
        self._reset_options()
        return obs

    def _shared_options(self) -> dict[str, Any] | None:
        first = self._options[0]
        if any(opts != first for opts in self._options):
            raise ValueError(
                "a Gymnasium vector env takes one options dict for every world; "
                f"set_options got different ones: {self._options}"
            )
        return dict(first) or None

    def step_async(self, actions: np.ndarray) -> None:
        """Stores the batch of actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Steps every world; done worlds are already reset (SB3 semantics)."""
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        done = np.flatnonzero(dones).tolist()
        infos = self._split_step(info, done)
        if done:
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                finals = split_infos(info.get("final_info", {}), self.num_envs, done)
                for i, final in zip(done, finals, strict=True):
                    self.reset_infos[i] = infos[i]
                    infos[i] = {**final, "terminal_observation": info["final_obs"][i]}
            else:  # DISABLED: this adapter resets the done worlds
                for i in done:
                    infos[i]["terminal_observation"] = _row(obs, i)
                obs, reset_info = self.venv.reset(options={"reset_mask": dones})
                resets = split_infos(reset_info, self.num_envs, done)
                for i, fresh in zip(done, resets, strict=True):
                    self.reset_infos[i] = fresh
                    self._scenarios[i] = fresh.get(_SCENARIO)
        for i, info_i in enumerate(infos):
            info_i["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def _split_step(self, info: Mapping[str, Any], done: list[int]) -> list[dict[str, Any]]:
        """The step's info per world, the scenario rows reused from each world's reset."""
        step = {k: v for k, v in info.items() if k not in _FINAL_KEYS}
        mask = step.get(f"_{_SCENARIO}")
        reusable = len(self._scenarios) == self.num_envs and None not in self._scenarios
        if _SCENARIO not in step or not reusable or (mask is not None and not mask.all()):
            infos = split_infos(step, self.num_envs)  # (re)split every row
            self._scenarios = [world.get(_SCENARIO) for world in infos]
            return infos
        scenario = {_SCENARIO: step.pop(_SCENARIO)}
        step.pop(f"_{_SCENARIO}", None)
        infos = split_infos(step, self.num_envs)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done:
            # The done worlds were reset within this step: their scenarios are new.
            fresh = split_infos(scenario, self.num_envs, done)
            for i, row in zip(done, fresh, strict=True):
                self._scenarios[i] = row[_SCENARIO]
        for world, row in zip(infos, self._scenarios, strict=True):
            world[_SCENARIO] = dict(row)
        return infos

    def close(self) -> None:
        """Closes the vector env."""
        self.venv.close()

    # ------------------------------------------------------------------ rendering

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per world (``render_mode="rgb_array"``)."""
        frames = self.venv.render()
        if frames is None:
            return [None] * self.num_envs
        return list(frames)

    def render(self, mode: str | None = None) -> np.ndarray | None:
        """The first world's frame."""
        if mode is not None and mode != self.render_mode:
            raise ValueError(
                f"render mode {mode!r} differs from the vector env's {self.render_mode!r}"
            )
        return self.get_images()[0]

    # ------------------------------------------------------------------ per-world access

    def action_masks(self) -> np.ndarray:
        """Action masks of every world, shape ``(num_envs, n)``."""
        return np.stack(self.env_method(_MASKS))

    def has_attr(self, attr_name: str) -> bool:
        """Whether the worlds have ``attr_name`` (batched ``action_masks`` count)."""
        if attr_name == _MASKS and self._batched_masks():
            return True
        return super().has_attr(attr_name)

    def _batched_masks(self) -> bool:
        return callable(getattr(self._base, _MASKS, None))

    def _sync_envs(self) -> list[gym.Env] | None:
        worlds = getattr(self._base, "envs", None)
        return worlds if isinstance(self._base, gym.vector.SyncVectorEnv) else None

    def _all_only(self, what: str, name: str, idx: list[int]) -> None:
        if idx != list(range(self.num_envs)):
            raise NotImplementedError(
                f"{type(self._base).__name__} can {what} {name!r} only on every world; "
                "define call_world/get_world_attr/set_world_attr for per-world access"
            )

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Calls ``method_name`` on the worlds in ``indices``; their results in order."""
        idx = list(self._get_indices(indices))
        if method_name == _MASKS and self._batched_masks():
            masks = np.asarray(self._base.action_masks())
            return [masks[i] for i in idx]
        if hasattr(self._base, "call_world"):
            call = self._base.call_world
            return [call(i, method_name, *method_args, **method_kwargs) for i in idx]
        worlds = self._sync_envs()
        if worlds is not None:
            return [
                worlds[i].get_wrapper_attr(method_name)(*method_args, **method_kwargs) for i in idx
            ]
        self._all_only("call", method_name, idx)
        return list(self.venv.call(method_name, *method_args, **method_kwargs))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute ``attr_name`` of the worlds in ``indices``."""
        idx = list(self._get_indices(indices))
        if hasattr(self._base, "get_world_attr"):
            return [self._base.get_world_attr(i, attr_name) for i in idx]
        worlds = self._sync_envs()
        if worlds is not None:
            return [worlds[i].get_wrapper_attr(attr_name) for i in idx]
        values = self.venv.get_attr(attr_name)
        return [values[i] for i in idx]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets attribute ``attr_name`` to ``value`` on the worlds in ``indices``."""
        idx = list(self._get_indices(indices))
        if hasattr(self._base, "set_world_attr"):
            for i in idx:
                self._base.set_world_attr(i, attr_name, value)
            return
        worlds = self._sync_envs()
        if worlds is not None:
            for i in idx:
                worlds[i].set_wrapper_attr(attr_name, value)
            return
        self._all_only("set", attr_name, idx)
        self.venv.set_attr(attr_name, value)

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """False for every world: worlds of a vector env carry no Gymnasium wrappers."""
        return [False] * len(list(self._get_indices(indices)))


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, Mapping):
        return {k: np.array(v[i]) for k, v in obs.items()}
    return np.array(obs[i])


def _takes_autoreset_mode(entry_point: Any) -> bool:
    from gymnasium.envs.registration import load_env_creator

    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    try:
        return "autoreset_mode" in inspect.signature(creator).parameters
    except (TypeError, ValueError):
        return False


def make_batched_vec_env(
    name: str,
    num_envs: int,
    *,
    seed: int | None = None,
    split: str = "train",
    env_kwargs: Mapping[str, Any] | None = None,
    monitor_file: str | None = None,
    keywords: Sequence[str] = ("is_success",),
) -> VecMonitor:
    """Env ``name`` as ``num_envs`` worlds of one vector env, adapted to SB3 and monitored.

    Uses the env's native batch (``vector_entry_point``) when it has one, else
    Gymnasium's ``SyncVectorEnv``. Either is asked for ``SAME_STEP`` autoreset (a native
    batch whose constructor takes ``autoreset_mode``; one that does not must autoreset
    in a mode :class:`GymVectorAdapter` supports).

    Args:
        name: Registered env name or id.
        num_envs: Worlds.
        seed: World ``i``'s first reset uses ``seed + i`` (as SB3's ``DummyVecEnv``).
        split: Split the worlds sample scenarios from.
        env_kwargs: Constructor kwargs of the env.
        monitor_file: ``VecMonitor`` CSV path (``None``: statistics in infos only).
        keywords: Episode-end info keys the monitor records.
    """
    entry = envs.resolve(name).vector_entry_point
    same_step = {"autoreset_mode": AutoresetMode.SAME_STEP}
    vector_kwargs = same_step if entry is None or _takes_autoreset_mode(entry) else None
    venv = envs.make_vec(
        name, num_envs, split, vector_kwargs=vector_kwargs, **dict(env_kwargs or {})
    )
    adapter = GymVectorAdapter(venv)
    adapter.seed(seed)
    return VecMonitor(adapter, filename=monitor_file, info_keywords=tuple(keywords))
