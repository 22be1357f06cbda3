"""Evaluating one policy on every split: :func:`evaluate_transfer` and its input checks."""

from __future__ import annotations

import json
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

import envs
from agents.evaluation import baselines
from agents.evaluation.files import report_versions
from agents.evaluation.report import SplitResult, TransferReport
from agents.evaluation.rollout import (
    BASELINES,
    EpisodeJob,
    EpisodeResult,
    check_policy_matches,
    episode_seeds,
    run_jobs,
)

__all__ = ["EVAL_SEED", "check_inputs", "evaluate_transfer"]

EVAL_SEED = 0
"""The evaluator's default seed: ``agents.evaluate``, the report ``agents.train`` writes at
the end of a run and the sweep all use it, so one model gets one number (and every policy
compared meets the same episodes)."""


def evaluate_transfer(
    policy: Any,
    env_name: str,
    splits: Sequence[str] | None = None,
    episodes: int = 50,
    seed: int = EVAL_SEED,
    env_kwargs: Mapping[str, Any] | None = None,
    n_workers: int = 1,
    progress: bool = True,
    *,
    deterministic: bool = True,
    normalise: bool = True,
    label: str | None = None,
) -> TransferReport:
    """Evaluates ``policy`` on the train and held-out splits of ``env_name``.

    Every split's episodes reset with the seeds :func:`episode_seeds` derives from
    ``seed``, identical for every policy compared (common random numbers). With
    ``normalise``, the random policy and the env's scripted expert are evaluated on the
    same seeds (cached per process, so comparing many policies pays for them once).

    Args:
        policy: An object with SB3's ``predict`` for one unbatched observation (an
            ``action_masks`` keyword is passed when the env has ``action_masks()``),
            or ``"expert"`` / ``"random"``.
        env_name: Registered env name (short name or id).
        splits: Splits to evaluate (default: all, ``train`` first).
        episodes: Episodes per split.
        seed: Seed the episode seeds derive from.
        env_kwargs: Keyword arguments for ``envs.make`` (not ``split``).
        n_workers: Worker processes (1: this process); for envs with a native batch
            only the scripted expert's episodes use them (see ``rollout``).
        progress: Show a progress bar.
        deterministic: Passed to ``predict``.
        normalise: Evaluate the random and expert baselines for normalised scores
            (skipped for the expert when the env has none).
        label: Name of the policy in reports (default: its type name, or its
            ``model``'s, e.g. ``"PPO"``).

    Raises:
        ValueError: Unknown env or split, bad arguments, or a policy whose spaces do
            not match the env.
    """
    env_kwargs = dict(env_kwargs or {})
    spec, splits, info_keys = check_inputs(policy, env_name, splits, episodes, env_kwargs)
    episodes = int(episodes)
    label = label or (
        policy if isinstance(policy, str) else type(getattr(policy, "model", policy)).__name__
    )

    seeds = {s: episode_seeds(seed, s, episodes) for s in splits}
    # What each role is evaluated as: the agent may itself be a baseline.
    roles = {"agent": policy if isinstance(policy, str) else "agent"}
    if normalise:
        roles["random"] = "random"
        if spec.expert is not None:
            roles["expert"] = "expert"
    cache_key: tuple[Any, ...] = (
        spec.name,
        json.dumps(env_kwargs, sort_keys=True, default=repr),
        tuple(splits),
        episodes,
        int(seed),
        deterministic,
    )
    for kind in set(roles.values()) & set(BASELINES):
        if (*cache_key, kind) not in baselines.CACHE:
            stored = baselines.load((*cache_key, kind))
            if stored is not None:
                baselines.remember((*cache_key, kind), stored)
    known = {
        kind: baselines.CACHE[key]
        for kind in set(roles.values())
        if (key := (*cache_key, kind)) in baselines.CACHE
    }
    to_run = [kind for kind in dict.fromkeys(roles.values()) if kind not in known]
    jobs = [
        EpisodeJob(kind, s, i, sd)
        for kind in to_run
        for s in splits
        for i, sd in enumerate(seeds[s])
    ]
    results = run_jobs(
        jobs,
        env_name=spec.name,
        env_kwargs=env_kwargs,
        policies={kind: (policy if kind == "agent" else kind) for kind in to_run},
        deterministic=deterministic,
        n_workers=n_workers,
        progress=progress,
        desc=f"{label} on {spec.name}",
    )
    for kind in to_run:
        known[kind] = [r for j, r in zip(jobs, results, strict=True) if j.policy == kind]
        if kind in BASELINES:
            baselines.remember((*cache_key, kind), known[kind])
            baselines.store((*cache_key, kind), known[kind])

    def per_split(role: str, split: str) -> list[EpisodeResult] | None:
        if role not in roles:
            return None
        offset = splits.index(split) * episodes
        return known[roles[role]][offset : offset + episodes]

    split_results = {}
    for s in splits:
        agent = per_split("agent", s) or []
        split_results[s] = SplitResult.from_results(
            s, seeds[s], agent, per_split("random", s), per_split("expert", s)
        )
    return TransferReport(
        env=spec.name,
        env_kwargs=env_kwargs,
        policy=label,
        seed=int(seed),
        splits=split_results,
        episode_info_keys=info_keys,
        deterministic=deterministic,
        created=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        versions=report_versions(),
    )


def check_inputs(
    policy: Any,
    env_name: str,
    splits: Sequence[str] | None = None,
    episodes: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
) -> tuple[envs.EnvSpec, list[str], tuple[str, ...]]:
    """Checks :func:`evaluate_transfer`'s arguments without running an episode.

    Returns:
        The env's spec, the splits to evaluate and the env's ``episode_info_keys``.

    Raises:
        ValueError: Unknown env or split, a bad ``episodes`` or ``env_kwargs``, or a
            policy whose spaces do not match the env (the message says which).
    """
    env_kwargs = dict(env_kwargs or {})
    if "split" in env_kwargs:
        raise ValueError("env_kwargs must not contain 'split'; pass splits=[...] instead")
    if isinstance(episodes, bool) or not isinstance(episodes, numbers.Integral) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if isinstance(policy, str) and policy not in BASELINES:
        raise ValueError(
            f"policy must be 'expert', 'random' or an object with predict(), got {policy!r}"
        )
    spec = envs.resolve(env_name)
    try:
        probe = envs.make(spec.name, **env_kwargs)
    except TypeError as err:
        raise ValueError(f"env {spec.name!r} rejected env_kwargs {env_kwargs}: {err}") from None
    try:
        base = probe.unwrapped
        space = getattr(base, "scenario_space", None)
        if space is None:
            raise ValueError(f"env {spec.name!r} is not a practicegym ScenarioEnv")
        splits = _check_splits(splits, list(space.split_names), spec.name)
        env_label = f"{spec.name!r}" + (f" with {env_kwargs}" if env_kwargs else "")
        if not isinstance(policy, str):
            check_policy_matches(policy, probe, env_label)
        info_keys = tuple(getattr(base, "episode_info_keys", ()))
    finally:
        probe.close()
    if policy == "expert" and spec.expert is None:
        raise ValueError(f"env {spec.name!r} declares no scripted expert")
    return spec, splits, info_keys


def _check_splits(splits: Sequence[str] | None, valid: list[str], env: str) -> list[str]:
    if splits is None:
        return valid
    if isinstance(splits, str):
        splits = [splits]
    chosen = list(dict.fromkeys(splits))
    unknown = [s for s in chosen if s not in valid]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown} for env {env!r}; valid: {valid}")
    if not chosen:
        raise ValueError(f"no splits to evaluate; valid: {valid}")
    return chosen
