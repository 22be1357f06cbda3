"""Running evaluation episodes: seeds, baseline policies and worker processes.

Common random numbers: episode ``i`` of split ``s`` always starts with
``env.reset(seed=episode_seeds(seed, s, n)[i])``, so every policy compared meets the
same scenarios (and the same env noise as long as it acts the same). The random
baseline draws its actions from a generator seeded from the episode seed too, so its
returns are reproducible.

Episodes run in-process (``n_workers=1``) or in ``spawn`` worker processes, each
keeping one env per split; results come back in job order whatever the worker count.

Envs with a native batch (a ``vector_entry_point``) run a split's episodes side by side
instead, in one vector env of up to :data:`VECTOR_WORLDS` worlds: world ``j`` resets with
episode ``j``'s seed and samples its scenario from the split exactly as the single env
does, and a world's trajectory depends only on its seed, scenario and actions, so every
episode is the one the sequential path would run (the common random numbers hold). SB3
models act on the whole batch in one call (batched float arithmetic may differ from
one-at-a-time in the last bits); other policies, and the random baseline, act world by
world exactly as in the sequential path. The scripted expert reads privileged state, so
it runs in the batch only where the vector env offers a per-world env-like view
(``world(j)``, as driving's does): one expert per world, each acting on its own world
exactly as on a single env; elsewhere its episodes run sequentially.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import sys
import warnings
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import envs
from agents.episodes import Episode, as_policy, play_episode, play_vector
from envs.core import Policy

__all__ = [
    "BASELINES",
    "VECTOR_WORLDS",
    "EpisodeJob",
    "EpisodeResult",
    "RandomPolicy",
    "check_policy_matches",
    "default_workers",
    "episode_seeds",
    "run_jobs",
]

BASELINES = ("expert", "random")
VECTOR_WORLDS = 64  # the most worlds of one vector env in the vector path


def episode_seeds(seed: int, split: str, episodes: int) -> list[int]:
    """Reset seeds of a split's evaluation episodes (the common random numbers).

    Seed ``i`` depends only on ``(seed, split, i)``, so asking for more episodes keeps
    the first ones.

    >>> episode_seeds(0, "train", 3) == episode_seeds(0, "train", 5)[:3]
    True
    >>> episode_seeds(0, "train", 3) == episode_seeds(0, "heldout-far", 3)
    False
    """
    key = zlib.crc32(split.encode())
    return [
        int(np.random.SeedSequence(int(seed), spawn_key=(key, i)).generate_state(1)[0])
        for i in range(episodes)
    ]


def _derived_seed(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1)[0])


class RandomPolicy:
    """Uniform random actions; only unmasked ones when the env gives action masks.

    Seeded at each episode start from the episode's seed (through a separate stream
    from the env's), so its returns are reproducible.
    """

    def __init__(self, action_space: spaces.Space) -> None:
        self.action_space = copy.deepcopy(action_space)

    def begin_episode(self, seed: int) -> None:
        """Reseeds the action sampler for the episode reset with ``seed``."""
        self.action_space.seed(_derived_seed(seed, 1))

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[Any, Any]:
        """A random action for one observation (``deterministic`` is ignored)."""
        if action_masks is not None and isinstance(self.action_space, spaces.Discrete):
            mask = np.asarray(action_masks, dtype=np.int8)
            if mask.any():
                return self.action_space.sample(mask=mask), state
        return self.action_space.sample(), state


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: which policy (by key), split, index and reset seed.

    ``scenario`` (optional) forces scenario values at reset
    (``options={"scenario": ...}``); parameters it omits are drawn from ``split``.
    """

    policy: str
    split: str
    index: int
    seed: int
    scenario: Mapping[str, Any] | None = None

    def reset_options(self) -> dict[str, Any] | None:
        """The ``options`` of this episode's reset (``None`` when nothing is forced)."""
        return None if self.scenario is None else {"scenario": dict(self.scenario)}


@dataclass
class EpisodeResult:
    """What one episode produced."""

    ret: float
    length: int
    success: bool
    scenario: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def _fits(theirs: spaces.Space, ours: spaces.Space) -> bool:
    """Whether a policy built for ``theirs`` can act on observations/actions of ``ours``.

    Image boxes may be channels-first on the policy's side (SB3 transposes them).
    """
    if isinstance(theirs, spaces.Dict) or isinstance(ours, spaces.Dict):
        return (
            isinstance(theirs, spaces.Dict)
            and isinstance(ours, spaces.Dict)
            and list(theirs.spaces) == list(ours.spaces)
            and all(_fits(theirs[k], ours[k]) for k in ours.spaces)
        )
    if isinstance(theirs, spaces.Discrete) or isinstance(ours, spaces.Discrete):
        return type(theirs) is type(ours) and int(theirs.n) == int(ours.n)  # type: ignore[attr-defined]
    if type(theirs) is not type(ours):
        return False
    a, b = tuple(theirs.shape or ()), tuple(ours.shape or ())
    return a == b or (len(b) == 3 and a == (b[2], b[0], b[1]))


def _declared_spaces(policy: Any, name: str) -> list[spaces.Space]:
    owners = (policy, getattr(policy, "model", None))
    found = [getattr(owner, name, None) for owner in owners]
    return [s for s in found if isinstance(s, spaces.Space)]


def check_policy_matches(policy: Any, env: gym.Env, env_label: str) -> None:
    """Raises ValueError when a policy's declared spaces do not fit ``env``'s.

    The spaces a policy declares (``observation_space``/``action_space``, on itself
    and on its ``model`` as SB3 models and run-folder policies have) are all checked;
    a policy that declares none is not.
    """
    if not callable(getattr(policy, "predict", None)):
        raise ValueError(
            f"policy must be 'expert', 'random' or an object with SB3's predict(), "
            f"got {type(policy).__name__}"
        )
    for name in ("observation_space", "action_space"):
        ours = getattr(env, name)
        for theirs in _declared_spaces(policy, name):
            if not _fits(theirs, ours):
                raise ValueError(
                    f"the policy does not match env {env_label}: it expects {name} "
                    f"{theirs}, the env has {ours}"
                )


# --------------------------------------------------------------------------- workers


class _Worker:
    """Keeps one env per split and the policies; runs episodes."""

    def __init__(
        self,
        env_name: str,
        env_kwargs: Mapping[str, Any],
        policies: Mapping[str, Any],
        deterministic: bool,
    ) -> None:
        self.env_name = env_name
        self.env_kwargs = dict(env_kwargs)
        self.policies = dict(policies)
        self.deterministic = deterministic
        self._envs: dict[str, gym.Env] = {}
        self._resolved: dict[tuple[str, str], Policy] = {}

    def env(self, split: str) -> gym.Env:
        if split not in self._envs:
            self._envs[split] = envs.make(self.env_name, split=split, **self.env_kwargs)
        return self._envs[split]

    def policy(self, key: str, split: str) -> Policy:
        if (key, split) not in self._resolved:
            env = self.env(split)
            spec = self.policies[key]
            if isinstance(spec, str) and spec == "expert":
                policy = envs.make_expert(self.env_name, env)
            elif isinstance(spec, str) and spec == "random":
                policy = RandomPolicy(env.action_space)
            else:
                policy = spec
            self._resolved[key, split] = as_policy(policy)
        return self._resolved[key, split]

    def run(self, job: EpisodeJob) -> EpisodeResult:
        env = self.env(job.split)
        policy = self.policy(job.policy, job.split)
        if isinstance(policy, RandomPolicy):
            policy.begin_episode(job.seed)
        episode = play_episode(
            env,
            policy,
            seed=job.seed,
            options=job.reset_options(),
            deterministic=self.deterministic,
        )
        return _result(episode, getattr(env.unwrapped, "episode_info_keys", ()))

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _result(episode: Episode, keys: Sequence[str]) -> EpisodeResult:
    return EpisodeResult(
        ret=episode.ret,
        length=episode.length,
        success=episode.success,
        scenario=episode.scenario,
        info={k: _plain(episode.info[k]) for k in keys if k in episode.info},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


_WORKER: _Worker | None = None


def _init_worker(
    env_name: str, env_kwargs: dict[str, Any], policies: dict[str, Any], deterministic: bool
) -> None:
    global _WORKER
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    _WORKER = _Worker(env_name, env_kwargs, policies, deterministic)


def _run_chunk(jobs: list[EpisodeJob]) -> list[EpisodeResult]:
    assert _WORKER is not None, "worker not initialised"
    return [_WORKER.run(job) for job in jobs]


def _picklable(obj: Any) -> str | None:
    try:
        pickle.dumps(obj)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def run_jobs(
    jobs: Sequence[EpisodeJob],
    *,
    env_name: str,
    env_kwargs: Mapping[str, Any],
    policies: Mapping[str, Any],
    deterministic: bool = True,
    n_workers: int = 1,
    progress: bool = True,
    desc: str = "evaluating",
    vectorize: bool | None = None,
) -> list[EpisodeResult]:
    """Runs ``jobs`` and returns their results in the same order.

    Args:
        jobs: Episodes to run.
        env_name: Registered env name.
        env_kwargs: Keyword arguments for ``envs.make``.
        policies: Policy key -> ``"expert"``, ``"random"`` or an object with ``predict``.
        deterministic: Passed to ``predict``.
        n_workers: Worker processes; 1 runs in this process. Policies that cannot be
            pickled are run in this process (with a warning).
        progress: Show a tqdm progress bar (on stderr).
        desc: Progress bar label.
        vectorize: Run each split's episodes side by side in one vector env (see the
            module docstring; the expert's only where the batch has world views).
            ``None``: when the env has a native batch (``vector_entry_point``).
    """
    from tqdm.auto import tqdm

    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    if vectorize is None:
        vectorize = envs.resolve(env_name).vector_entry_point is not None
    if vectorize:
        experts = any(policies[job.policy] == "expert" for job in jobs)
        batch_experts = experts and _has_world_views(env_name, env_kwargs)
        vector = [
            i for i, job in enumerate(jobs) if batch_experts or policies[job.policy] != "expert"
        ]
        if vector:
            results: dict[int, EpisodeResult] = {}
            probe = envs.make(env_name, **dict(env_kwargs))
            limit = envs.episode_limit(probe, env_name)  # the instance's (kwargs-dependent)
            probe.close()
            with tqdm(total=len(vector), desc=desc, disable=not progress, unit="ep") as bar:
                for group in _groups([(i, jobs[i]) for i in vector]):
                    results.update(
                        _run_vector(
                            group, env_name, env_kwargs, policies, deterministic, bar, limit
                        )
                    )
            rest = [i for i in range(len(jobs)) if i not in results]
            rest_results = run_jobs(
                [jobs[i] for i in rest],
                env_name=env_name,
                env_kwargs=env_kwargs,
                policies=policies,
                deterministic=deterministic,
                n_workers=n_workers,
                progress=progress,
                desc=desc,
                vectorize=False,
            )
            results.update(zip(rest, rest_results, strict=True))
            return [results[i] for i in range(len(jobs))]
    if n_workers > 1:
        for key, policy in policies.items():
            problem = None if isinstance(policy, str) else _picklable(policy)
            if problem:
                warnings.warn(
                    f"policy {key!r} cannot be pickled ({problem}); evaluating in-process",
                    stacklevel=2,
                )
                n_workers = 1
                break
    n_workers = min(n_workers, max(1, len(jobs)))
    ordered: list[EpisodeResult | None] = [None] * len(jobs)
    with tqdm(total=len(jobs), desc=desc, disable=not progress, unit="ep") as bar:
        if n_workers == 1:
            worker = _Worker(env_name, env_kwargs, policies, deterministic)
            try:
                for i, job in enumerate(jobs):
                    ordered[i] = worker.run(job)
                    bar.update(1)
            finally:
                worker.close()
        else:
            size = max(1, min(16, math.ceil(len(jobs) / (4 * n_workers))))
            chunks = [list(range(i, min(i + size, len(jobs)))) for i in range(0, len(jobs), size)]
            with ProcessPoolExecutor(
                max_workers=n_workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(env_name, dict(env_kwargs), dict(policies), deterministic),
            ) as pool:
                pending = {pool.submit(_run_chunk, [jobs[i] for i in c]): c for c in chunks}
                bar.set_postfix_str(f"starting {n_workers} workers", refresh=True)
                started = False
                try:
                    while pending:
                        done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                        for fut in done:
                            chunk = pending.pop(fut)
                            for i, res in zip(chunk, fut.result(), strict=True):
                                ordered[i] = res
                            bar.update(len(chunk))
                        if not started:
                            started = True
                            _restart_clock(bar)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    return [r for r in ordered if r is not None]


def _restart_clock(bar: Any) -> None:
    """Times the bar from now, keeping its count.

    Worker start-up (each loads torch) would otherwise make the first rate, and so the
    ETA, far too slow.
    """
    done = bar.n
    bar.reset()
    bar.initial = bar.n = bar.last_print_n = done
    bar.set_postfix_str("", refresh=True)


# --------------------------------------------------------------------------- vector path


def _groups(jobs: list[tuple[int, EpisodeJob]]) -> list[list[tuple[int, EpisodeJob]]]:
    """Jobs grouped by (policy, split), in order, in chunks of at most VECTOR_WORLDS."""
    by_key: dict[tuple[str, str], list[tuple[int, EpisodeJob]]] = {}
    for item in jobs:
        by_key.setdefault((item[1].policy, item[1].split), []).append(item)
    return [
        group[k : k + VECTOR_WORLDS]
        for group in by_key.values()
        for k in range(0, len(group), VECTOR_WORLDS)
    ]


def _world_attr(venv: gym.vector.VectorEnv, name: str, default: Any) -> Any:
    """Attribute ``name`` of world 0 (the vector env's own, the world protocol or Sync)."""
    base = venv.unwrapped
    if hasattr(base, name):
        return getattr(base, name)
    try:
        if hasattr(base, "get_world_attr"):
            return base.get_world_attr(0, name)
        if isinstance(base, gym.vector.SyncVectorEnv):
            return getattr(base.envs[0].unwrapped, name)
    except AttributeError:
        pass
    return default


def _run_vector(
    group: list[tuple[int, EpisodeJob]],
    env_name: str,
    env_kwargs: Mapping[str, Any],
    policies: Mapping[str, Any],
    deterministic: bool,
    bar: Any,
    limit: int | None,
) -> dict[int, EpisodeResult]:
    """Runs one (policy, split) chunk of episodes side by side, one per world."""
    split = group[0][1].split
    venv = envs.make_vec(env_name, len(group), split, **dict(env_kwargs))
    try:
        seeds = [job.seed for _, job in group]
        spec = policies[group[0][1].policy]
        if isinstance(spec, str) and spec == "random":
            policy: Any = [RandomPolicy(venv.single_action_space) for _ in seeds]
            for sampler, seed in zip(policy, seeds, strict=True):
                sampler.begin_episode(seed)
        elif isinstance(spec, str) and spec == "expert":
            world = venv.unwrapped.world  # type: ignore[attr-defined]
            policy = [envs.make_expert(env_name, world(j)) for j in range(len(seeds))]
        else:
            policy = spec
        keys = tuple(_world_attr(venv, "episode_info_keys", ()))
        forced = [job.scenario for _, job in group]
        options = None if all(f is None for f in forced) else {"scenario": forced}
        episodes = play_vector(
            venv,
            policy,
            seeds=seeds,
            options=options,
            deterministic=deterministic,
            max_steps=limit,
        )
        bar.update(len(episodes))
        return {i: _result(e, keys) for (i, _), e in zip(group, episodes, strict=True)}
    finally:
        venv.close()


def _has_world_views(env_name: str, env_kwargs: Mapping[str, Any]) -> bool:
    """Whether ``env_name``'s native batch shows each world as an env (``world(j)``)."""
    venv = envs.make_vec(env_name, 1, **dict(env_kwargs))
    try:
        return callable(getattr(venv.unwrapped, "world", None))
    finally:
        venv.close()


def default_workers() -> int:
    """A sensible worker count for this machine: CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))
