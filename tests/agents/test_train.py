"""The training CLI end to end on the example plugin env ``point`` (tiny budgets)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import envs
from agents import enjoy, runs, train
from agents.callbacks import CheckpointCallback

TINY = {
    "ppo": ["--set", "algo.n_steps=32", "--set", "algo.batch_size=32", "--set", "algo.n_epochs=1"],
    "a2c": ["--set", "algo.n_steps=8"],
    "sac": ["--set", "algo.learning_starts=16", "--set", "algo.batch_size=16"],
    "td3": ["--set", "algo.learning_starts=16", "--set", "algo.batch_size=16"],
}
COMMON = [
    "--no-progress",
    "--device",
    "cpu",
    "--n-envs",
    "1",
    "--set",
    "policy.net_arch=[16]",
    "--set",
    "run.eval_episodes=1",
]


def cli(tmp_path: Path, *args: str, algo: str = "ppo", timesteps: int = 64) -> list[str]:
    return [
        "--env",
        "point",
        "--algo",
        algo,
        "--timesteps",
        str(timesteps),
        "--out",
        str(tmp_path / "runs"),
        *COMMON,
        *TINY[algo],
        *args,
    ]


def only_run(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs" / "point").iterdir()
    return run_dir


def test_ppo_run_folder_has_every_artefact(tmp_path, capsys):
    assert train.main(cli(tmp_path, "--set", "run.checkpoint_freq=32")) == 0
    run_dir = only_run(tmp_path)
    assert run_dir.name.startswith("ppo-0-")
    for name in (
        "config.yaml",
        "command.txt",
        "versions.json",
        "model.zip",
        "learning_curve.png",
        "episode.gif",
    ):
        assert (run_dir / name).stat().st_size > 0, name
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert {"env", "algo", "seed", "timesteps", "env_kwargs", "run", "algo_kwargs"} <= set(config)
    assert config["policy_kwargs"]["net_arch"] == [16]
    assert config["algo_kwargs"]["n_steps"] == 32
    assert "--timesteps 64" in (run_dir / "command.txt").read_text()
    assert "stable-baselines3" in json.loads((run_dir / "versions.json").read_text())
    assert list((run_dir / "tb").rglob("events.out.tfevents.*"))
    monitors = sorted((run_dir / "monitor").glob("*.monitor.csv"))
    assert monitors and "is_success" in monitors[0].read_text().splitlines()[1]
    assert [c.timesteps for c in runs.checkpoints(run_dir)] == [32, 64]
    assert any((run_dir / "eval").iterdir())
    out = capsys.readouterr().out
    for split in ("train", "heldout-far", "heldout-drag"):
        assert split in out
    assert out.count("run folder:") == 1
    # the same seed as agents.evaluate's default: one model, one number
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert report["seed"] == 0


def point_ppo_config(run: dict, **algo_kwargs):
    from agents.config import RunSettings, TrainConfig

    return TrainConfig(
        env="point",
        algo="ppo",
        seed=0,
        timesteps=64,
        env_kwargs={},
        policy="MlpPolicy",
        run=RunSettings(**run),
        algo_kwargs=algo_kwargs,
        policy_kwargs={},
    )


def test_model_template_gives_no_one_env_minibatch_warning(recwarn):
    from agents.modelfile import template_model

    config = point_ppo_config({"n_envs": 64}, n_steps=32, batch_size=1024)
    template_model(config, envs.make("point"))  # 32 * 1 steps: not the run's 32 * 64
    assert not [w for w in recwarn if "mini-batch size" in str(w.message)]


def test_periodic_evaluation_normalises_like_training(tmp_path):
    for obs_norm in (False, True):
        run = {"n_envs": 1, "normalize_obs": obs_norm, "normalize_reward": True}
        probe = envs.make("point")
        callback = train._eval_callback(
            point_ppo_config(run), tmp_path, (), probe.observation_space
        )
        assert callback.eval_env.norm_obs is obs_norm
        assert callback.eval_env.norm_reward is False


@pytest.mark.parametrize("algo", ["a2c", "sac", "td3"])
def test_other_algorithms_train_and_load(tmp_path, algo):
    assert train.main(cli(tmp_path, "--set", "run.record_video=false", algo=algo)) == 0
    run_dir = only_run(tmp_path)
    policy = runs.load_policy(run_dir)
    env = envs.make("point")
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs)
    assert env.action_space.contains(np.asarray(action, dtype=np.float32))
    clone = pickle.loads(pickle.dumps(policy))  # evaluation workers receive it pickled
    np.testing.assert_allclose(clone.predict(obs)[0], action)


def test_reward_only_normalisation_leaves_observations_alone(tmp_path):
    args = cli(tmp_path, "--set", "run.normalize_reward=true", "--set", "run.record_video=false")
    assert train.main(args) == 0
    policy = runs.load_policy(only_run(tmp_path))
    obs = np.ones(4, dtype=np.float32)
    assert policy.obs_normalizer.normalize_obs(obs) is obs


def test_normalised_observations_are_saved_and_applied(tmp_path):
    args = cli(tmp_path, "--set", "run.normalize_obs=true", "--set", "run.record_video=false")
    assert train.main(args) == 0
    run_dir = only_run(tmp_path)
    assert (run_dir / "vecnormalize.json").exists()
    assert (runs.latest_checkpoint(run_dir).path / "vecnormalize.json").exists()
    policy = runs.load_policy(run_dir)
    obs = np.ones(4, dtype=np.float32)
    state = json.loads((run_dir / "vecnormalize.json").read_text())["obs_rms"]["array"]
    mean, var = np.array(state["mean"]), np.array(state["var"])
    expected = np.clip((obs - mean) / np.sqrt(var + 1e-8), -10, 10)
    assert not np.allclose(expected, obs)
    np.testing.assert_allclose(policy.obs_normalizer.normalize_obs(obs), expected, rtol=1e-5)
    clone = pickle.loads(pickle.dumps(policy))
    np.testing.assert_allclose(clone.predict(obs)[0], policy.predict(obs)[0])


BAD_INPUT = [
    (["--env", "pont"], "Did you mean 'point'"),
    (["--env", "point", "--algo", "ppp"], "Did you mean 'ppo'"),
    (["--env", "point", "--algo", "dqn"], "dqn needs discrete actions"),
    (["--env", "point", "--set", "run.her=true", "--algo", "sac"], "HER needs a goal env"),
    (["--env", "point", "--set", "algo.n_steps"], "malformed --set"),
    (["--env", "point", "--set", "n_steps=3"], "malformed --set key"),
    (["--env", "point", "--set", "algo.n_steps=[1"], "not valid YAML"),
    (["--env", "point", "--set", "algo.n_stepz=3"], "Did you mean 'n_steps'"),
    (["--env", "point", "--set", "policy.net_arc=[8]"], "Did you mean 'net_arch'"),
    (["--env", "point", "--set", "run.n_env=2"], "Did you mean 'n_envs'"),
    (["--env", "point", "--set", "run.n_envs=two"], "run.n_envs must be int"),
    (["--env", "point", "--env-module", "no_such_module_xyz"], "cannot be imported"),
    (["--env", "point", "--obs-type", "pixels"], "rejected env_kwargs"),
    (["--env", "point", "--curriculum-config", "c.yaml"], "needs --curriculum"),
    ([], "--env is required"),
    (["--env", "point", "--seed", "-3"], "--seed: expected an integer in [0, 2**32 - 1]"),
    (["--env", "point", "--seed", str(2**32)], "--seed: expected an integer in [0, 2**32 - 1]"),
    (
        ["--env", "point", "--set", "algo.learning_rate=abc"],
        "algo.learning_rate must be a finite number > 0",
    ),
    (["--env", "point", "--set", "algo.n_steps=-5"], "algo.n_steps must be an integer in [1,"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_exits_2_with_one_message_before_training(tmp_path, capsys, argv, message):
    assert train.main([*argv, "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("error:") == 1
    assert not (tmp_path / "runs").exists()


def test_unwritable_out_exits_2_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = cli(tmp_path)
    argv[argv.index("--out") + 1] = str(blocker / "runs")
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "cannot be written" in err and err.count("error:") == 1
    assert blocker.read_text() == "not a folder"


def test_resume_rejects_folders_that_are_not_runs(tmp_path, capsys):
    assert train.main(["--resume", str(tmp_path)]) == 2
    assert "not a practicegym run folder" in capsys.readouterr().err


def test_resume_rejects_config_flags(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("env: point\nalgo: ppo\nseed: 0\n")
    assert train.main(["--resume", str(tmp_path), "--algo", "sac"]) == 2
    assert "drop --algo" in capsys.readouterr().err


def test_help_explains_every_flag(capsys):
    assert train.main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--env",
        "--algo",
        "--timesteps",
        "--seed",
        "--n-envs",
        "--vec-env",
        "--curriculum",
        "--curriculum-config",
        "--perception",
        "--perception-finetune",
        "--obs-type",
        "--context",
        "--set",
        "--out",
        "--resume",
        "--eval-freq",
        "--device",
        "--env-module",
        "--no-progress",
        "--hyperparams",
    ):
        assert flag in out


def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path, monkeypatch, capsys):
    class KillAfterFirstSave(CheckpointCallback):
        def _on_step(self) -> bool:
            saved = self.num_timesteps >= self._next
            result = super()._on_step()
            if saved:
                os.kill(os.getpid(), signal.SIGTERM)
            return result

    monkeypatch.setattr(train, "CheckpointCallback", KillAfterFirstSave)
    args = cli(tmp_path, "--set", "run.checkpoint_freq=32", "--set", "run.record_video=false")
    assert train.main(args) == 128 + signal.SIGTERM
    run_dir = only_run(tmp_path)
    assert "--resume" in capsys.readouterr().out
    assert not (run_dir / "model.zip").exists()
    assert runs.latest_checkpoint(run_dir).timesteps >= 32

    monkeypatch.setattr(train, "CheckpointCallback", CheckpointCallback)
    assert train.main(["--resume", str(run_dir), "--no-progress", "--device", "cpu"]) == 0
    assert (run_dir / "model.zip").exists()
    assert runs.latest_checkpoint(run_dir).timesteps >= 64
    assert len((run_dir / "command.txt").read_text().splitlines()) == 2


def test_resume_after_kill_9_loses_at_most_one_checkpoint_interval(tmp_path):
    argv = cli(
        tmp_path,
        "--set",
        "run.checkpoint_freq=32",
        "--set",
        "run.record_video=false",
        timesteps=1_000_000,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.train", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # generous: a loaded machine imports slowly
        while time.monotonic() < deadline and proc.poll() is None:
            found = list((tmp_path / "runs").glob("point/*/checkpoints/0*"))
            if len(found) >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    run_dir = only_run(tmp_path)
    last = runs.latest_checkpoint(run_dir)
    assert last is not None and last.timesteps >= 32

    assert (
        train.main(
            ["--resume", str(run_dir), "--no-progress", "--timesteps", str(last.timesteps + 64)]
        )
        == 0
    )
    model = runs.load_policy(run_dir).model
    assert model.num_timesteps >= last.timesteps + 64
    assert sorted(p.name for p in (run_dir / "monitor").iterdir())[-1].startswith("s1-")


def test_env_module_registers_a_plugin_env(tmp_path, monkeypatch, capsys):
    module = tmp_path / "my_envs_mod.py"
    module.write_text(
        "import envs\n"
        "envs.register('point-copy', 'practicegym_test/PointCopy-v0',\n"
        "              'practicegym_point.env:PointEnv')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = cli(tmp_path, "--set", "run.record_video=false")
    argv[argv.index("point")] = "point-copy"
    assert train.main([*argv, "--env-module", "my_envs_mod"]) == 0
    (run_dir,) = (tmp_path / "runs" / "point-copy").iterdir()
    assert runs.load_run(run_dir).config["env_module"] == "my_envs_mod"
    monkeypatch.setattr("agents.envmodule._ANNOUNCED", set())
    capsys.readouterr()
    runs.load_policy(run_dir)  # loading the run imports the recorded module and says so
    assert "importing env module 'my_envs_mod' recorded in the run's config.yaml" in (
        capsys.readouterr().err
    )
    with pytest.raises(ValueError, match="records env_module 'gone_mod_xyz', which cannot be"):
        runs.import_env_module("gone_mod_xyz", run_dir=run_dir)


def test_enjoy_plays_and_records(tmp_path, capsys):
    assert train.main(cli(tmp_path, "--set", "run.record_video=false")) == 0
    run_dir = only_run(tmp_path)
    out = tmp_path / "watch.gif"
    assert enjoy.main([str(run_dir), "--episodes", "2", "--record", str(out)]) == 0
    assert out.stat().st_size > 0
    assert capsys.readouterr().out.count("episode ") == 2
    assert enjoy.main([str(tmp_path)]) == 2
    # bad input on a finished run: exit 2 before any playing, nothing in the run changes
    before = sorted(p.name for p in run_dir.rglob("*"))
    capsys.readouterr()
    assert enjoy.main([str(run_dir), "--record", str(tmp_path / "watch.xyz")]) == 2
    captured = capsys.readouterr()
    assert "'.xyz'" in captured.err and ".gif" in captured.err and ".mp4" in captured.err
    assert "episode " not in captured.out and not (tmp_path / "watch.xyz").exists()
    assert train.main(["--resume", str(run_dir), "--timesteps", "-4", "--no-progress"]) == 2
    assert "--timesteps: expected a positive integer, got -4" in capsys.readouterr().err
    assert sorted(p.name for p in run_dir.rglob("*")) == before


def test_load_run_errors(tmp_path):
    with pytest.raises(ValueError, match="no config.yaml"):
        runs.load_run(tmp_path)
    with pytest.raises(ValueError, match="no such directory"):
        runs.load_run(tmp_path / "missing")
    (tmp_path / "config.yaml").write_text("algo: ppo\n")
    with pytest.raises(ValueError, match="missing"):
        runs.load_run(tmp_path)


def test_curriculum_flag_checkpoints_and_resumes_its_state(tmp_path):
    config_file = tmp_path / "linear.yaml"
    config_file.write_text("start: 0.0\nend: 1.0\nfraction: 0.5\n")
    argv = cli(
        tmp_path,
        "--curriculum",
        "linear",
        "--curriculum-config",
        str(config_file),
        "--set",
        "run.checkpoint_freq=32",
        "--set",
        "run.record_video=false",
    )
    assert train.main(argv) == 0
    run_dir = only_run(tmp_path)
    saved = runs.load_run(run_dir).config["curriculum"]
    assert saved == {"name": "linear", "config": {"start": 0.0, "end": 1.0, "fraction": 0.5}}
    state = json.loads(runs.latest_checkpoint(run_dir).curriculum.read_text())
    assert state["name"] == "linear"
    argv = ["--resume", str(run_dir), "--timesteps", "128", "--no-progress", "--device", "cpu"]
    assert train.main(argv) == 0
    assert runs.latest_checkpoint(run_dir).timesteps >= 128


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--curriculum", "linaer"], "did you mean 'linear'"),
        (["--curriculum", "linear", "--curriculum-config", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_curriculum_exits_2(tmp_path, capsys, args, message):
    assert train.main(cli(tmp_path, *args)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
