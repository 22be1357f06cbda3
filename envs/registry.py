"""One alias table from short names (``driving``) to Gymnasium ids, plus plugin loading.

Built-in envs are declared in ``envs/__init__.py`` with :func:`register`. Third-party
packages add envs through the entry-point group ``practicegym.envs``: each entry point
names a callable that takes no argument and either calls :func:`register` itself or
returns an iterable of :class:`EnvSpec`. Plugins load explicitly, the first time
:func:`names`, :func:`make` or :func:`spec` is called (or by :func:`load_plugins`).

A plugin that fails to import or register does not take the others down: it is reported
once as a :class:`PluginWarning` naming it, every other env (built-ins included) keeps
working, and asking for an env that is not registered while a plugin is broken raises
:class:`PluginError` naming the broken plugin and why it failed (it may be the env's
owner). ``load_plugins(strict=True)`` raises on the first broken plugin instead (for a
plugin's own CI).
"""

from __future__ import annotations

import difflib
import importlib
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import gymnasium as gym

__all__ = [
    "ENTRY_POINT_GROUP",
    "EnvSpec",
    "PluginError",
    "PluginWarning",
    "broken_plugins",
    "episode_limit",
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


class PluginWarning(UserWarning):
    """A ``practicegym.envs`` plugin is broken; the other envs still work."""


@dataclass(frozen=True)
class EnvSpec:
    """Everything the core knows about one env: the plugin contract in one place.

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
        default_algo: Algorithm ``agents.train`` uses when ``--algo`` is not given
            (``"ppo"``, ``"sac"``, ``"maskable-ppo"``, ...); ``None``: ``maskable-ppo``
            when the env has ``action_masks()``, else ``ppo``.
        hyperparams: The env's own training recipe: a mapping ``{algo: entry}`` (each
            entry with ``run:``/``algo:``/``policy:`` sections, as in
            ``agents/hyperparams/<algo>.yaml``), or ``"package:file.yaml"``, a YAML file
            of that shape shipped inside ``package``. ``None``: the core's
            ``agents/hyperparams/<algo>.yaml`` entry for ``name`` if it has one, else
            its ``default:`` entry (``agents.train`` says so).
        max_episode_steps: The most steps an episode lasts with the default kwargs: the
            env truncates its own episodes at (or before) this many steps. The
            conformance kit checks it and the evaluator stops an episode that runs past
            it with an error. An env whose limit depends on its kwargs also sets
            ``max_episode_steps`` on the instance (see :func:`episode_limit`).
    """

    name: str
    env_id: str
    entry_point: str | Callable[..., gym.Env]
    kwargs: dict[str, Any] = field(default_factory=dict)
    expert: str | Callable[[gym.Env], Any] | None = None
    description: str = ""
    plugin: str | None = None
    vector_entry_point: str | Callable[..., gym.vector.VectorEnv] | None = None
    default_algo: str | None = None
    hyperparams: Mapping[str, Any] | str | None = None
    max_episode_steps: int | None = None

    def __post_init__(self) -> None:
        limit = self.max_episode_steps
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1
        ):
            raise ValueError(
                f"env {self.name!r}: max_episode_steps must be None or an integer >= 1, "
                f"got {limit!r}"
            )
        if self.default_algo is not None and not isinstance(self.default_algo, str):
            raise ValueError(
                f"env {self.name!r}: default_algo must be an algorithm name like 'ppo', "
                f"got {self.default_algo!r}"
            )
        recipe = self.hyperparams
        if recipe is not None and not (
            isinstance(recipe, Mapping) or (isinstance(recipe, str) and ":" in recipe)
        ):
            raise ValueError(
                f"env {self.name!r}: hyperparams must be None, a mapping {{algo: entry}} or "
                f"'package:file.yaml', got {recipe!r}"
            )


_SPECS: dict[str, EnvSpec] = {}
_BROKEN: dict[str, PluginError] = {}  # entry-point name -> why it failed
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
    default_algo: str | None = None,
    hyperparams: Mapping[str, Any] | str | None = None,
    max_episode_steps: int | None = None,
) -> EnvSpec:
    """Adds an env to the alias table and to Gymnasium's registry (see :class:`EnvSpec`).

    Works without entry points too: a script or test can call it, then use the name with
    :func:`make`, the conformance kit or ``agents.train --env-module MODULE``.

    ``vector_entry_point`` (a native ``VectorEnv``) is registered with Gymnasium too, so
    ``gymnasium.make_vec(env_id, num_envs=N, vectorization_mode="vector_entry_point")``
    works as well as :func:`make_vec`. ``max_episode_steps`` is *not* handed to
    Gymnasium (no ``TimeLimit`` wrapper): the env truncates its own episodes, so that its
    episode-end info (``is_success``, ``episode_info_keys``) is always filled.

    Raises:
        ValueError: ``name`` or ``env_id`` is already registered by something else, or a
            field is invalid.
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
        default_algo,
        hyperparams,
        max_episode_steps,
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


def load_plugins(*, force: bool = False, strict: bool = False) -> list[str]:
    """Loads every ``practicegym.envs`` entry point once; returns the names that loaded.

    A plugin that fails to import, raises, returns something other than ``None`` or an
    iterable of :class:`EnvSpec`, or clashes with a registered env is skipped with a
    :class:`PluginWarning` naming it; :func:`broken_plugins` lists them and
    :func:`resolve` names them when an unknown env is asked for.

    Args:
        force: Load again even if already loaded.
        strict: Raise the first broken plugin's :class:`PluginError` instead of warning.

    Raises:
        PluginError: Only with ``strict``: a plugin is broken; the message names it.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        if strict and _BROKEN:
            raise next(iter(_BROKEN.values()))
        return []
    _BROKEN.clear()
    loaded = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            _load_plugin(ep)
        except PluginError as err:
            _BROKEN[ep.name] = err
            if strict:
                raise
            warnings.warn(
                f"{err}; its envs are unavailable, every other env works",
                PluginWarning,
                stacklevel=2,
            )
            continue
        loaded.append(ep.name)
    _plugins_loaded = True
    if strict and _BROKEN:
        raise next(iter(_BROKEN.values()))
    return loaded


def _load_plugin(ep: metadata.EntryPoint) -> None:
    where = f"practicegym plugin {ep.name!r} ({ep.value})"
    try:
        hook = ep.load()
        result = hook()
    except Exception as err:
        raise PluginError(f"{where} failed to load: {type(err).__name__}: {err}") from err
    if result is None:
        return
    try:
        specs = list(result)
    except TypeError:
        raise PluginError(
            f"{where} returned {type(result).__name__}; expected None or EnvSpecs"
        ) from None
    for item in specs:
        if not isinstance(item, EnvSpec):
            raise PluginError(f"{where} returned {item!r}, which is not an EnvSpec")
    for item in specs:
        try:
            _add(EnvSpec(**{**item.__dict__, "plugin": ep.name}))
        except ValueError as err:
            raise PluginError(f"{where}: {err}") from err


def broken_plugins() -> dict[str, PluginError]:
    """Entry-point name -> :class:`PluginError` of every plugin that failed to load."""
    load_plugins()
    return dict(_BROKEN)


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
    message = f"unknown env {name!r}.{hint} Valid names: {', '.join(sorted(_SPECS))}"
    if _BROKEN:
        # The env may belong to a plugin that failed: say which, and why.
        why = "; ".join(str(err) for err in _BROKEN.values())
        raise PluginError(f"{message}. Broken plugins (their envs are unavailable): {why}")
    raise ValueError(message)


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


def episode_limit(env: gym.Env | gym.vector.VectorEnv, name: str | None = None) -> int | None:
    """The most steps an episode of ``env`` lasts, or ``None`` when nothing declares it.

    The env instance's own ``max_episode_steps`` (an int attribute, for envs whose limit
    depends on their kwargs) wins; else the :class:`EnvSpec` of ``name`` (or of the
    Gymnasium id ``env`` was made with).
    """
    own = getattr(env.unwrapped, "max_episode_steps", None)
    if isinstance(own, numbers.Integral) and not isinstance(own, bool) and int(own) >= 1:
        return int(own)
    if name is None:
        gym_spec = getattr(env, "spec", None)
        name = getattr(gym_spec, "id", None)
    if name is None:
        return None
    try:
        return resolve(name).max_episode_steps
    except ValueError:
        return None


def iter_specs() -> Iterable[EnvSpec]:
    """Every registered :class:`EnvSpec` (plugins loaded)."""
    load_plugins()
    return list(_SPECS.values())
