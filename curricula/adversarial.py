"""``adversarial``: practise where the policy fails, found by a black-box search in train.

Part of the episodes (``adversarial_fraction``) replay single scenarios that an
optimiser (Optuna's TPE, CMA-ES or random sampling) proposes to *maximise the policy's
failure score* — ``1 - success`` plus a return shortfall in [0, 1], so the search has a
gradient before it finds its first failure — within the bounds of the ``train`` split;
the rest are drawn uniformly from ``train``. Every proposal is a one-level
:class:`~envs.scenarios.Levels` inside train, so the guard holds (held-out splits stay
held out). The score is the episode's outcome in the scenario it proposed: the search
tracks the policy as it learns, and only the latest ``window`` scored proposals inform it.

The search helpers here (:class:`SearchSpace`, :func:`make_sampler`,
:func:`failure_score`) are also what ``python -m agents.probe RUN adversarial`` uses.

The state is plain JSON: the scored trials of the window (rebuilt into a fresh study on
load, its sampler seeded from the scheduler's seed and the number of rebuilds), the
reference return and the counters. Saving is a rebuild point for the saver too, so a run
resumed from a checkpoint proposes exactly what the saver goes on to propose. Proposals
still being played when a checkpoint is written are dropped (their episodes then count
as uniform ones).

Example:
    >>> from envs.scenarios import Continuous, ScenarioSpace
    >>> space = ScenarioSpace(
    ...     [Continuous("gap", 0.0, 2.0)],
    ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
    ...      "heldout-b": {"gap": (1.2, 1.4)}},
    ... )
    >>> scheduler = AdversarialScheduler(space, seed=0, total_timesteps=100,
    ...                                  config={"adversarial_fraction": 1.0})
    >>> level = scheduler.distribution(worker=0)
    >>> 0.0 <= level.scenarios[0]["gap"] <= 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curricula.base import (
    CurriculumScheduler,
    check_fraction,
    check_positive_int,
    scenario_key,
)
from envs.scenarios import (
    Categorical,
    Choice,
    Distribution,
    Fixed,
    Integer,
    Levels,
    Range,
    ScenarioSpace,
)

__all__ = [
    "BOUNDS",
    "METHODS",
    "SEED_PARAM",
    "AdversarialConfig",
    "AdversarialScheduler",
    "SearchSpace",
    "failure_score",
    "make_sampler",
]

METHODS = ("tpe", "cma", "random")
BOUNDS = ("train", "space")
SEED_PARAM = "episode_seed"  # the search's name for the episode's reset seed
SEED_HIGH = 2**31 - 1


def failure_score(episode_return: float, success: bool, reference: float, scale: float) -> float:
    """How badly an episode went: ``1 - success`` plus a return shortfall in [0, 1].

    The shortfall is ``(reference - return) / scale`` clipped to [0, 1], so a search
    is rewarded for lowering the return before it finds a failure.

    >>> failure_score(10.0, True, reference=10.0, scale=5.0)
    0.0
    >>> failure_score(5.0, False, reference=10.0, scale=5.0)
    2.0
    """
    shortfall = (float(reference) - float(episode_return)) / max(float(scale), 1e-9)
    return float(not success) + float(np.clip(shortfall, 0.0, 1.0))


class SearchSpace:
    """The scenario parameters a search varies, as Optuna distributions.

    Args:
        space: The env's scenario space.
        bounds: ``"train"`` (each parameter within the train split: the held-out guard
            holds) or ``"space"`` (each parameter's whole supported range).
        with_seed: Also search the episode's reset seed (as :data:`SEED_PARAM`).

    Parameters that ``bounds`` fixes to one value are not searched; :meth:`scenario`
    adds them back.
    """

    def __init__(
        self, space: ScenarioSpace, bounds: str = "train", with_seed: bool = False
    ) -> None:
        if bounds not in BOUNDS:
            raise ValueError(f"bounds must be one of {list(BOUNDS)}, got {bounds!r}")
        from optuna.distributions import (
            BaseDistribution,
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.space = space
        self.bounds = bounds
        train = space.distribution("train")
        self.fixed: dict[str, Any] = {}
        self.distributions: dict[str, BaseDistribution] = {}
        for param in space.params:
            dist = train.dists[param.name] if bounds == "train" else None  # type: ignore[attr-defined]
            if isinstance(dist, Fixed):
                self.fixed[param.name] = dist.value
            elif isinstance(param, Categorical):
                choices = dist.values if isinstance(dist, Choice) else param.choices
                self.distributions[param.name] = CategoricalDistribution(list(choices))
            else:
                low, high = (
                    (dist.low, dist.high)
                    if isinstance(dist, Range)
                    else (
                        param.low,
                        param.high,
                    )
                )
                if isinstance(param, Integer):
                    self.distributions[param.name] = IntDistribution(int(low), int(high))
                else:
                    self.distributions[param.name] = FloatDistribution(float(low), float(high))
        if with_seed:
            self.distributions[SEED_PARAM] = IntDistribution(0, SEED_HIGH)

    def scenario(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The complete scenario of a trial's parameters (without the seed)."""
        values = {k: v for k, v in params.items() if k != SEED_PARAM}
        return self.space.validate({**self.fixed, **values})

    def params(self, scenario: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
        """A trial's parameters for ``scenario`` (inverse of :meth:`scenario`)."""
        out = {k: _plain(scenario[k]) for k in self.distributions if k != SEED_PARAM}
        if SEED_PARAM in self.distributions:
            out[SEED_PARAM] = int(seed or 0)
        return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def make_sampler(method: str, seed: int) -> Any:
    """Optuna's sampler for ``method`` (``tpe``, ``cma`` or ``random``), seeded.

    TPE is multivariate with a constant liar, so trials asked in a batch before any is
    told spread out; CMA-ES samples the numeric parameters jointly (categorical ones
    independently, at random).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, constant_liar=True, n_startup_trials=10
        )
    if method == "cma":
        return optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=0, warn_independent_sampling=False
        )
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def new_study(method: str, seed: int) -> Any:
    """An in-memory Optuna study that maximises the failure score."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = make_sampler(method, seed)
    return optuna.create_study(direction="maximize", sampler=sampler)


def add_trials(study: Any, search: SearchSpace, trials: Sequence[Mapping[str, Any]]) -> None:
    """Adds scored trials (``{"params": {...}, "value": float}``) to ``study``."""
    import optuna

    for trial in trials:
        study.add_trial(
            optuna.trial.create_trial(
                params=dict(trial["params"]),
                distributions={k: search.distributions[k] for k in trial["params"]},
                value=float(trial["value"]),
            )
        )


# --------------------------------------------------------------------------- curriculum


@dataclass(frozen=True)
class AdversarialConfig:
    """Options of the ``adversarial`` curriculum.

    Attributes:
        adversarial_fraction: Share of episodes that replay a scenario the search proposes
            (the rest are drawn uniformly from train).
        method: The search's sampler: ``tpe``, ``cma`` or ``random``.
        window: Most recent scored proposals the search learns from (older ones describe
            an older policy).
        reference_rate: Step size of the running mean (and mean absolute deviation) of the
            returns of uniform episodes: the reference of the return shortfall, whose
            scale is the larger of the reference's absolute value and that deviation.
    """

    adversarial_fraction: float = 0.5
    method: str = "tpe"
    window: int = 200
    reference_rate: float = 0.05

    def __post_init__(self) -> None:
        check_fraction("adversarial", "adversarial_fraction", self.adversarial_fraction)
        if self.method not in METHODS:
            raise ValueError(
                f"adversarial.method must be one of {list(METHODS)}, got {self.method!r}"
            )
        check_positive_int("adversarial", "window", self.window)
        check_fraction("adversarial", "reference_rate", self.reference_rate, open_low=True)


def _count(study: Any) -> int:
    """Trials in ``study`` (``study.trials`` deep-copies every trial: ~0.1 s at 400)."""
    return len(study.get_trials(deepcopy=False))


class AdversarialScheduler(CurriculumScheduler):
    """Uniform train practice mixed with search-proposed failures (see the module doc)."""

    name = "adversarial"
    config_class = AdversarialConfig
    per_worker = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.search = SearchSpace(self.space, "train")
        self.trials: list[dict[str, Any]] = []  # scored: {"params", "value"}
        self.pending: dict[str, int] = {}  # scenario key -> asked trial number
        self.reference: float | None = None
        self.spread = 1.0
        self.proposals = 0
        self.draws = 0
        self.failures = 0
        self.rebuilds = 0
        self._study: Any = None

    # ----------------------------------------------------------------- study

    def _fresh_study(self) -> Any:
        self.rebuilds += 1
        study = new_study(self.config.method, self.seed + 7919 * self.rebuilds)
        add_trials(study, self.search, self.trials)
        self.pending.clear()
        return study

    def _get_study(self) -> Any:
        if self._study is None or _count(self._study) >= 2 * self.config.window:
            self._study = self._fresh_study()
        return self._study

    # ----------------------------------------------------------------- hooks

    def _propose(self, worker: int | None) -> Distribution:
        self.draws += 1
        if not self.search.distributions or self.rng.random() >= self.config.adversarial_fraction:
            return self.space.distribution("train")
        study = self._get_study()
        trial = study.ask(self.search.distributions)
        scenario = self.search.scenario(trial.params)
        self.pending[scenario_key(scenario)] = trial.number
        self.proposals += 1
        return Levels(self.space, [scenario])

    def _update(
        self,
        scenario: dict[str, Any],
        episode_return: float,
        length: int,
        success: bool | None,
        worker: int | None,
        version: int | None,
    ) -> None:
        number = self.pending.pop(scenario_key(scenario), None)
        if number is None:  # a uniform episode: it sets the reference return
            if self.reference is None:
                self.reference = episode_return
            rate = self.config.reference_rate
            gap = episode_return - self.reference
            self.reference += rate * gap
            self.spread += rate * (abs(gap) - self.spread)
            return
        reference = episode_return if self.reference is None else self.reference
        scale = max(abs(reference), self.spread, 1e-6)
        value = failure_score(episode_return, bool(success), reference, scale)
        self.failures += int(not success)
        self._study.tell(number, value)
        self.trials.append({"params": self.search.params(scenario), "value": value})
        del self.trials[: -self.config.window]

    def metrics(self) -> dict[str, float]:
        """Share of proposed episodes, failures among them and the mean score of the window."""
        scores = [t["value"] for t in self.trials]
        return {
            "adversarial_share": self.proposals / self.draws if self.draws else 0.0,
            "adversarial_failures": float(self.failures),
            "score_mean": float(np.mean(scores)) if scores else 0.0,
            "reference_return": float(self.reference or 0.0),
        }

    def _state(self) -> dict[str, Any]:
        # A checkpoint is a rebuild point: the saver, like a run resumed from this state,
        # continues with a fresh study of the saved trials, so both propose the same.
        self._study = None
        self.pending.clear()
        return {
            "trials": self.trials,
            "reference": self.reference,
            "spread": self.spread,
            "proposals": self.proposals,
            "draws": self.draws,
            "failures": self.failures,
            "rebuilds": self.rebuilds,
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        trials = []
        for trial in state["trials"]:
            params = dict(trial["params"])
            self.search.scenario(params)  # validates names and ranges
            value = float(trial["value"])
            if not math.isfinite(value):
                raise ValueError(f"saved adversarial trial has a non-finite score {value}")
            trials.append({"params": params, "value": value})
        self.trials = trials[-self.config.window :]
        self.reference = None if state["reference"] is None else float(state["reference"])
        self.spread = float(state["spread"])
        self.proposals = int(state["proposals"])
        self.draws = int(state["draws"])
        self.failures = int(state["failures"])
        self.rebuilds = int(state["rebuilds"])
        self._study = None
        self.pending.clear()
