"""One alias table from short names (``driving``) to Gymnasium ids, plus plugin loading.

Built-in envs are declared in ``envs/__init__.py`` with :func:`register`. Third-party
packages add envs through the entry-point group ``practicegym.envs``: each entry point
names a callable that takes no argument and either calls :func:`register` itself or
returns an iterable of :class:`EnvSpec`. Plugins load explicitly, the first time
:func:`names`, :func:`make` or :func:`spec` is called (or by :func:`load_plugins`), and a
plugin that fails raises :class:`PluginError` naming it.
"""

from __future__ import annotations

import difflib
import importlib
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import gymnasium as gym

__all__ = [
    "ENTRY_POINT_GROUP",
    "EnvSpec",
    "PluginError",
    "load_plugins",
    "make",
    "make_expert",
    "make_vec",
    "names",
    "register",
    "resolve",
    "spec",
]

ENTRY_POINT_GROUP = "practicegym.envs"


class PluginError(RuntimeError):
    """A ``practicegym.envs`` plugin could not be loaded or registered."""


@dataclass(frozen=True)
class EnvSpec:
    """What the alias table knows about one env.

    Attributes:
        name: Short name used by the CLIs, e.g. ``"driving"``.
        env_id: Gymnasium id, ``"practicegym/<Name>-v<N>"`` for built-ins.
        entry_point: ``"module:Class"`` or a callable creating the env.
        kwargs: Default constructor kwargs (overridden by those given to :func:`make`).
        expert: ``"module:function"`` or callable ``(env) -> policy`` building the
            scripted expert (an object with SB3's ``predict``), or ``None``.
        description: One line for listings.
        plugin: Name of the plugin entry point that registered it (``None`` if built in).
        vector_entry_point: ``"module:Class"`` or a callable creating a native
            ``gymnasium.vector.VectorEnv`` of N worlds (called with ``num_envs=N`` and the
            env's kwargs), or ``None``: :func:`make_vec` then vectorises the single env.
    """

    name: str
    env_id: str
    entry_point: str | Callable[..., gym.Env]
    kwargs: dict[str, Any] = field(default_factory=dict)
    expert: str | Callable[[gym.Env], Any] | None = None
    description: str = ""
    plugin: str | None = None
    vector_entry_point: str | Callable[..., gym.vector.VectorEnv] | None = None


_SPECS: dict[str, EnvSpec] = {}
_plugins_loaded = False


def register(
    name: str,
    env_id: str,
    entry_point: str | Callable[..., gym.Env],
    *,
    kwargs: dict[str, Any] | None = None,
    expert: str | Callable[[gym.Env], Any] | None = None,
    description: str = "",
    plugin: str | None = None,
    vector_entry_point: str | Callable[..., gym.vector.VectorEnv] | None = None,
) -> EnvSpec:
    """Adds an env to the alias table and to Gymnasium's registry.

    ``vector_entry_point`` (a native ``VectorEnv``) is registered with Gymnasium too, so
    ``gymnasium.make_vec(env_id, num_envs=N, vectorization_mode="vector_entry_point")``
    works as well as :func:`make_vec`.

    Raises:
        ValueError: ``name`` or ``env_id`` is already registered by something else.
    """
    new = EnvSpec(
        name,
        env_id,
        entry_point,
        dict(kwargs or {}),
        expert,
        description,
        plugin,
        vector_entry_point,
    )
    return _add(new)


def _add(new: EnvSpec) -> EnvSpec:
    old = _SPECS.get(new.name)
    if old is not None and old != new:
        raise ValueError(f"env name {new.name!r} is already registered as {old.env_id!r}")
    taken = [s.name for s in _SPECS.values() if s.env_id == new.env_id and s.name != new.name]
    if taken:
        raise ValueError(f"env id {new.env_id!r} is already registered as {taken[0]!r}")
    existing = gym.registry.get(new.env_id)
    if existing is not None and (
        existing.entry_point,
        existing.kwargs,
        existing.vector_entry_point,
    ) != (new.entry_point, new.kwargs, new.vector_entry_point):
        raise ValueError(
            f"env id {new.env_id!r} is already registered in Gymnasium with entry point "
            f"{existing.entry_point!r}; pick another id"
        )
    _SPECS[new.name] = new
    if existing is None:
        gym.register(
            id=new.env_id,
            entry_point=new.entry_point,
            vector_entry_point=new.vector_entry_point,
            kwargs=new.kwargs,
        )
    return new


def load_plugins(*, force: bool = False) -> list[str]:
    """Loads every ``practicegym.envs`` entry point once; returns their names.

    Raises:
        PluginError: A plugin failed to import, raised, or returned something other
            than ``None`` or an iterable of :class:`EnvSpec`; the message names it.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = False
    loaded = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"practicegym plugin {ep.name!r} ({ep.value})"
        try:
            hook = ep.load()
            result = hook()
        except Exception as err:
            raise PluginError(f"{where} failed to load: {type(err).__name__}: {err}") from err
        if result is not None:
            try:
                specs = list(result)
            except TypeError:
                raise PluginError(
                    f"{where} returned {type(result).__name__}; expected None or EnvSpecs"
                ) from None
            for item in specs:
                if not isinstance(item, EnvSpec):
                    raise PluginError(f"{where} returned {item!r}, which is not an EnvSpec")
                try:
                    _add(EnvSpec(**{**item.__dict__, "plugin": ep.name}))
                except ValueError as err:
                    raise PluginError(f"{where}: {err}") from err
        loaded.append(ep.name)
    _plugins_loaded = True  # only once every plugin loaded: a broken one fails on every call
    return loaded


def names() -> list[str]:
    """Short names of every registered env, built-ins and plugins, sorted."""
    load_plugins()
    return sorted(_SPECS)


def spec(name: str) -> EnvSpec:
    """The :class:`EnvSpec` for a short name or Gymnasium id ("did you mean" on typos)."""
    return resolve(name)


def resolve(name: str) -> EnvSpec:
    """Looks up a short name or env id; unknown names raise ValueError with suggestions."""
    load_plugins()
    if name in _SPECS:
        return _SPECS[name]
    for s in _SPECS.values():
        if s.env_id == name:
            return s
    candidates = list(_SPECS) + [s.env_id for s in _SPECS.values()]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown env {name!r}.{hint} Valid names: {', '.join(sorted(_SPECS))}")


def make(name: str, split: str = "train", **kwargs: Any) -> gym.Env:
    """Creates an env by short name or id, on ``split``, through ``gymnasium.make``."""
    return gym.make(resolve(name).env_id, split=split, **kwargs)


VECTORIZATION_MODES = ("vector_entry_point", "sync", "async")


def make_vec(
    name: str,
    num_envs: int = 1,
    split: str = "train",
    *,
    vectorization_mode: str | None = None,
    vector_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """Creates ``num_envs`` worlds of env ``name`` on ``split`` as one Gymnasium ``VectorEnv``.

    Args:
        name: Short name or Gymnasium id.
        num_envs: Number of worlds (>= 1).
        split: Split every world samples its scenarios from.
        vectorization_mode: ``"vector_entry_point"`` (the env's native batch), ``"sync"``
            or ``"async"`` (Gymnasium's vectorisation of the single env), or ``None``:
            the native batch when the env declares one, else ``"sync"``.
        vector_kwargs: Arguments of ``SyncVectorEnv``/``AsyncVectorEnv`` (e.g.
            ``{"autoreset_mode": AutoresetMode.SAME_STEP}``); for a native batch they are
            passed to its constructor with ``kwargs``.
        **kwargs: Constructor kwargs of each world (as for :func:`make`).

    Raises:
        ValueError: Unknown env, ``num_envs < 1``, an unknown mode, or
            ``"vector_entry_point"`` for an env that declares no native batch.

    >>> import envs
    >>> venv = envs.make_vec("driving", num_envs=2, split="heldout-curves")
    >>> obs, info = venv.reset(seed=0)
    >>> obs.shape[0], venv.num_envs
    (2, 2)
    >>> venv.close()
    """
    entry = resolve(name)
    if isinstance(num_envs, bool) or not isinstance(num_envs, numbers.Integral) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    num_envs = int(num_envs)
    mode = vectorization_mode
    if mode is None:
        mode = "vector_entry_point" if entry.vector_entry_point is not None else "sync"
    mode = getattr(mode, "value", mode)  # accepts gymnasium's VectorizeMode enum too
    if mode not in VECTORIZATION_MODES:
        raise ValueError(
            f"vectorization_mode must be one of {list(VECTORIZATION_MODES)} or None, got {mode!r}"
        )
    if mode == "vector_entry_point":
        if entry.vector_entry_point is None:
            raise ValueError(
                f"env {entry.name!r} declares no vector_entry_point; use "
                "vectorization_mode='sync' or 'async' (or None to choose automatically)"
            )
        return gym.make_vec(
            entry.env_id,
            num_envs=num_envs,
            vectorization_mode=mode,
            split=split,
            **{**kwargs, **(vector_kwargs or {})},
        )
    return gym.make_vec(
        entry.env_id,
        num_envs=num_envs,
        vectorization_mode=mode,
        vector_kwargs=vector_kwargs,
        split=split,
        **kwargs,
    )


def make_expert(name: str, env: gym.Env) -> Any:
    """Builds the scripted expert policy of env ``name`` acting in ``env``.

    Raises:
        ValueError: The env declares no scripted expert.
    """
    entry = resolve(name).expert
    if entry is None:
        raise ValueError(f"env {name!r} declares no scripted expert")
    return _load(entry)(env)


def _load(entry: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(entry):
        return entry
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


def iter_specs() -> Iterable[EnvSpec]:
    """Every registered :class:`EnvSpec` (plugins loaded)."""
    load_plugins()
    return list(_SPECS.values())
