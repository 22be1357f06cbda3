from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

import curricula
import envs


def _point():
    return envs.make("point")


def _space(venv):
    return venv.get_attr("scenario_space")[0]


def _ppo(venv, seed=0):
    return PPO(
        "MlpPolicy",
        venv,
        n_steps=64,
        batch_size=64,
        n_epochs=1,
        policy_kwargs={"net_arch": [16]},
        seed=seed,
        device="cpu",
    )


class _Recorder(BaseCallback):
    """Records (worker, scenario) of every finished episode."""

    def __init__(self):
        super().__init__()
        self.episodes: list[tuple[int, dict]] = []

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]):
            self.episodes.append((int(i), self.locals["infos"][i]["scenario"]))
        return True


@pytest.fixture(scope="module")
def subproc_venv():
    venv = make_vec_env(
        _point, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv, vec_env_kwargs={"start_method": "fork"}
    )
    yield venv
    venv.close()


def test_subproc_shared_distribution_reaches_every_worker(subproc_venv):
    space = _space(subproc_venv)
    sched = curricula.make_scheduler(
        "linear", space, seed=0, total_timesteps=384, config={"fraction": 0.5}
    )
    model = _ppo(subproc_venv)
    model.learn(384, callback=curricula.CurriculumCallback(sched))
    assert sched.difficulty == 1.0
    expected = space.at(1.0).to_dict()
    for dist in subproc_venv.env_method("get_distribution"):
        assert dist.to_dict() == expected
    # Before the ramp ends every worker plays the easy corner: push a hard stage directly.
    subproc_venv.env_method("set_distribution", space.at(0.0), indices=None)  # object pickles
    dists = subproc_venv.env_method("get_distribution")
    assert [d.to_dict() for d in dists] == [space.at(0.0).to_dict()] * 2


def test_subproc_per_worker_levels_reach_each_worker(subproc_venv):
    space = _space(subproc_venv)
    sched = curricula.make_scheduler(
        "plr", space, seed=1, total_timesteps=512, config={"min_levels": 2, "replay_prob": 0.5}
    )
    proposed: list[list[dict]] = [[], []]
    original = sched.distribution

    def spy(worker=None):
        dist = original(worker)
        proposed[worker].append(dist.scenarios[0])
        return dist

    sched.distribution = spy
    recorder = _Recorder()
    model = _ppo(subproc_venv)
    model.learn(512, callback=[curricula.CurriculumCallback(sched), recorder])
    for worker in (0, 1):
        played = [s for w, s in recorder.episodes if w == worker]
        assert len(played) >= 4
        # first episode: construction distribution; afterwards the levels pushed to this
        # worker, in order, with one episode of delay (SB3 auto-reset).
        assert played[1:] == proposed[worker][: len(played) - 1]
        final = subproc_venv.env_method("get_distribution", indices=[worker])[0]
        assert final.scenarios == [proposed[worker][-1]]
    assert proposed[0] != proposed[1]
    assert sched.episodes == len(recorder.episodes)


def test_dummy_vecnormalize_learning_progress_logs_and_saves(tmp_path):
    venv = VecNormalize(make_vec_env(_point, n_envs=2, seed=0, vec_env_cls=DummyVecEnv))
    space = _space(venv)
    sched = curricula.make_scheduler(
        "learning-progress", space, seed=0, total_timesteps=384, config={"n_bins": 3}
    )
    model = _ppo(venv)
    model.set_logger(configure(str(tmp_path / "log"), ["csv"]))
    callback = curricula.CurriculumCallback(sched)
    model.learn(384, callback=callback)
    assert sched.episodes > 0 and sched.counts.sum() == sched.episodes
    arms = [sched.arm_distribution(k).to_dict() for k in range(sched.n_arms)]
    for dist in venv.env_method("get_distribution"):
        assert dist.to_dict() in json.loads(json.dumps(arms))
    with open(tmp_path / "log" / "progress.csv") as f:
        row = next(csv.DictReader(f))
    for key in ("difficulty=0/success", "difficulty=2/weight", "difficulty=1/lp"):
        assert f"curriculum/{key}" in row
    assert "curriculum/success_rate" in row
    callback.save_state(tmp_path / "ck" / "curriculum.json")
    restored = curricula.make_scheduler(
        "learning-progress", space, seed=5, total_timesteps=384, config={"n_bins": 3}
    )
    restored.load(tmp_path / "ck" / "curriculum.json")
    assert restored.state_dict() == sched.state_dict()
    venv.close()


def test_stages_advance_during_training_and_count_only_own_episodes():
    venv = make_vec_env(_point, n_envs=2, seed=0)
    space = _space(venv)
    config = {"window": 4, "threshold": 0.0, "stages": [{"difficulty": 0.0}, {"difficulty": 1.0}]}
    sched = curricula.make_scheduler("stages", space, seed=0, total_timesteps=256, config=config)
    _ppo(venv).learn(256, callback=curricula.CurriculumCallback(sched))
    assert sched.stage == 1
    assert venv.env_method("get_distribution")[0].to_dict() == space.at(1.0).to_dict()
    venv.close()


def test_plr_value_l1_scores_from_rollout_buffer():
    venv = make_vec_env(_point, n_envs=2, seed=0)
    sched = curricula.make_scheduler(
        "plr", _space(venv), seed=0, total_timesteps=256, config={"score": "value-l1"}
    )
    _ppo(venv).learn(256, callback=curricula.CurriculumCallback(sched))
    assert len(sched.levels) > 0
    assert all(np.isfinite(sched.scores)) and max(sched.scores) > 0
    venv.close()


def test_callback_rejects_envs_without_scenarios():
    import gymnasium as gym

    venv = make_vec_env(lambda: gym.make("Pendulum-v1"), n_envs=1, seed=0)
    space = envs.make("point").unwrapped.scenario_space
    sched = curricula.make_scheduler("uniform", space, seed=0, total_timesteps=300)
    callback = curricula.CurriculumCallback(sched)
    callback.scheduler.per_worker  # noqa: B018
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=64, policy_kwargs={"net_arch": [8]})
    with pytest.raises(ValueError, match=r"no set_distribution\(\); curricula need practicegym"):
        model.learn(300, callback=callback)
    venv.close()
