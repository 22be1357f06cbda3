"""Each built-in env trains with its shipped default algorithm (tiny budgets)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from agents import runs, train

TINY = {
    "ppo": ["algo.n_steps=32", "algo.batch_size=32", "algo.n_epochs=1"],
    "maskable-ppo": ["algo.n_steps=32", "algo.batch_size=32", "algo.n_epochs=1"],
    "sac": ["algo.learning_starts=60", "algo.batch_size=16", "algo.buffer_size=1000"],
    "tqc": ["algo.learning_starts=60", "algo.batch_size=16", "algo.buffer_size=1000"],
}
BUILTINS = ["driving", "robot-reach", "robot-push", "dialogue"]


@pytest.mark.parametrize("env_name", BUILTINS)
def test_builtin_env_trains_with_its_default_algorithm(tmp_path, env_name):
    algo = envs.resolve(env_name).default_algo
    sets = [*TINY[algo], "policy.net_arch=[16]", "run.eval_episodes=1", "run.n_envs=1"]
    sets.append("run.eval_workers=1")  # worker processes cost more than 1 episode per split
    if env_name.startswith("robot"):
        sets.append("run.record_video=false")  # PyBullet's CPU renderer is slow
    argv = ["--env", env_name, "--timesteps", "96", "--no-progress", "--device", "cpu"]
    argv += ["--out", str(tmp_path)]
    for item in sets:
        argv += ["--set", item]
    assert train.main(argv) == 0
    (run_dir,) = (tmp_path / env_name).iterdir()
    info = runs.load_run(run_dir)
    assert info.algo == algo
    if env_name == "dialogue":
        assert (run_dir / "transcript.txt").stat().st_size > 0
    if env_name == "driving":
        assert (run_dir / "episode.gif").stat().st_size > 0
    env = envs.make(env_name, **info.env_kwargs)
    obs, _ = env.reset(seed=0)
    masks = getattr(env.unwrapped, "action_masks", None)
    action, _ = runs.load_policy(run_dir).predict(
        obs, action_masks=None if masks is None else masks()
    )
    assert env.action_space.contains(np.asarray(action).astype(env.action_space.dtype))


@pytest.mark.parametrize("flush", [True, False])
def test_learning_flushes_denormals_unless_told_not_to(tmp_path, flush, monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch, "set_flush_denormal", lambda mode: calls.append(mode) or True)
    argv = ["--env", "dialogue", "--timesteps", "64", "--no-progress", "--device", "cpu"]
    sets = [*TINY["maskable-ppo"], "policy.net_arch=[16]", "run.eval_episodes=1"]
    sets += ["run.eval_workers=1", "run.n_envs=1", "run.record_video=false"]
    sets.append(f"run.flush_denormal={str(flush).lower()}")
    for item in sets:
        argv += ["--set", item]
    assert train.main([*argv, "--out", str(tmp_path)]) == 0
    # on for learning only, then torch's default again (evaluation and later code: IEEE)
    assert calls == ([True, False] if flush else [])


def test_denormals_are_flushed_inside_and_kept_after():
    import torch

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    with train.denormals_flushed(True):
        assert torch.tensor([1e-323], dtype=torch.float64).item() == 0.0
    assert torch.tensor([1e-323], dtype=torch.float64).item() > 0.0


def _train_tiny_birdseye(tmp_path, *flags: str):
    """A 64-step PPO run on driving's birdseye frames with ``flags``; its run folder."""
    argv = ["--env", "driving", "--obs-type", "birdseye", *flags]
    argv += ["--timesteps", "64", "--no-progress", "--device", "cpu", "--out", str(tmp_path)]
    tiny = [*TINY["ppo"], "run.eval_episodes=1", "run.eval_workers=1", "run.n_envs=1"]
    for item in [*tiny, "run.torch_threads=1", "run.record_video=false"]:
        argv += ["--set", item]
    assert train.main(argv) == 0
    (run_dir,) = (tmp_path / "driving").iterdir()
    return run_dir


def test_perception_trunk_is_the_policy_feature_extractor(tmp_path):
    from agents.perception.model import ModelConfig, PerceptionNet, save_model

    env = envs.make("driving", obs_type="birdseye")
    height, width, channels = env.observation_space.shape
    labels = list(env.unwrapped.perception_label_units)
    net = PerceptionNet(
        ModelConfig(in_shape=(channels, height, width), n_labels=len(labels), channels=(4, 8))
    )
    model_dir = tmp_path / "perception"
    units = env.unwrapped.perception_label_units
    save_model(net, model_dir, {"env": "driving", "label_names": labels, "label_units": units})
    run_dir = _train_tiny_birdseye(tmp_path, "--perception", str(model_dir))
    policy = runs.load_policy(run_dir).model.policy
    assert type(policy.features_extractor).__name__ == "PerceptionExtractor"
    assert runs.load_run(run_dir).config["perception"] == {
        "path": str(model_dir),
        "finetune": False,
    }


def test_perception_needs_image_observations(tmp_path, capsys):
    argv = ["--env", "point", "--perception", str(tmp_path / "missing")]
    assert train.main([*argv, "--out", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().err


def test_augment_trains_an_augmented_end_to_end_cnn(tmp_path):
    run_dir = _train_tiny_birdseye(tmp_path, "--augment", "colour,shift")
    extractor = runs.load_policy(run_dir).model.policy.features_extractor
    assert type(extractor).__name__ == "AugmentedCNN"
    assert set(extractor.augmenter.families) == {"colour", "shift"}
    assert runs.load_run(run_dir).config["augment"] == "colour,shift"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--augment", "sepia"], "unknown augmentation ['sepia']; valid"),
        (["--augment", "colour", "--obs-type", "kinematics"], "--augment needs image obs"),
        (
            ["--augment", "colour", "--obs-type", "birdseye", "--perception", "p"],
            "augment the perception model's training instead",
        ),
    ],
)
def test_augment_bad_input_exits_2(tmp_path, capsys, extra, message):
    argv = ["--env", "driving", *extra, "--out", str(tmp_path)]
    assert train.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "driving").exists()
