"""The one episode runner: plays episodes of a policy in an env, capped at its episode limit.

Every place that plays whole episodes — the evaluator (sequential and vector paths),
the end-of-training recording, ``agents.enjoy``, the probe, the benchmarks — goes
through :func:`play_episode` (one env) or :func:`play_vector` (N worlds side by side,
one episode each). They share:

* **one policy shape**, :class:`envs.Policy`: ``predict(observation, state=None,
  episode_start=None, deterministic=True, action_masks=None) -> (action, state)``.
  ``action_masks`` is always passed, as a keyword: the env's ``action_masks()`` as a bool
  array when it masks actions, else ``None``. :func:`as_policy` adapts Stable-Baselines3
  models (only ``MaskablePPO`` receives the masks);
* **one episode cap**: an episode that runs past the env's declared limit
  (:func:`envs.episode_limit`: ``EnvSpec.max_episode_steps`` or the instance's own) fails
  with :class:`EpisodeLimitError` instead of running forever. Envs that declare no limit
  are capped at :data:`FALLBACK_MAX_STEPS`.

>>> import envs
>>> env = envs.make("dialogue")
>>> expert = envs.make_expert("dialogue", env)
>>> episode = play_episode(env, expert, seed=0)
>>> episode.length <= 25, episode.success
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from envs.core import EnvContractError, Policy

__all__ = [
    "FALLBACK_MAX_STEPS",
    "EnvPool",
    "Episode",
    "EpisodeCap",
    "EpisodeLimitError",
    "ModelPolicy",
    "action_masks",
    "as_policy",
    "play_episode",
    "play_vector",
    "takes_masks",
]

#: Step cap of an episode whose env declares no ``max_episode_steps``.
FALLBACK_MAX_STEPS = 100_000


class EpisodeLimitError(EnvContractError):
    """An episode ran past the env's declared step limit (the env never truncated it)."""


@dataclass
class Episode:
    """What one episode produced.

    Attributes:
        ret: Sum of rewards.
        length: Steps taken.
        success: ``info["is_success"]`` at the episode end.
        scenario: ``info["scenario"]`` at reset.
        info: The info dict of the last step.
        frames: ``env.render()`` after the reset and after each step (``render=True``).
        actions: The actions taken (``record_actions=True``), with their rewards.
    """

    ret: float
    length: int
    success: bool
    scenario: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    frames: list[Any] = field(default_factory=list)
    actions: list[tuple[Any, float]] = field(default_factory=list)


def takes_masks(model: Any) -> bool:
    """Whether an SB3 model's ``predict`` takes ``action_masks`` (``MaskablePPO``)."""
    from sb3_contrib import MaskablePPO

    return isinstance(model, MaskablePPO)


class ModelPolicy:
    """A Stable-Baselines3 model as a :class:`envs.Policy`: masks go to MaskablePPO only."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.observation_space = model.observation_space
        self.action_space = model.action_space
        self._masked = takes_masks(model)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[Any, Any]:
        """The model's action (the masks are passed on when the model takes them)."""
        kwargs: dict[str, Any] = {"deterministic": deterministic}
        if self._masked and action_masks is not None:
            kwargs["action_masks"] = action_masks
        return self.model.predict(observation, state, episode_start, **kwargs)


def as_policy(policy: Any) -> Policy:
    """``policy`` as a :class:`envs.Policy`: SB3 models are wrapped, others kept.

    Raises:
        ValueError: ``policy`` has no ``predict``.
    """
    from stable_baselines3.common.base_class import BaseAlgorithm

    if isinstance(policy, BaseAlgorithm):
        return ModelPolicy(policy)
    if not callable(getattr(policy, "predict", None)):
        raise ValueError(
            f"a policy needs predict(observation, state=None, episode_start=None, "
            f"deterministic=True, action_masks=None), got {type(policy).__name__}"
        )
    return policy


def action_masks(env: gym.Env) -> np.ndarray | None:
    """The env's ``action_masks()`` as a bool array, or ``None`` when it masks nothing."""
    fn = getattr(env.unwrapped, "action_masks", None)
    return None if fn is None else np.asarray(fn(), dtype=bool)


def _limit(env: Any, max_steps: int | None) -> int:
    if max_steps is not None:
        return max_steps
    declared = envs.episode_limit(env)
    return FALLBACK_MAX_STEPS if declared is None else declared


def _too_long(env: Any, limit: int) -> EpisodeLimitError:
    spec = getattr(env, "spec", None)
    name = getattr(spec, "id", None) or type(env.unwrapped).__name__
    return EpisodeLimitError(
        f"env {name!r}: an episode ran past {limit} steps (its max_episode_steps) without "
        "terminating or truncating; an env must truncate its own episodes at the limit "
        "it declares (EnvSpec.max_episode_steps)"
    )


def play_episode(
    env: gym.Env,
    policy: Any,
    *,
    seed: int | None,
    options: Mapping[str, Any] | None = None,
    deterministic: bool = True,
    max_steps: int | None = None,
    render: bool = False,
    record_actions: bool = False,
) -> Episode:
    """Plays one episode of ``policy`` from ``env.reset(seed=seed, options=options)``.

    Args:
        env: The env (wrapped or not).
        policy: A :class:`envs.Policy` or an SB3 model (see :func:`as_policy`).
        seed: Reset seed.
        options: Reset options (e.g. ``{"scenario": {...}}``).
        deterministic: Passed to ``predict``.
        max_steps: Step cap (default: the env's declared limit, see the module docstring).
        render: Keep ``env.render()`` after the reset and every step in ``frames``.
        record_actions: Keep every ``(action, reward)`` in ``actions``.

    Raises:
        EpisodeLimitError: The episode ran past the cap.
    """
    policy = as_policy(policy)
    limit = _limit(env, max_steps)
    obs, info = env.reset(seed=seed, options=None if options is None else dict(options))
    episode = Episode(0.0, 0, False, dict(info.get("scenario", {})))
    if render:
        episode.frames.append(env.render())
    state: Any = None
    start = True
    while True:
        if episode.length >= limit:
            raise _too_long(env, limit)
        action, state = policy.predict(
            obs,
            state=state,
            episode_start=np.array([start]),
            deterministic=deterministic,
            action_masks=action_masks(env),
        )
        start = False
        obs, reward, terminated, truncated, info = env.step(action)
        episode.ret += float(reward)
        episode.length += 1
        if render:
            episode.frames.append(env.render())
        if record_actions:
            episode.actions.append((action, float(reward)))
        if terminated or truncated:
            break
    episode.success = bool(info.get("is_success", False))
    episode.info = info
    return episode


class EpisodeCap(gym.Wrapper):
    """Raises :class:`EpisodeLimitError` when an episode runs past the env's declared limit.

    The training envs are wrapped in it (``agents.factory.make_env``), so training a
    never-ending env, and SB3's periodic evaluation of it, fail at the first episode
    that overruns instead of hanging. It does not truncate: that is the env's job.
    """

    def __init__(self, env: gym.Env, max_steps: int | None = None) -> None:
        super().__init__(env)
        self.max_steps = _limit(env, max_steps)
        self._steps = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Resets the env and the step count."""
        self._steps = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Steps the env; raises when this step is past the limit and the episode goes on."""
        result = self.env.step(action)
        self._steps += 1
        if self._steps >= self.max_steps and not (result[2] or result[3]):
            raise _too_long(self.env, self.max_steps)
        return result


# --------------------------------------------------------------------------- N worlds


def _world_masks(venv: gym.vector.VectorEnv) -> np.ndarray | None:
    """Every world's action mask, or None when the env gives none."""
    base = venv.unwrapped
    try:
        if callable(getattr(base, "action_masks", None)):
            return np.asarray(base.action_masks(), dtype=bool)
        if hasattr(base, "call_world"):
            rows = [base.call_world(i, "action_masks") for i in range(venv.num_envs)]
        elif isinstance(base, gym.vector.SyncVectorEnv | EnvPool):
            rows = [env.unwrapped.action_masks() for env in base.envs]  # type: ignore[attr-defined]
        else:
            return None
    except AttributeError:
        return None
    return np.asarray(rows, dtype=bool)


def _row(obs: Any, i: int) -> Any:
    return {k: v[i] for k, v in obs.items()} if isinstance(obs, Mapping) else obs[i]


class _BatchActor:
    """Acts for every world: one batched call for SB3 models, else one call per world."""

    def __init__(self, worlds: Sequence[Any], deterministic: bool) -> None:
        self.n = len(worlds)
        self.deterministic = deterministic
        from stable_baselines3.common.base_class import BaseAlgorithm

        first = worlds[0]
        model = getattr(first, "model", first)  # ModelPolicy, run-folder policies
        batchable = isinstance(model, BaseAlgorithm) and all(w is first for w in worlds)
        self.batched: Any = first if batchable else None
        self.worlds = list(worlds)
        self.states: list[Any] = [None] * self.n
        self.state: Any = None
        self.start = True

    def act(self, obs: Any, masks: np.ndarray | None) -> np.ndarray:
        """One action per world."""
        starts = np.full(self.n, self.start)
        self.start = False
        if self.batched is not None:
            actions, self.state = self.batched.predict(
                obs,
                state=self.state,
                episode_start=starts,
                deterministic=self.deterministic,
                action_masks=masks,
            )
            return np.asarray(actions)
        actions = []
        for i, policy in enumerate(self.worlds):
            action, self.states[i] = policy.predict(
                _row(obs, i),
                state=self.states[i],
                episode_start=starts[i : i + 1],
                deterministic=self.deterministic,
                action_masks=None if masks is None else masks[i],
            )
            actions.append(action)
        return np.stack([np.asarray(a) for a in actions])


def play_vector(
    venv: gym.vector.VectorEnv,
    policy: Any,
    *,
    seeds: Sequence[int],
    options: Mapping[str, Any] | None = None,
    deterministic: bool = True,
    max_steps: int | None = None,
    masked: bool = True,
) -> list[Episode]:
    """Plays one episode in each world of ``venv`` side by side; returns them in order.

    Args:
        venv: A Gymnasium vector env (a native batch, or an :class:`EnvPool`).
        policy: One policy for every world (an SB3 model acts on the whole batch in one
            call), or a sequence of one policy per world (each called on its row).
        seeds: Reset seed of each world.
        options: Reset options (``{"scenario": [per-world dicts or None]}`` for a batch).
        deterministic: Passed to ``predict``.
        max_steps: Step cap (default: the env's declared limit).
        masked: Pass the worlds' action masks (False skips asking for them).

    Raises:
        EpisodeLimitError: A world's episode ran past the cap.
    """
    from agents.vecenv import split_infos

    n = venv.num_envs
    worlds = [as_policy(p) for p in policy] if isinstance(policy, Sequence) else None
    if worlds is None:
        worlds = [as_policy(policy)] * n
    actor = _BatchActor(worlds, deterministic)
    limit = _limit(venv, max_steps)
    obs, info = venv.reset(seed=list(seeds), options=None if options is None else dict(options))
    scenarios = [dict(row.get("scenario", {})) for row in split_infos(info, n)]
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=int)
    running = np.ones(n, dtype=bool)
    results: dict[int, Episode] = {}
    while running.any():
        if lengths.max() >= limit:
            raise _too_long(venv, limit)
        masks = _world_masks(venv) if masked else None
        masked = masks is not None  # an env without masks is not asked again
        obs, rewards, terminated, truncated, info = venv.step(actor.act(obs, masks))
        returns[running] += np.asarray(rewards, dtype=float)[running]
        lengths[running] += 1
        ended = running & (np.asarray(terminated) | np.asarray(truncated))
        if not ended.any():
            continue
        step_infos = split_infos(info, n)
        final_infos = split_infos(info.get("final_info", {}), n)
        for w in np.flatnonzero(ended):
            end = final_infos[w] if "final_info" in info and info["_final_info"][w] else None
            end = step_infos[w] if end is None else end
            results[int(w)] = Episode(
                ret=float(returns[w]),
                length=int(lengths[w]),
                success=bool(end.get("is_success", False)),
                scenario=scenarios[w],
                info=dict(end),
            )
        running &= ~ended
    return [results[w] for w in range(n)]


class EnvPool(gym.vector.VectorEnv):
    """Single envs stepped side by side as a vector env for :func:`play_vector`.

    Each env plays one episode: ``reset`` takes per-world seeds and, in
    ``options["scenario"]``, per-world forced scenarios; a world whose episode ended is
    not stepped again (it keeps its last observation, reward 0, not done), so a
    batched policy sees a batch of constant size. No autoreset.
    """

    def __init__(self, env_fns: Sequence[Any]) -> None:
        self.envs = [fn() for fn in env_fns]
        first = self.envs[0]
        self.num_envs = len(self.envs)
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = gym.vector.utils.batch_space(
            first.observation_space, self.num_envs
        )
        self.action_space = gym.vector.utils.batch_space(first.action_space, self.num_envs)
        self.metadata = {**first.metadata, "autoreset_mode": gym.vector.AutoresetMode.DISABLED}
        self.spec = first.spec
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._obs: Any = None
        self.max_episode_steps = envs.episode_limit(first)

    def reset(self, *, seed: Any = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        """Resets every env (``seed``: a list; ``options["scenario"]``: a list)."""
        seeds = list(seed) if seed is not None else [None] * self.num_envs
        forced = (options or {}).get("scenario", [None] * self.num_envs)
        infos: dict[str, Any] = {}
        rows = []
        for i, (env, s, scenario) in enumerate(zip(self.envs, seeds, forced, strict=True)):
            obs, info = env.reset(
                seed=s, options=None if scenario is None else {"scenario": scenario}
            )
            rows.append(obs)
            infos = self._add_info(infos, info, i)
        self._obs = np.stack(rows)
        self._done[:] = False
        return self._obs, infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Steps every env whose episode has not ended."""
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        for k in np.flatnonzero(~self._done):
            self._obs[k], reward, terminated[k], truncated[k], info = self.envs[k].step(actions[k])
            rewards[k] = reward
            infos = self._add_info(infos, info, int(k))
        self._done |= terminated | truncated
        return self._obs, rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        """Closes every env."""
        for env in self.envs:
            env.close()
