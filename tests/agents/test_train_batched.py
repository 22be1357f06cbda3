"""``agents.train`` with ``--vec-env batched`` on a toy env with a native batch (tiny budgets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from stable_baselines3.common.monitor import load_results

from agents import enjoy, factory, runs, train
from tests import toy_vector

ARGS = [
    "--no-progress",
    "--device",
    "cpu",
    "--algo",
    "ppo",
    "--n-envs",
    "2",
    "--set",
    "policy.net_arch=[16]",
    "--set",
    "algo.n_steps=16",
    "--set",
    "algo.batch_size=16",
    "--set",
    "algo.n_epochs=1",
    "--set",
    "run.eval_episodes=2",
    "--set",
    "run.record_video=false",
    "--set",
    "run.checkpoint_freq=32",
]


@pytest.fixture
def point_vec() -> Iterator[str]:
    with toy_vector.registered() as name:
        yield name


def _only_run(tmp_path: Path, name: str) -> Path:
    (run_dir,) = (tmp_path / "runs" / name).iterdir()
    return run_dir


def test_auto_resolves_per_env(point_vec: str) -> None:
    assert factory.resolve_vec_env("auto", point_vec) == "batched"
    assert factory.resolve_vec_env("auto", "point") == "dummy"
    assert factory.resolve_vec_env("subproc", point_vec) == "subproc"


def test_batched_training_normalises_checkpoints_resumes_and_plays(
    tmp_path: Path, point_vec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--env",
        point_vec,
        "--timesteps",
        "128",  # 64 steps per world: the point episodes (50 steps) end
        "--out",
        str(tmp_path / "runs"),
        "--curriculum",
        "learning-progress",
        "--set",
        "run.normalize_obs=true",
        "--set",
        "run.eval_freq=32",
        *ARGS,
    ]
    assert train.main(argv) == 0
    run_dir = _only_run(tmp_path, point_vec)
    config = runs.load_run(run_dir).config
    assert config["run"]["vec_env"] == "batched"  # auto, resolved and recorded
    checkpoint = runs.latest_checkpoint(run_dir)
    assert checkpoint.vecnormalize is not None and checkpoint.curriculum is not None
    assert json.loads(checkpoint.curriculum.read_text())["name"] == "learning-progress"
    assert (run_dir / "eval" / "evaluations.npz").exists()

    assert train.main(["--resume", str(run_dir), "--timesteps", "160", "--no-progress"]) == 0
    assert runs.latest_checkpoint(run_dir).timesteps >= 160
    assert sorted(p.name for p in (run_dir / "monitor").iterdir()) == [
        "s0-0.monitor.csv",
        "s1-0.monitor.csv",
    ]
    monitor = load_results(str(run_dir / "monitor"))
    assert {"r", "l", "t", "is_success", "distance"} <= set(monitor.columns)

    capsys.readouterr()
    assert enjoy.main([str(run_dir), "--episodes", "1"]) == 0
    assert capsys.readouterr().out.count("episode ") == 1


def test_batched_flag_works_for_envs_without_a_native_batch(tmp_path: Path) -> None:
    argv = ["--env", "point", "--vec-env", "batched", "--timesteps", "32"]
    assert train.main([*argv, "--out", str(tmp_path / "runs"), *ARGS]) == 0
    run_dir = _only_run(tmp_path, "point")
    assert runs.load_run(run_dir).config["run"]["vec_env"] == "batched"
    assert (run_dir / "monitor" / "s0-0.monitor.csv").exists()
