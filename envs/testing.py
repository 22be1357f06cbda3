"""The conformance kit: one call that checks an env keeps the practicegym contract.

Built-in envs' tests call it, and plugin authors can too::

    from envs.testing import check_env_conformance
    check_env_conformance("my-plugin-env")

It runs Gymnasium's and SB3's ``check_env``, seeded determinism over resets, observations
inside the space in every split, ``info["reward_terms"]`` summing to the reward on every
step, episodes that end within the declared ``max_episode_steps`` in every split with the
episode-end info keys (``is_success`` and ``episode_info_keys``), ``context="visible"``
(constructed, reset and stepped, the context really in the observation), action
validation, the scripted expert (runs and succeeds on ``train``), rendering,
``AsyncVectorEnv`` with two workers, ``close()``, and faithful, independent copies
(:func:`check_env_copies`: ``copy.deepcopy`` and ``pickle`` mid-episode). Every
violation, including the base class's own contract errors, raises
:class:`ConformanceError`.

:func:`check_vector_env` checks a (native) ``gymnasium.vector.VectorEnv`` the same way:
batched spaces, info masks, autoreset semantics, seeding and action validation::

    from envs.testing import check_vector_env
    check_vector_env(lambda: envs.make_vec("my-plugin-env", num_envs=3))

Why one file over 450 lines: it is the whole contract's test, read top to bottom by plugin
authors (the single env, then copies, then vector envs, each behind a banner). Splitting
it into a package ``envs/testing/`` by those banners is mechanical; it needs the package
added to ``pyproject.toml``'s list.
"""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.core import CONTEXT_KEY, EnvContractError, ScenarioEnv
from envs.registry import episode_limit, make, make_expert, make_vec, resolve

__all__ = [
    "COPY_METHODS",
    "ConformanceError",
    "check_env_conformance",
    "check_env_copies",
    "check_vector_env",
    "rollout_digest",
]


class ConformanceError(AssertionError):
    """The env breaks the practicegym env contract; the message says how."""


def check_env_conformance(
    name: str,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    splits: Sequence[str] | None = None,
    determinism_steps: int = 200,
    steps_per_split: int = 60,
    check_vector: bool = True,
    check_render: bool = True,
    check_copies: bool = True,
    check_expert: bool = True,
    expert_episodes: int = 3,
) -> None:
    """Checks that env ``name`` (short name or id) keeps the practicegym contract.

    Args:
        name: Registered short name or Gymnasium id.
        env_kwargs: Extra constructor kwargs (e.g. ``{"obs_type": "birdseye"}``).
        splits: Splits to check observations in (default: every split of the space).
        determinism_steps: Steps of the seeded determinism check (resets included).
        steps_per_split: Random-action steps per split for the observation-bounds check;
            each split then goes on to the end of its episode (at least one episode
            end per split, within ``max_episode_steps``).
        check_vector: Also run it in a 2-worker ``AsyncVectorEnv``, and check its native
            batch (``vector_entry_point``), if any, with :func:`check_vector_env`.
        check_render: Check ``render_mode="rgb_array"`` (or ``"ansi"``) when supported.
        check_copies: Check ``copy.deepcopy`` and ``pickle`` copies taken mid-episode
            (:func:`check_env_copies`; renders compared too when ``check_render``).
        check_expert: When the env declares a scripted expert, check it plays
            ``expert_episodes`` seeded ``train`` episodes and succeeds in at least one.
        expert_episodes: Episodes of the expert check.

    Raises:
        ConformanceError: What was violated, naming the env.
    """
    kwargs = dict(env_kwargs or {})
    label = f"{name}{kwargs or ''}"
    try:
        _check_env_conformance(
            name,
            kwargs,
            label,
            splits=splits,
            determinism_steps=determinism_steps,
            steps_per_split=steps_per_split,
            check_vector=check_vector,
            check_render=check_render,
            check_copies=check_copies,
            check_expert=check_expert,
            expert_episodes=expert_episodes,
        )
    except EnvContractError as err:  # the base class's own checks, e.g. episode-end info
        raise ConformanceError(f"{label}: {err}") from err


def _check_env_conformance(
    name: str,
    kwargs: dict[str, Any],
    label: str,
    *,
    splits: Sequence[str] | None,
    determinism_steps: int,
    steps_per_split: int,
    check_vector: bool,
    check_render: bool,
    check_copies: bool,
    check_expert: bool,
    expert_episodes: int,
) -> None:
    factory = _factory(name, kwargs)

    env = factory()
    try:
        base = env.unwrapped
        if not isinstance(base, ScenarioEnv):
            raise ConformanceError(f"{label}: env must subclass envs.ScenarioEnv")
        space = base.scenario_space
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gym_check_env(base, skip_render_check=True)
            except AssertionError as err:
                raise ConformanceError(f"{label}: Gymnasium check_env failed: {err}") from err
        _check_sb3(base, label)
        _check_action_validation(env, label)
        limit = episode_limit(env, name)
        if limit is None:
            raise ConformanceError(
                f"{label}: declares no episode limit; give its EnvSpec max_episode_steps "
                "(the most steps an episode lasts: the env truncates there itself)"
            )
        hidden_space = env.observation_space
    finally:
        env.close()

    for split in splits or space.split_names:
        _check_split(factory, split, steps_per_split, limit, label)
    if kwargs.get("context", "hidden") == "hidden":
        _check_visible_context(factory, hidden_space, space.context_size, limit, label)
    if check_expert and resolve(name).expert is not None:
        _check_expert(name, factory, expert_episodes, limit, label)

    a = rollout_digest(factory, seed=123, steps=determinism_steps)
    b = rollout_digest(factory, seed=123, steps=determinism_steps)
    if a != b:
        raise ConformanceError(f"{label}: two envs with seed 123 and the same actions diverged")
    c = rollout_digest(factory, seed=124, steps=min(determinism_steps, 50))
    if c == a[: len(c)]:
        raise ConformanceError(f"{label}: seeds 123 and 124 gave identical rollouts")

    if check_render:
        _check_render(name, kwargs, label)
    if check_vector:
        _check_vector(factory, label)
        if resolve(name).vector_entry_point is not None:
            check_vector_env(
                lambda: make_vec(name, 3, **kwargs),
                steps=determinism_steps,
                require_episode_end=False,
            )
    if check_copies:
        check_env_copies(name, env_kwargs=kwargs, check_render=check_render)


# ----------------------------------------------------------------------------- copies

#: How :func:`check_env_copies` copies an env: ``copy.deepcopy`` and a ``pickle`` round trip.
COPY_METHODS = ("deepcopy", "pickle")


def check_env_copies(
    name: str,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    methods: Sequence[str] = COPY_METHODS,
    seed: int = 321,
    warmup_steps: int = 7,
    steps: int = 40,
    max_steps: int = 300,
    check_render: bool = True,
) -> None:
    """Checks that copies of env ``name`` taken mid-episode are faithful and independent.

    For each method (``copy.deepcopy``, ``pickle.loads(pickle.dumps(env))``) it copies an
    env after ``warmup_steps`` seeded random actions and checks, against a reference
    future recorded from a fresh env with the same seed and actions:

    * **faithful**: the copy's future equals the original's (observations, rewards,
      ``terminated``, ``truncated``, infos and, where the env renders, frames), over at
      least ``steps`` steps and on through an episode end, the plain ``reset()`` after it
      (the copied ``np_random`` draws the next scenario), then a ``reset(seed=...)`` and a
      few steps more, even after the original was stepped elsewhere and closed;
    * **independent**: stepping, resetting and closing the copy leaves the original's
      future exactly as it was.

    Numbers are compared within the env's declared ``copy_atol`` (0: bit for bit; the
    original's own future, which a copy must not touch, always bit for bit); flags,
    strings and shapes exactly; ``rgb_array`` frames exactly, or with ``copy_atol > 0``
    within a mean absolute difference of 1 grey level (physics that differs in the
    sixth digit can move an edge pixel).

    Args:
        name: Registered short name or Gymnasium id.
        env_kwargs: Extra constructor kwargs.
        methods: Subset of :data:`COPY_METHODS` to check.
        seed: Seed of the episode and of the random actions.
        warmup_steps: Steps taken before copying (mid-episode).
        steps: Steps compared at least after copying.
        max_steps: Most steps compared while waiting for an episode end (envs whose
            episodes are longer are compared over ``max_steps`` without one).
        check_render: Compare frames too when the env renders ``rgb_array`` or ``ansi``.

    Raises:
        ConformanceError: Which copy method failed and how, naming the env.
        ValueError: An unknown method.
    """
    unknown = sorted(set(methods) - set(COPY_METHODS))
    if unknown:
        raise ValueError(f"unknown copy methods {unknown}; valid: {list(COPY_METHODS)}")
    kwargs = dict(env_kwargs or {})
    label = f"{name}{kwargs or ''}"
    probe = _factory(name, kwargs)()
    try:
        modes = probe.metadata.get("render_modes", [])
        atol = float(getattr(probe.unwrapped, "copy_atol", 0.0))
        space = copy.deepcopy(probe.action_space)
    finally:
        probe.close()
    if check_render and "render_mode" not in kwargs:
        mode = next((m for m in ("rgb_array", "ansi") if m in modes), None)
        if mode is not None:
            kwargs["render_mode"] = mode
    factory = _factory(name, kwargs)
    script = _CopyScript(
        actions=_sample_actions(space, seed, warmup_steps + max_steps),
        other_actions=_sample_actions(space, seed + 1, warmup_steps + 10),
        seed=seed,
        warmup_steps=warmup_steps,
        steps=steps,
        render=kwargs.get("render_mode") is not None,
    )

    reference_env = factory()
    try:
        script.warm_up(reference_env)
        reference = script.future(reference_env)
    finally:
        reference_env.close()

    for method in methods:
        what = f"{label}: {'copy.deepcopy' if method == 'deepcopy' else 'pickle round trip'}"
        # The copy continues the episode, whatever then happens to the original.
        original = factory()
        try:
            script.warm_up(original)
            twin = _copy_env(original, method, what)
        except BaseException:
            original.close()
            raise
        try:
            script.disturb(original)
            original.close()
            future = script.future(twin)
        except Exception as err:
            raise ConformanceError(
                f"{what}: the copy failed after the original was stepped and closed: "
                f"{type(err).__name__}: {err}"
            ) from err
        finally:
            twin.close()
            original.close()
        _compare_futures(reference, future, atol, f"{what}: the copy's future")
        # The original is untouched by whatever happens to its copy.
        original = factory()
        try:
            script.warm_up(original)
            twin = _copy_env(original, method, what)
            try:
                script.disturb(twin)
            finally:
                twin.close()
            future = script.future(original)
        except Exception as err:
            raise ConformanceError(
                f"{what}: the original failed after its copy was stepped and closed: "
                f"{type(err).__name__}: {err}"
            ) from err
        finally:
            original.close()
        _compare_futures(
            reference,
            future,
            0.0,
            f"{what}: stepping and closing the copy changed the original's future",
        )


def _sample_actions(space: spaces.Space, seed: int, n: int) -> list[Any]:
    space = copy.deepcopy(space)
    space.seed(seed)
    return [space.sample() for _ in range(n)]


def _copy_env(env: gym.Env, method: str, what: str) -> gym.Env:
    try:
        if method == "deepcopy":
            return copy.deepcopy(env)
        return pickle.loads(pickle.dumps(env))
    except Exception as err:
        raise ConformanceError(
            f"{what} of a mid-episode env failed: {type(err).__name__}: {err}"
        ) from err


class _CopyScript:
    """What :func:`check_env_copies` does to envs: one fixed script of actions and resets."""

    def __init__(
        self,
        *,
        actions: list[Any],
        other_actions: list[Any],
        seed: int,
        warmup_steps: int,
        steps: int,
        render: bool,
    ) -> None:
        self.actions = actions
        self.other_actions = other_actions
        self.seed = seed
        self.warmup_steps = warmup_steps
        self.steps = steps
        self.render = render

    def warm_up(self, env: gym.Env) -> None:
        """Seeded reset, then ``warmup_steps`` actions (plain resets at episode ends)."""
        env.reset(seed=self.seed)
        for action in self.actions[: self.warmup_steps]:
            if any(env.step(action)[2:4]):
                env.reset()

    def disturb(self, env: gym.Env) -> None:
        """Other actions and seeds: what must not leak into the env's copy or original."""
        for action in self.other_actions:
            if any(env.step(action)[2:4]):
                env.reset(seed=self.seed + 7)
        env.reset(seed=self.seed + 8)
        env.step(self.other_actions[0])

    def future(self, env: gym.Env) -> list[tuple[Any, ...]]:
        """Records what ``env`` does from here under the script's actions."""
        record: list[tuple[Any, ...]] = []
        ended = False
        after = self.actions[self.warmup_steps :]
        for k, action in enumerate(after):
            if k >= self.steps and ended:
                break
            obs, reward, terminated, truncated, info = env.step(action)
            end = terminated or truncated
            frame = self._frame(env) if k == 0 or end or k == len(after) - 1 else None
            record.append(("step", k, obs, reward, terminated, truncated, info, frame))
            if end and not ended:
                ended = True
                obs, info = env.reset()  # the copied np_random draws the next scenario
                record.append(("reset()", k, obs, info, self._frame(env)))
            elif end:
                obs, info = env.reset(seed=self.seed + 2)
                record.append(("reset(seed)", k, obs, info, None))
        obs, info = env.reset(seed=self.seed + 1)
        record.append(("reset(seed)", -1, obs, info, self._frame(env)))
        for k, action in enumerate(self.actions[:5]):
            obs, reward, terminated, truncated, info = env.step(action)
            record.append(("step after reset(seed)", k, obs, reward, terminated, truncated, info))
            if terminated or truncated:
                break
        return record

    def _frame(self, env: gym.Env) -> Any:
        return env.render() if self.render else None


_STEP_FIELDS = ("obs", "reward", "terminated", "truncated", "info", "frame")


def _compare_futures(
    expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]], atol: float, what: str
) -> None:
    for i in range(min(len(expected), len(got))):
        want, have = expected[i], got[i]
        where = f"{want[0]} {want[1]}" if want[1] >= 0 else want[0]
        if have[:2] != want[:2]:
            raise ConformanceError(
                f"{what} went {have[0]!r} at step {have[1]} where the original's went "
                f"{want[0]!r} at step {want[1]} (tolerance {atol:g})"
            )
        fields = _STEP_FIELDS if want[0].startswith("step") else ("obs", "info", "frame")
        for field, a, b in zip(fields, want[2:], have[2:], strict=False):
            problem = _difference(a, b, 0.0 if field in ("terminated", "truncated") else atol)
            if field == "frame" and problem and atol > 0:
                problem = _frame_difference(a, b)
            if problem:
                raise ConformanceError(
                    f"{what} differs at {where}: {field}{problem} (tolerance {atol:g})"
                )
    if len(expected) != len(got):
        raise ConformanceError(
            f"{what} has {len(got)} events where the original's has {len(expected)}"
        )


def _difference(a: Any, b: Any, atol: float) -> str:
    """``""`` when ``a`` and ``b`` are equal within ``atol``, else where and how not."""
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or sorted(a, key=str) != sorted(b, key=str):
            keys = sorted(b, key=str) if isinstance(b, Mapping) else type(b).__name__
            return f": keys {keys} instead of {sorted(a, key=str)}"
        for key in a:
            problem = _difference(a[key], b[key], atol)
            if problem:
                return f"[{key!r}]{problem}"
        return ""
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return f": {b!r} instead of {a!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            problem = _difference(x, y, atol)
            if problem:
                return f"[{i}]{problem}"
        return ""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        if x.shape != y.shape or x.dtype != y.dtype:
            return f": {y.dtype}{y.shape} instead of {x.dtype}{x.shape}"
        if x.dtype.kind in "fc" and atol > 0:
            same = np.allclose(x, y, rtol=0.0, atol=atol, equal_nan=True)
        else:
            same = np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
        if same:
            return ""
        if x.dtype.kind in "fciu" and x.size:
            gap = np.abs(x.astype(np.float64) - y.astype(np.float64))
            index = np.unravel_index(int(np.nanargmax(gap)), x.shape)
            return f"[{', '.join(map(str, index))}]: {y[index]!r} instead of {x[index]!r}"
        return ": arrays differ"
    if isinstance(a, (float, np.floating)) and isinstance(b, (int, float, np.number)):
        if math.isnan(a) and math.isnan(b):
            return ""
        return "" if abs(float(a) - float(b)) <= atol else f": {b!r} instead of {a!r}"
    if type(a) is not type(b) and not (
        isinstance(a, (int, np.integer, bool, np.bool_))
        and isinstance(b, (int, np.integer, bool, np.bool_))
    ):
        return f": {type(b).__name__} {b!r} instead of {type(a).__name__} {a!r}"
    return "" if a == b else f": {b!r} instead of {a!r}"


def _frame_difference(a: Any, b: Any) -> str:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        return f": shape {y.shape} instead of {x.shape}"
    gap = float(np.abs(x - y).mean())
    return "" if gap <= 1.0 else f": frames differ by {gap:.2f} grey levels on average"


def _factory(name: str, kwargs: Mapping[str, Any]) -> Callable[..., gym.Env]:
    resolve(name)  # fail early with "did you mean"

    def make_env(split: str = "train", **extra: Any) -> gym.Env:
        return make(name, split=split, **{**kwargs, **extra})

    return make_env


def _check_sb3(env: gym.Env, label: str) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sb3_check_env(env, warn=False)
        except AssertionError as err:
            raise ConformanceError(f"{label}: SB3 check_env failed: {err}") from err


def _check_action_validation(env: gym.Env, label: str) -> None:
    env.reset(seed=0)
    space = env.action_space
    bad: list[Any] = []
    if isinstance(space, spaces.Box):
        nan = np.zeros(space.shape, dtype=space.dtype)
        nan.flat[0] = np.nan
        inf = np.zeros(space.shape, dtype=space.dtype)
        inf.flat[0] = np.inf
        bad = [nan, inf, np.zeros((*space.shape, 2), dtype=space.dtype)]
        big = np.full(space.shape, 1e6, dtype=space.dtype)
        env.step(big)  # out of bounds: clipped, not an error
    elif isinstance(space, spaces.Discrete):
        bad = [space.start + space.n, space.start - 1, np.array([0, 1]), 0.5, float("nan")]
    for action in bad:
        try:
            env.step(action)
        except ValueError:
            continue
        raise ConformanceError(f"{label}: step({action!r}) did not raise ValueError")


def _check_split(
    factory: Callable[..., gym.Env], split: str, steps: int, limit: int, label: str
) -> None:
    """Random actions for ``steps`` steps, then on to the end of the current episode."""
    where = f"{label} split {split!r}"
    env = factory(split)
    try:
        base: ScenarioEnv = env.unwrapped  # type: ignore[assignment]
        env.action_space.seed(7)
        obs, info = env.reset(seed=7)
        ended, length, t = 0, 0, 0
        while t < steps or length > 0:
            _check_obs(env.observation_space, obs, where)
            if "scenario" not in info:
                raise ConformanceError(f"{label}: info lacks 'scenario'")
            if not base.scenario_space.contains(info["scenario"], split):
                raise ConformanceError(
                    f"{label}: scenario {info['scenario']} is not in split {split!r}"
                )
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            t += 1
            length += 1
            if not math.isfinite(reward):
                raise ConformanceError(f"{label}: non-finite reward {reward}")
            _check_reward_terms(info, reward, f"{where} step {t}")
            if terminated or truncated:
                ended += 1
                length = 0
                _check_episode_end(base, info, where)
                obs, info = env.reset()
            elif length >= limit:
                raise ConformanceError(
                    f"{where}: an episode reached its max_episode_steps ({limit}) without "
                    "terminating or truncating; the env must truncate its own episodes at "
                    "the limit it declares"
                )
        if ended == 0:  # unreachable: the loop runs on to an episode end
            raise ConformanceError(f"{where}: no episode ended")
    finally:
        env.close()


def _check_episode_end(base: ScenarioEnv, info: Mapping[str, Any], where: str) -> None:
    for key in ("is_success", *base.episode_info_keys):
        if key not in info:
            raise ConformanceError(f"{where}: episode-end info lacks {key!r}")


#: How close ``sum(info["reward_terms"].values())`` must be to the reward.
REWARD_TERMS_RTOL, REWARD_TERMS_ATOL = 1e-5, 1e-6


def _check_reward_terms(info: Mapping[str, Any], reward: float, where: str) -> None:
    terms = info.get("reward_terms")
    if not isinstance(terms, Mapping) or not terms:
        raise ConformanceError(
            f"{where}: info['reward_terms'] must be a non-empty dict of named reward terms "
            f"summing to the reward, got {terms!r}"
        )
    try:
        total = math.fsum(float(v) for v in terms.values())
    except (TypeError, ValueError):
        raise ConformanceError(
            f"{where}: info['reward_terms'] must hold numbers, got {terms}"
        ) from None
    if not math.isclose(total, reward, rel_tol=REWARD_TERMS_RTOL, abs_tol=REWARD_TERMS_ATOL):
        raise ConformanceError(
            f"{where}: info['reward_terms'] {dict(terms)} sum to {total!r}, the reward is "
            f"{reward!r}"
        )


def _check_visible_context(
    factory: Callable[..., gym.Env],
    hidden_space: spaces.Space,
    context_size: int,
    limit: int,
    label: str,
) -> None:
    """``context="visible"``: constructed, reset and stepped to an episode end."""
    where = f"{label} with context='visible'"
    try:
        env = factory(context="visible")
    except Exception as err:
        raise ConformanceError(
            f"{where} cannot be constructed: {type(err).__name__}: {err} (the constructor "
            "must accept context= and pass it to ScenarioEnv.__init__)"
        ) from err
    try:
        space = env.observation_space
        if space == hidden_space:
            raise ConformanceError(
                f"{where}: the observation space is the hidden one; declare it with "
                "self._declare_observation_space(world_space) in __init__ (not by setting "
                "observation_space) so the context is appended"
            )
        env.action_space.seed(3)
        obs, _ = env.reset(seed=3)
        for t in range(limit + 1):
            _check_obs(space, obs, f"{where} step {t}")
            context = obs[CONTEXT_KEY] if isinstance(obs, Mapping) else None
            if context is not None and np.shape(context) != (context_size,):
                raise ConformanceError(f"{where}: context has shape {np.shape(context)}")
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                _check_obs(space, obs, f"{where} last step")
                return
        raise ConformanceError(f"{where}: no episode end within max_episode_steps ({limit})")
    except ConformanceError:
        raise
    except EnvContractError:
        raise
    except Exception as err:
        raise ConformanceError(
            f"{where} failed: {type(err).__name__}: {err} (declare the observation space "
            "with self._declare_observation_space(world_space))"
        ) from err
    finally:
        env.close()


def _check_expert(
    name: str, factory: Callable[..., gym.Env], episodes: int, limit: int, label: str
) -> None:
    """The expert plays seeded ``train`` episodes and succeeds in at least one."""
    where = f"{label}: the scripted expert"
    env = factory("train")
    try:
        try:
            expert = make_expert(name, env)
        except Exception as err:
            raise ConformanceError(f"{where} cannot be built: {type(err).__name__}: {err}") from err
        if not callable(getattr(expert, "predict", None)):
            raise ConformanceError(f"{where} has no predict() (see envs.Policy)")
        masks = getattr(env.unwrapped, "action_masks", None)
        successes = 0
        for episode in range(episodes):
            obs, _ = env.reset(seed=1000 + episode)
            state: Any = None
            for t in range(limit + 1):
                try:
                    out = expert.predict(
                        obs,
                        state=state,
                        episode_start=np.array([t == 0]),
                        deterministic=True,
                        action_masks=None if masks is None else np.asarray(masks(), dtype=bool),
                    )
                    action, state = out
                    obs, _, terminated, truncated, info = env.step(action)
                except (ConformanceError, EnvContractError):
                    raise
                except Exception as err:
                    raise ConformanceError(
                        f"{where} failed in episode {episode} at step {t}: "
                        f"{type(err).__name__}: {err} (predict(observation, state=None, "
                        "episode_start=None, deterministic=True, action_masks=None) must "
                        "return (action, state) with a valid action)"
                    ) from err
                if terminated or truncated:
                    successes += bool(info.get("is_success", False))
                    break
            else:
                raise ConformanceError(f"{where}: episode {episode} did not end")
        if successes == 0:
            raise ConformanceError(f"{where} succeeded in none of {episodes} seeded train episodes")
    finally:
        env.close()


def _check_obs(space: spaces.Space, obs: Any, where: str) -> None:
    if not space.contains(obs):
        raise ConformanceError(f"{where}: observation outside the observation space")


def rollout_digest(
    factory: Callable[..., gym.Env], *, seed: int, steps: int
) -> list[tuple[Any, ...]]:
    """A comparable record of a seeded rollout with seeded random actions.

    Resets with ``seed`` once, then plain ``reset()`` at each episode end (the
    ``reset(seed=s)`` then ``reset()`` path must be deterministic too).
    """
    env = factory()
    try:
        env.action_space.seed(seed)
        obs, info = env.reset(seed=seed)
        record: list[tuple[Any, ...]] = [("reset", _freeze(obs), _freeze(info))]
        for _ in range(steps):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            record.append((_freeze(obs), float(reward), terminated, truncated, _freeze(info)))
            if terminated or truncated:
                obs, info = env.reset()
                record.append(("reset", _freeze(obs), _freeze(info)))
        return record
    finally:
        env.close()


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        if value.dtype == object:  # vector infos: strings, final observations, ...
            return (value.shape, tuple(_freeze(v) for v in value.flat))
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_render(name: str, kwargs: Mapping[str, Any], label: str) -> None:
    env = make(name, **kwargs)
    supported = env.metadata.get("render_modes", [])
    env.close()
    if "rgb_array" in supported:
        env = make(name, render_mode="rgb_array", **kwargs)
        try:
            env.reset(seed=0)
            frame = env.render()
            if (
                not isinstance(frame, np.ndarray)
                or frame.dtype != np.uint8
                or frame.ndim != 3
                or frame.shape[2] != 3
            ):
                raise ConformanceError(f"{label}: rgb_array render must be uint8 HxWx3")
            if frame.max() == frame.min():
                raise ConformanceError(f"{label}: rgb_array render is a blank frame")
        finally:
            env.close()
    elif "ansi" in supported:
        env = make(name, render_mode="ansi", **kwargs)
        try:
            env.reset(seed=0)
            text = env.render()
            if not isinstance(text, str) or not text:
                raise ConformanceError(f"{label}: ansi render must return non-empty text")
        finally:
            env.close()
    else:
        raise ConformanceError(f"{label}: supports neither 'rgb_array' nor 'ansi' rendering")


def _check_vector(factory: Callable[..., gym.Env], label: str) -> None:
    vec = gym.vector.AsyncVectorEnv([factory, factory])
    try:
        vec.reset(seed=[1, 2])
        for _ in range(10):
            vec.step(vec.action_space.sample())
        vec.call("set_distribution", "train")
    except Exception as err:
        raise ConformanceError(f"{label}: failed inside AsyncVectorEnv(2): {err}") from err
    finally:
        vec.close()


# --------------------------------------------------------------------------- vector envs


def check_vector_env(
    vec_env_factory: Callable[[], gym.vector.VectorEnv],
    *,
    steps: int = 120,
    seed: int = 0,
    require_episode_end: bool = True,
) -> None:
    """Checks that a ``gymnasium.vector.VectorEnv`` keeps Gymnasium's vector contract.

    Checked: observations inside ``observation_space`` and inside
    ``batch_space(single_observation_space, N)`` with the space's dtype; rewards and
    done flags of shape ``(N,)``; every info key (nested dicts too) paired with a bool
    ``_key`` mask of shape ``(N,)``; the semantics of the autoreset mode in
    ``metadata["autoreset_mode"]`` (``NEXT_STEP``: the step after a world's episode end
    gives it reward 0 and not done; ``SAME_STEP``: the done step has ``final_obs`` and
    ``final_info`` masked exactly on the done worlds); seeding (the same seed list gives
    the same observations and rollouts, and int seed ``s`` equals the list
    ``[s, s + 1, ...]``); world independence (world 0's trajectory is bit-exact the same
    whatever its neighbours' seeds); and a batch of actions of the wrong shape or with
    NaN raising ``ValueError``. Run it once per autoreset mode the env supports.

    Args:
        vec_env_factory: Builds a fresh vector env (called several times).
        steps: Random-action steps of the rollout checks.
        seed: Base seed.
        require_episode_end: Fail when no world's episode ended within ``steps`` (the
            autoreset semantics went unchecked); False lets long-episode envs pass.

    Raises:
        ConformanceError: What was violated, naming the vector env class.
    """
    venv = vec_env_factory()
    label = type(venv.unwrapped).__name__
    try:
        _check_vector_spaces(venv, label)
        _check_vector_rollout(venv, steps, seed, label, require_episode_end)
        _check_vector_actions(venv, seed, label)
    finally:
        venv.close()
    _check_vector_seeding(vec_env_factory, steps, seed, label)
    _check_world_independence(vec_env_factory, steps, seed, label)


def _check_vector_spaces(venv: gym.vector.VectorEnv, label: str) -> None:
    n = venv.num_envs
    if not isinstance(n, int) or n < 1:
        raise ConformanceError(f"{label}: num_envs must be an int >= 1, got {n!r}")
    for kind in ("observation", "action"):
        single = getattr(venv, f"single_{kind}_space")
        if getattr(venv, f"{kind}_space") != batch_space(single, n):
            raise ConformanceError(
                f"{label}: {kind}_space is not batch_space(single_{kind}_space, {n})"
            )


def _check_vector_obs(venv: gym.vector.VectorEnv, obs: Any, where: str) -> None:
    batched = batch_space(venv.single_observation_space, venv.num_envs)
    if not venv.observation_space.contains(obs) or not batched.contains(obs):
        raise ConformanceError(f"{where}: batched observation outside the observation space")
    leaves = obs.items() if isinstance(obs, Mapping) else [("", obs)]
    for key, value in leaves:
        space = venv.observation_space[key] if key else venv.observation_space
        dtype = getattr(space, "dtype", None)
        if dtype is not None and np.asarray(value).dtype != dtype:
            raise ConformanceError(
                f"{where}: observation {key or ''} has dtype {np.asarray(value).dtype}, "
                f"the space {dtype}"
            )


def _check_info_masks(info: Mapping[str, Any], n: int, where: str) -> None:
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue
        mask = info.get(f"_{key}")
        if mask is None:
            raise ConformanceError(f"{where}: info key {key!r} has no '_{key}' mask")
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (n,):
            raise ConformanceError(
                f"{where}: mask '_{key}' must be bool of shape ({n},), "
                f"got {mask.dtype} {mask.shape}"
            )
        if isinstance(value, Mapping):
            _check_info_masks(value, n, f"{where} info[{key!r}]")
        elif key != "final_obs" and np.shape(value)[:1] != (n,):
            raise ConformanceError(f"{where}: info[{key!r}] must have leading axis {n}")


def _check_vector_rollout(
    venv: gym.vector.VectorEnv, steps: int, seed: int, label: str, require_episode_end: bool
) -> None:
    n = venv.num_envs
    raw = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    mode = AutoresetMode(getattr(raw, "value", raw))
    venv.action_space.seed(seed)
    obs, info = venv.reset(seed=seed)
    _check_vector_obs(venv, obs, f"{label} reset")
    _check_info_masks(info, n, f"{label} reset")
    previous_done = np.zeros(n, dtype=bool)
    ended = 0
    for t in range(steps):
        where = f"{label} step {t}"
        obs, rewards, terminated, truncated, info = venv.step(venv.action_space.sample())
        _check_vector_obs(venv, obs, where)
        _check_info_masks(info, n, where)
        for name, value, dtype in (
            ("rewards", rewards, np.floating),
            ("terminated", terminated, np.bool_),
            ("truncated", truncated, np.bool_),
        ):
            value = np.asarray(value)
            if value.shape != (n,) or not np.issubdtype(value.dtype, dtype):
                raise ConformanceError(
                    f"{where}: {name} must be {dtype.__name__} of shape ({n},), "
                    f"got {value.dtype} {value.shape}"
                )
        if not np.isfinite(rewards).all():
            raise ConformanceError(f"{where}: non-finite rewards {rewards}")
        done = np.asarray(terminated) | np.asarray(truncated)
        if mode == AutoresetMode.NEXT_STEP and previous_done.any():
            worlds = np.flatnonzero(previous_done)
            if np.any(np.asarray(rewards)[worlds] != 0) or done[worlds].any():
                raise ConformanceError(
                    f"{where}: NEXT_STEP worlds {worlds.tolist()} must reset here, with "
                    "reward 0 and not done"
                )
        if mode == AutoresetMode.SAME_STEP:
            _check_same_step(venv, done, info, where)
        previous_done = done
        ended += int(done.sum())
    if ended == 0 and mode != AutoresetMode.DISABLED and require_episode_end:
        raise ConformanceError(
            f"{label}: no episode ended in {steps} steps; pass more steps to check autoreset"
        )


def _check_same_step(
    venv: gym.vector.VectorEnv, done: np.ndarray, info: Mapping[str, Any], where: str
) -> None:
    for key in ("final_obs", "final_info"):
        if not done.any() and key not in info:
            continue
        mask = np.asarray(info.get(f"_{key}", np.zeros_like(done)))
        if not np.array_equal(mask, done):
            raise ConformanceError(
                f"{where}: SAME_STEP '_{key}' must be true exactly on the done worlds "
                f"{np.flatnonzero(done).tolist()}, got {mask.tolist()}"
            )
    for i in np.flatnonzero(done):
        if not venv.single_observation_space.contains(info["final_obs"][i]):
            raise ConformanceError(f"{where}: final_obs[{i}] outside the single observation space")


def _check_vector_actions(venv: gym.vector.VectorEnv, seed: int, label: str) -> None:
    venv.reset(seed=seed)
    space = venv.action_space
    bad: list[Any] = []
    if isinstance(space, spaces.Box):
        nan = np.zeros(space.shape, dtype=space.dtype)
        nan.flat[0] = np.nan
        bad = [nan, np.zeros((space.shape[0] + 1, *space.shape[1:]), dtype=space.dtype)]
    elif isinstance(space, spaces.MultiDiscrete):
        bad = [np.zeros(space.shape[0] + 1, dtype=space.dtype), space.nvec + space.start]
    for actions in bad:
        try:
            venv.step(actions)
        except ValueError:
            venv.reset(seed=seed)
            continue
        raise ConformanceError(
            f"{label}: step with a bad action batch (shape {np.shape(actions)}) did not "
            "raise ValueError"
        )


def _vector_digest(
    venv: gym.vector.VectorEnv, reset_seed: Any, action_seed: int, steps: int
) -> list[Any]:
    venv.action_space.seed(action_seed)
    obs, info = venv.reset(seed=reset_seed)
    record: list[Any] = [_freeze(obs), _freeze(info)]
    for _ in range(steps):
        record.append(_freeze(venv.step(venv.action_space.sample())))
    return record


def _check_vector_seeding(
    factory: Callable[[], gym.vector.VectorEnv], steps: int, seed: int, label: str
) -> None:
    a, b = factory(), factory()
    try:
        seeds = [seed + 11 * i for i in range(a.num_envs)]
        if _vector_digest(a, seeds, seed, steps) != _vector_digest(b, seeds, seed, steps):
            raise ConformanceError(f"{label}: two vector envs with seeds {seeds} diverged")
        listed = [seed + i for i in range(a.num_envs)]
        if _vector_digest(a, seed, seed, steps) != _vector_digest(b, listed, seed, steps):
            raise ConformanceError(f"{label}: reset(seed={seed}) differs from seed={listed}")
    finally:
        a.close()
        b.close()


def _world_zero(venv: gym.vector.VectorEnv, seeds: list[int], action_seed: int, steps: int) -> list:
    venv.action_space.seed(action_seed)
    obs, info = venv.reset(seed=seeds)
    record: list[Any] = [_freeze(_first(obs))]
    for _ in range(steps):
        obs, rewards, terminated, truncated, info = venv.step(venv.action_space.sample())
        final = info.get("final_obs")
        record.append(
            (
                _freeze(_first(obs)),
                float(rewards[0]),
                bool(terminated[0]),
                bool(truncated[0]),
                None if final is None else _freeze(final[0]),
            )
        )
    return record


def _first(obs: Any) -> Any:
    return {k: v[0] for k, v in obs.items()} if isinstance(obs, Mapping) else obs[0]


def _check_world_independence(
    factory: Callable[[], gym.vector.VectorEnv], steps: int, seed: int, label: str
) -> None:
    a, b = factory(), factory()
    try:
        n = a.num_envs
        if n < 2:
            return
        seeds = [seed + 11 * i for i in range(n)]
        others = [seeds[0]] + [seed + 1000 + 7 * i for i in range(1, n)]
        if _world_zero(a, seeds, seed, steps) != _world_zero(b, others, seed, steps):
            raise ConformanceError(
                f"{label}: world 0's trajectory changed with its neighbours' seeds; a world "
                "must depend only on its own seed, scenario and actions"
            )
    finally:
        a.close()
        b.close()
