"""What a probe plays: an env (with its kwargs) and a policy, and how episodes are run.

Episodes go through the evaluator's runner (:func:`agents.evaluation.rollout.run_jobs`):
side by side in the env's native batch when it has one (driving), else in-process or in
worker processes. Each episode is a reset seed and the scenario values forced at reset
(parameters not forced are drawn from the split with that seed, as any reset does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from agents.evaluation.rollout import BASELINES, EpisodeJob, EpisodeResult, run_jobs
from envs.scenarios import ScenarioSpace

__all__ = ["Episode", "Target", "load_target"]

POLICY_KEY = "policy"


@dataclass(frozen=True)
class Episode:
    """One episode to play: its reset seed and the scenario values it forces."""

    seed: int
    scenario: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Target:
    """A policy in an env: what maps and searches probe.

    Attributes:
        env: Registered env name.
        policy: ``"expert"``, ``"random"`` or an object with SB3's ``predict``.
        label: How reports name the policy (the run folder's name, or the baseline).
        env_kwargs: Keyword arguments of ``envs.make``.
        run_dir: The run folder, when the policy comes from one.
    """

    env: str
    policy: Any
    label: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None

    def space(self) -> ScenarioSpace:
        """The env's scenario space."""
        env = envs.make(self.env, **self.env_kwargs)
        try:
            return env.unwrapped.scenario_space  # type: ignore[attr-defined]
        finally:
            env.close()

    def play(
        self,
        episodes: Sequence[Episode],
        *,
        split: str = "train",
        workers: int = 1,
        progress: bool = False,
        desc: str = "probing",
    ) -> list[EpisodeResult]:
        """Plays ``episodes`` (greedy actions); results come back in the same order."""
        jobs = [
            EpisodeJob(POLICY_KEY, split, i, int(ep.seed), ep.scenario)
            for i, ep in enumerate(episodes)
        ]
        return run_jobs(
            jobs,
            env_name=self.env,
            env_kwargs=self.env_kwargs,
            policies={POLICY_KEY: self.policy},
            n_workers=workers,
            progress=progress,
            desc=desc,
        )


def load_target(policy: str, env: str | None = None) -> Target:
    """Builds the target of a probe CLI: a run folder, or a baseline of ``env``.

    Args:
        policy: A run folder of ``agents.train``, a shipped agent (``pretrained:NAME``)
            or one of ``expert``/``random``.
        env: Env name; required for a baseline, must match a run folder's env.

    Raises:
        ValueError: Not a run folder, a run folder without a model, an unknown env, or a
            baseline without ``env`` (the message says what is valid).
    """
    from agents import pretrained
    from agents.runs import import_env_module, load_policy, load_run

    if pretrained.is_reference(policy):
        policy = str(pretrained.resolve(policy))
    if policy in BASELINES:
        if env is None:
            raise ValueError(f"policy {policy!r} needs --env NAME (valid: {envs.names()})")
        envs.resolve(env)
        if policy == "expert" and envs.resolve(env).expert is None:
            raise ValueError(f"env {env!r} declares no scripted expert; use a run folder")
        return Target(env=env, policy=policy, label=policy)
    if not Path(policy).is_dir():
        raise ValueError(
            f"{policy!r} is neither a run folder, pretrained:NAME "
            f"(valid: {pretrained.names()}) nor one of {list(BASELINES)} (with --env)"
        )
    info = load_run(policy)
    if env is not None and envs.resolve(env).name != envs.resolve(info.env).name:
        raise ValueError(f"--env {env!r} does not match the run's env {info.env!r}")
    import_env_module(info.config.get("env_module"), run_dir=info.path)
    try:
        loaded = load_policy(info.path)
    except ValueError:
        raise
    except Exception as err:  # a corrupt model.zip raises whatever its unpickler does
        raise ValueError(
            f"{info.path}: cannot load its model ({type(err).__name__}: {err})"
        ) from None
    return Target(
        env=info.env,
        policy=loaded,
        label=info.path.name,
        env_kwargs=dict(info.env_kwargs),
        run_dir=info.path,
    )
