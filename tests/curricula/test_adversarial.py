"""The ``adversarial`` curriculum: search-proposed scenarios inside train, JSON state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import curricula
from curricula.adversarial import AdversarialScheduler, SearchSpace
from envs.scenarios import Levels, ParamDistribution
from tests.agents import probe_toy as toy


def _scheduler(**config) -> AdversarialScheduler:
    return curricula.make_scheduler(
        "adversarial", toy.SPACE, seed=3, total_timesteps=1000, config=config or None
    )


def _play(scheduler: AdversarialScheduler, episodes: int, rng: np.random.Generator) -> int:
    """Plays toy episodes; returns how many of the proposed ones failed."""
    failed = 0
    for _ in range(episodes):
        dist = scheduler.distribution(worker=0)
        scenario = toy.SPACE.sample(rng, dist)
        d = toy.distance(scenario)
        success = d > toy.RADIUS
        failed += int(isinstance(dist, Levels) and not success)
        scheduler.update_on_episode(scenario, d, 1, success, worker=0)
    return failed


def test_registered_and_listed() -> None:
    assert "adversarial" in curricula.SCHEDULERS
    assert isinstance(_scheduler(), AdversarialScheduler)
    with pytest.raises(ValueError, match="adversarial.method must be one of"):
        _scheduler(method="grid")
    with pytest.raises(ValueError, match="unknown AdversarialConfig keys"):
        _scheduler(fraction=0.3)


def test_mixes_proposals_inside_train_with_uniform_train() -> None:
    scheduler = _scheduler(adversarial_fraction=0.5)
    rng = np.random.default_rng(0)
    failed = _play(scheduler, 300, rng)
    share = scheduler.metrics()["adversarial_share"]
    assert 0.4 < share < 0.6
    for trial in scheduler.trials:
        assert toy.SPACE.contains(SearchSpace(toy.SPACE).scenario(trial["params"]), "train")
    uniform = scheduler.space.distribution("train")
    assert isinstance(uniform, ParamDistribution)
    # the search steers towards failures: far more than uniform's ~1.4 % of proposals
    assert failed >= 10


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    scheduler = _scheduler(adversarial_fraction=1.0, window=50)
    _play(scheduler, 80, np.random.default_rng(1))
    path = tmp_path / "curriculum.json"
    scheduler.save(path)
    state = json.loads(path.read_text())
    assert len(state["state"]["trials"]) == 50
    restored = _scheduler(adversarial_fraction=1.0, window=50)
    restored.load(path)
    assert restored.state_dict() == scheduler.state_dict()
    # both continue identically from the restored state
    scheduler.load(path)
    a = [scheduler.distribution(worker=0).to_dict() for _ in range(5)]
    b = [restored.distribution(worker=0).to_dict() for _ in range(5)]
    assert a == b
    with pytest.raises(ValueError, match="saved with config"):
        _scheduler(adversarial_fraction=0.5).load(path)


def test_usable_in_a_sweep() -> None:
    from agents.sweep.config import SweepConfig

    config = SweepConfig.from_dict(
        {
            "envs": ["dialogue"],
            "algos": ["maskable-ppo"],
            "curricula": ["uniform", "adversarial"],
            "seeds": [0],
            "timesteps": 128,
        }
    )
    assert "adversarial" in config.curricula
