"""The evaluator's vector path: a split's episodes side by side, identical to sequential."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from stable_baselines3 import PPO

from agents.evaluation import evaluate_transfer
from agents.evaluation.rollout import EpisodeJob, episode_seeds, run_jobs
from tests import toy_vector


@pytest.fixture
def point_vec() -> Iterator[str]:
    with toy_vector.registered() as name:
        yield name


class Proportional:
    """A deterministic policy for one unbatched observation (not an SB3 model)."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic=True,
        action_masks=None,
    ) -> tuple[np.ndarray, Any]:
        return np.clip(3.0 * np.asarray(observation)[2:4], -1, 1).astype(np.float32), state


def _jobs(policy: str, episodes: int = 5) -> list[EpisodeJob]:
    return [
        EpisodeJob(policy, split, i, seed)
        for split in ("train", "heldout-far")
        for i, seed in enumerate(episode_seeds(0, split, episodes))
    ]


def _run(name: str, jobs: list[EpisodeJob], policies: dict[str, Any], vectorize: bool) -> list:
    return run_jobs(
        jobs,
        env_name=name,
        env_kwargs={},
        policies=policies,
        progress=False,
        vectorize=vectorize,
    )


def test_vector_path_gives_the_sequential_episodes(point_vec: str) -> None:
    policies = {"random": "random", "agent": Proportional(), "expert": "expert"}
    jobs = _jobs("random") + _jobs("agent") + _jobs("expert", 2)
    vector = _run(point_vec, jobs, policies, vectorize=True)
    sequential = _run(point_vec, jobs, policies, vectorize=False)
    assert vector == sequential
    assert len({r.scenario["goal_distance"] for r in vector}) > 5  # really different episodes
    assert any(r.success for r in vector if r.length < 50)


def test_vector_path_is_the_default_for_native_batches(point_vec: str) -> None:
    batched = evaluate_transfer("random", point_vec, episodes=3, progress=False, normalise=False)
    plain = evaluate_transfer("random", "point", episodes=3, progress=False, normalise=False)
    for split in plain.splits:
        np.testing.assert_array_equal(batched.scores(split), plain.scores(split))


def test_sb3_models_act_on_the_whole_batch(point_vec: str) -> None:
    from practicegym_point.env import PointEnv

    model = PPO(
        "MlpPolicy", PointEnv(), n_steps=16, batch_size=16, policy_kwargs={"net_arch": [16]}, seed=0
    )
    jobs = _jobs("agent", 3)
    vector = _run(point_vec, jobs, {"agent": model}, vectorize=True)
    sequential = _run(point_vec, jobs, {"agent": model}, vectorize=False)
    assert [r.scenario for r in vector] == [r.scenario for r in sequential]
    assert [r.length for r in vector] == [r.length for r in sequential]
    np.testing.assert_allclose(
        [r.ret for r in vector], [r.ret for r in sequential], rtol=1e-5, atol=1e-5
    )


def test_the_driving_expert_acts_in_the_batch_as_on_single_envs() -> None:
    jobs = [
        EpisodeJob("expert", split, i, seed)
        for split in ("train", "heldout-curves")
        for i, seed in enumerate(episode_seeds(0, split, 3))
    ]
    kwargs = {"config": {"horizon": 15.0}}
    vector = run_jobs(
        jobs, env_name="driving", env_kwargs=kwargs, policies={"expert": "expert"},
        progress=False, vectorize=True,
    )  # fmt: skip
    sequential = run_jobs(
        jobs, env_name="driving", env_kwargs=kwargs, policies={"expert": "expert"},
        progress=False, vectorize=False,
    )  # fmt: skip
    assert vector == sequential
    assert sum(r.success for r in vector) >= 4
