"""Adversarial search: find scenarios (and episode seeds) where a policy fails.

A black-box optimiser (Optuna: TPE, CMA-ES, or random sampling as the baseline) proposes
complete scenarios plus a reset seed within ``bounds`` (``train``: the train split's
ranges; ``space``: every parameter's whole range) and maximises the failure score of
:func:`curricula.adversarial.failure_score` — ``1 - success`` plus the return shortfall
against a reference return measured once on the train split (the same reference for
every method, so scores compare). Trials are asked in batches and the batch is played
side by side (the env's native batch, or the evaluator's workers).

A failure is an episode that did not succeed. :func:`save_failures` writes them worst
first to ``failures.json``; ``python -m agents.enjoy RUN --scenario failures.json#3``
replays entry 3 (0-based), and :func:`replay` plays one in a single env.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.evaluation.rollout import episode_seeds
from agents.probe.target import Episode, Target
from curricula.adversarial import SEED_PARAM, SearchSpace, failure_score, new_study

__all__ = [
    "Failure",
    "SearchResult",
    "Trial",
    "calibrate",
    "load_failure",
    "replay",
    "save_failures",
    "search",
]

CALIBRATION_STREAM = "probe-calibration"
DEFAULT_BATCH = 16


@dataclass(frozen=True)
class Trial:
    """One searched episode and its outcome."""

    number: int
    scenario: dict[str, Any]
    seed: int
    ret: float
    success: bool
    score: float


@dataclass
class SearchResult:
    """All trials of one search, in the order they were played."""

    method: str
    bounds: str
    seed: int
    reference: float
    scale: float
    trials: list[Trial]

    @property
    def failures(self) -> list[Trial]:
        """Failed trials, worst (highest score) first."""
        return sorted((t for t in self.trials if not t.success), key=lambda t: -t.score)

    @property
    def per_100(self) -> float:
        """Failures found per 100 episodes."""
        return 100.0 * len(self.failures) / max(1, len(self.trials))

    @property
    def first_failure(self) -> int | None:
        """Episodes played until the first failure (1-based), ``None`` if none."""
        return next((i + 1 for i, t in enumerate(self.trials) if not t.success), None)

    def summary(self) -> dict[str, Any]:
        """Counts and scores (no trials)."""
        scores = [t.score for t in self.trials]
        return {
            "method": self.method,
            "bounds": self.bounds,
            "seed": self.seed,
            "episodes": len(self.trials),
            "failures": len(self.failures),
            "failures_per_100": round(self.per_100, 3),
            "first_failure": self.first_failure,
            "best_score": round(max(scores), 4) if scores else None,
            "mean_score": round(float(np.mean(scores)), 4) if scores else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, trials included."""
        return {
            **self.summary(),
            "reference": self.reference,
            "scale": self.scale,
            "trials": [asdict(t) for t in self.trials],
        }


def calibrate(target: Target, episodes: int = 16, seed: int = 0) -> tuple[float, float]:
    """Reference return and scale of the shortfall, from episodes on the train split.

    The reference is the mean return; the scale is the larger of its absolute value and
    the returns' standard deviation (never zero), so the shortfall is about the share of
    the usual return an episode lost and does not saturate at small deviations.
    """
    results = target.play(
        [Episode(s) for s in episode_seeds(seed, CALIBRATION_STREAM, episodes)],
        desc="calibrating",
    )
    returns = np.array([r.ret for r in results])
    reference = float(returns.mean())
    scale = max(abs(reference), float(returns.std()), 1e-6)
    return reference, scale


def search(
    target: Target,
    *,
    budget: int,
    method: str = "tpe",
    bounds: str = "train",
    seed: int = 0,
    reference: float,
    scale: float,
    batch: int = DEFAULT_BATCH,
    workers: int = 1,
    progress: bool = False,
) -> SearchResult:
    """Searches ``budget`` episodes for failures with ``method``.

    Args:
        target: The policy and env.
        budget: Episodes to play (>= 1).
        method: ``tpe``, ``cma`` or ``random``.
        bounds: ``train`` or ``space`` (see the module doc).
        seed: Seed of the sampler.
        reference: Reference return of the shortfall (:func:`calibrate`).
        scale: Return scale of the shortfall.
        batch: Trials asked (and played side by side) before the sampler hears back.
        workers: Worker processes for envs without a native batch.
        progress: Show a progress bar.
    """
    from tqdm.auto import tqdm

    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    space = SearchSpace(target.space(), bounds, with_seed=True)
    study = new_study(method, seed)
    trials: list[Trial] = []
    with tqdm(total=budget, desc=f"{method} search", disable=not progress, unit="ep") as bar:
        while len(trials) < budget:
            asked = [
                study.ask(space.distributions) for _ in range(min(batch, budget - len(trials)))
            ]
            plan = [Episode(int(t.params[SEED_PARAM]), space.scenario(t.params)) for t in asked]
            results = target.play(plan, workers=workers)
            for trial, ep, res in zip(asked, plan, results, strict=True):
                score = failure_score(res.ret, res.success, reference, scale)
                study.tell(trial, score)
                trials.append(
                    Trial(
                        trial.number,
                        dict(res.scenario),
                        ep.seed,
                        round(res.ret, 6),
                        res.success,
                        score,
                    )
                )
            bar.update(len(asked))
    return SearchResult(method, bounds, seed, reference, scale, trials)


# --------------------------------------------------------------------------- failures


@dataclass(frozen=True)
class Failure:
    """A saved failure: the scenario and reset seed that reproduce it."""

    env: str
    scenario: dict[str, Any]
    seed: int
    ret: float


def save_failures(
    path: Path, target: Target, result: SearchResult, replays: Mapping[int, float] | None = None
) -> None:
    """Writes ``result``'s failures (worst first) as JSON; ``replays`` adds replay returns."""
    from agents.runs import atomic_write

    entries = []
    for i, t in enumerate(result.failures):
        entry = {"index": i, "scenario": t.scenario, "seed": t.seed, "return": t.ret}
        entry.update(score=t.score, trial=t.number)
        if replays and i in replays:
            entry["replay_return"] = replays[i]
        entries.append(entry)
    data = {
        "env": target.env,
        "env_kwargs": dict(target.env_kwargs),
        "policy": target.label,
        **{k: v for k, v in result.summary().items() if k != "best_score"},
        "reference": result.reference,
        "failures": entries,
    }
    atomic_write(path, json.dumps(data, indent=1) + "\n")


def load_failure(spec: str) -> Failure:
    """Reads ``FILE#N``: entry ``N`` (0-based; default 0) of a ``failures.json``.

    Raises:
        ValueError: Unreadable file, not a failures file, or ``N`` out of range.
    """
    file, _, index = spec.partition("#")
    try:
        data = json.loads(Path(file).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--scenario {spec!r}: cannot read {file!r}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("failures"), list):
        raise ValueError(f"--scenario {spec!r}: {file!r} is not a failures.json of agents.probe")
    failures = data["failures"]
    try:
        n = int(index or 0)
        if not 0 <= n < len(failures):
            raise IndexError
    except (ValueError, IndexError):
        raise ValueError(
            f"--scenario {spec!r}: entry must be an index in 0..{len(failures) - 1}"
        ) from None
    entry = failures[n]
    return Failure(str(data["env"]), dict(entry["scenario"]), int(entry["seed"]), entry["return"])


def replay(
    target: Target, scenarios: Sequence[tuple[Mapping[str, Any], int]], *, record: bool = False
) -> list[tuple[float, bool, list[Any]]]:
    """Plays each ``(scenario, seed)`` in one single env; returns (return, success, frames).

    With ``record`` the env renders (``rgb_array`` when it can, else ``ansi``) and the
    frames come back; otherwise the frame lists are empty.
    """
    import envs
    from agents.enjoy import play_episode
    from agents.evaluation.rollout import RandomPolicy

    kwargs = dict(target.env_kwargs)
    if record:
        probe = envs.make(target.env, **kwargs)
        modes = probe.metadata.get("render_modes", [])
        probe.close()
        kwargs["render_mode"] = "rgb_array" if "rgb_array" in modes else "ansi"
    env = envs.make(target.env, **kwargs)
    policy = target.policy
    if policy == "expert":
        policy = envs.make_expert(target.env, env)
    elif policy == "random":
        policy = RandomPolicy(env.action_space)
    out = []
    try:
        for scenario, seed in scenarios:
            if isinstance(policy, RandomPolicy):
                policy.begin_episode(seed)
            frames, total, success = play_episode(
                env, policy, int(seed), options={"scenario": dict(scenario)}
            )
            out.append((total, success, frames))
    finally:
        env.close()
    return out
