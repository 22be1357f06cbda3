"""Run folders are data, never code; resume is validated, locked and exact."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents import enjoy, evaluate, modelfile, runs, train

BASE = [
    "--env",
    "point",
    "--timesteps",
    "64",
    "--no-progress",
    "--device",
    "cpu",
    "--n-envs",
    "1",
    "--set",
    "policy.net_arch=[16]",
    "--set",
    "run.eval_episodes=1",
    "--set",
    "run.record_video=false",
    "--set",
    "run.checkpoint_freq=32",
]
PPO = ["--algo", "ppo", "--set", "algo.n_steps=32", "--set", "algo.batch_size=32"]
ARGS = [*BASE, *PPO, "--set", "algo.n_epochs=1", "--set", "run.normalize_obs=true"]


class Payload:
    """Unpickling this creates ``marker``: the stand-in for foreign code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert train.main([*ARGS, "--out", str(out)]) == 0
    (run_dir,) = (out / "point").iterdir()
    return run_dir


@pytest.fixture
def run_dir(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _craft_model(path: Path, key: str, marker: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    data[key] = {":serialized:": blob}
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _models(run_dir: Path) -> list[Path]:
    return [run_dir / "model.zip", *(c.model for c in runs.checkpoints(run_dir))]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _commands(run_dir: Path, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "evaluate": [
            str(run_dir),
            "--episodes",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path / "r"),
        ],
        "enjoy": [str(run_dir), "--episodes", "1"],
        "resume": ["--resume", str(run_dir), "--timesteps", "96", "--no-progress"],
    }


MAINS = {"evaluate": evaluate.main, "enjoy": enjoy.main, "resume": train.main}


@pytest.mark.parametrize("command", list(MAINS))
def test_a_crafted_known_entry_is_never_unpickled(run_dir, tmp_path, command):
    marker = tmp_path / "pwned"
    for model in _models(run_dir):
        _craft_model(model, "observation_space", marker)
    assert MAINS[command](_commands(run_dir, tmp_path)[command]) == 0
    assert not marker.exists()


@pytest.mark.parametrize(
    ("command", "key"), [(c, "evil") for c in MAINS] + [("resume", "env"), ("evaluate", "policy")]
)
def test_a_crafted_unknown_entry_is_refused(run_dir, tmp_path, capsys, command, key):
    marker = tmp_path / "pwned"
    for model in _models(run_dir):
        _craft_model(model, key, marker)
    before = _digest(run_dir)
    assert MAINS[command](_commands(run_dir, tmp_path)[command]) == 2
    assert not marker.exists()
    assert "refusing to unpickle it" in capsys.readouterr().err
    assert _digest(run_dir) == before


@pytest.mark.parametrize("command", list(MAINS))
def test_a_pickled_vecnormalize_is_refused_with_a_way_out(run_dir, tmp_path, capsys, command):
    marker = tmp_path / "pwned"
    for folder in [run_dir, *(c.path for c in runs.checkpoints(run_dir))]:
        (folder / "vecnormalize.json").unlink()
        (folder / "vecnormalize.pkl").write_bytes(pickle.dumps(Payload(marker)))
    before = _digest(run_dir)
    assert MAINS[command](_commands(run_dir, tmp_path)[command]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "unpickling it could run code" in err and "--trust-pickles" in err
    assert len(err.strip().splitlines()) == 1
    assert _digest(run_dir) == before


def test_trusted_pickles_convert_to_json(run_dir, tmp_path):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    import envs

    norm = VecNormalize(DummyVecEnv([lambda: envs.make("point")]))
    norm.obs_rms.mean += 1.5
    pkl = tmp_path / "vecnormalize.pkl"
    norm.save(str(pkl))
    assert modelfile.main([str(pkl)]) == 2  # the flag is required
    assert modelfile.main(["--trust-pickles", str(pkl)]) == 0
    state = modelfile.read_vecnormalize(tmp_path / "vecnormalize.json")
    assert state["obs_rms"]["array"]["mean"][0] == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("config-binary", "config.yaml"),
        ("config-env", "unknown env 'nowhere'"),
        ("config-gamma", "algo.gamma must be"),
        ("model", "cannot be resumed"),
        ("vecnormalize", "cannot be resumed"),
        ("meta", "cannot be resumed"),
    ],
)
def test_resume_of_a_damaged_run_exits_2_and_changes_nothing(run_dir, capsys, damage, message):
    latest = runs.latest_checkpoint(run_dir)
    config = run_dir / "config.yaml"
    if damage == "config-binary":
        config.write_bytes(b"\x00\xff\xfe binary")
    elif damage == "config-env":
        config.write_text(config.read_text().replace("env: point", "env: nowhere"))
    elif damage == "config-gamma":
        data = yaml.safe_load(config.read_text())
        data["algo_kwargs"]["gamma"] = 2
        config.write_text(yaml.safe_dump(data))
    elif damage == "model":
        latest.model.write_bytes(latest.model.read_bytes()[:200])
    elif damage == "vecnormalize":
        (latest.path / "vecnormalize.json").write_text("{")
    elif damage == "meta":
        (latest.path / "meta.json").write_text("[]")
    before = _digest(run_dir)
    assert train.main(["--resume", str(run_dir), "--timesteps", "96", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert _digest(run_dir) == before


def test_a_second_writer_is_refused(run_dir, capsys):
    before = _digest(run_dir)
    with runs.RunLock(run_dir):
        held = _digest(run_dir)
        assert train.main(["--resume", str(run_dir), "--timesteps", "96", "--no-progress"]) == 2
        assert _digest(run_dir) == held
    err = capsys.readouterr().err
    assert f"is in use by pid {__import__('os').getpid()}" in err
    assert set(held) - set(before) <= {".lock"}


def test_resume_reports_its_step_cleans_orphans_and_counts_steps_once(run_dir, capsys):
    # As after a kill between the checkpoints at 32 and 64: the newest one never landed.
    shutil.rmtree(runs.latest_checkpoint(run_dir).path)
    (run_dir / "model.zip").unlink()
    orphan = run_dir / "checkpoints" / ".tmp-abc123"
    orphan.mkdir()
    (orphan / "model.zip").write_bytes(b"half")
    assert train.main(["--resume", str(run_dir), "--no-progress"]) == 0
    assert "from the checkpoint at step 32" in capsys.readouterr().out
    assert not orphan.exists()
    steps = 0
    for path in (run_dir / "monitor").glob("*.monitor.csv"):
        rows = path.read_text().splitlines()[2:]
        steps += sum(int(row.split(",")[1]) for row in rows)
    assert steps <= 64  # episodes after step 32 of the first session were dropped


def test_resume_keeps_the_periodic_evaluations_before_its_checkpoint(tmp_path):
    assert train.main([*ARGS, "--set", "run.eval_freq=16", "--out", str(tmp_path)]) == 0
    (run_dir,) = (tmp_path / "point").iterdir()
    evaluations = run_dir / "eval" / "evaluations.npz"
    assert np.load(evaluations)["timesteps"].tolist() == [16, 32, 48, 64]
    shutil.rmtree(runs.latest_checkpoint(run_dir).path)  # resume from step 32
    (run_dir / "model.zip").unlink()
    assert train.main(["--resume", str(run_dir), "--timesteps", "96", "--no-progress"]) == 0
    with np.load(evaluations) as data:
        assert data["timesteps"].tolist() == [16, 32, 48, 64, 80, 96]
        assert data["results"].shape == (6, 1) and data["ep_lengths"].shape == (6, 1)


def test_replay_buffers_are_saved_as_data_and_restored(tmp_path):
    args = [*BASE, "--algo", "sac", "--set", "run.save_replay_buffer=true"]
    args += ["--set", "algo.learning_starts=16", "--set", "algo.batch_size=16"]
    assert train.main([*args, "--out", str(tmp_path)]) == 0
    (run_dir,) = (tmp_path / "point").iterdir()
    latest = runs.latest_checkpoint(run_dir)
    path = latest.path / modelfile.REPLAY_BUFFER
    with np.load(path, allow_pickle=False) as data:
        assert int(data["__pos__"]) == 64 and data["observations"].shape[1:] == (1, 4)
    policy = runs.load_policy(run_dir)
    from stable_baselines3.common.buffers import ReplayBuffer

    buffer = ReplayBuffer(
        int(np.load(path)["observations"].shape[0]),
        policy.observation_space,
        policy.action_space,
    )
    modelfile.read_replay_buffer(buffer, path)
    assert buffer.pos == 64 and buffer.observations[:64].any()
    (latest.path / modelfile.OLD_REPLAY_BUFFER).write_bytes(b"\x80\x04pickle")
    assert train.main(["--resume", str(run_dir), "--timesteps", "96", "--no-progress"]) == 2


HOSTILE = [
    ("run.torch_threads=100000", "run.torch_threads must be an integer in [0, 4096]"),
    ("run.torch_threads=4000", "run.torch_threads must be <= "),
    ("algo.gamma=2", "algo.gamma must be a finite number in (0.0, 1.0]"),
    ("algo.gamma=.nan", "algo.gamma must be"),
    ("algo.clip_range=-0.2", "algo.clip_range must be a finite number > 0.0"),
    ("algo.learning_rate=true", "algo.learning_rate must be"),
    ("algo.learning_rate={schedule: linear, start: .nan}", "algo.learning_rate must be"),
    ("algo.learning_rate={schedule: linear, start: 1, end_fraction: 7}", "end_fraction"),
    ("run.timesteps=true", "run.timesteps must be an integer >= 1"),
    ("run.timesteps=300.9", "run.timesteps must be an integer >= 1"),
    ("run.summary_seconds=-1", "run.summary_seconds must be a finite number >= 0"),
    ("run.summary_seconds=.inf", "run.summary_seconds must be a finite number >= 0"),
    ("algo.batch_size=0", "algo.batch_size must be an integer in [1,"),
    ("algo.n_epochs=0", "algo.n_epochs must be an integer in [1,"),
    ("algo.n_steps=999999999999", "algo.n_steps must be an integer in [1,"),
    ("algo.ent_coef=.inf", "algo.ent_coef must be a finite number >= 0"),
    ("run.eval_episodes=0", "run.eval_episodes must be an integer >= 1"),
    ("run.n_envs=100000", "run.n_envs must be an integer in [1, 4096]"),
    ("run.n_envs=true", "run.n_envs must be int"),
    ("run.env_kwargs=5", "run.env_kwargs must be a mapping"),
    ("policy.net_arch=[0]", "policy.net_arch must be a list of layer sizes"),
    ("policy.activation_fn=[1]", "policy.activation_fn must be one of"),
    ("policy.log_std_init=.inf", "policy.log_std_init must be"),
]


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=[v for v, _ in HOSTILE])
def test_nonsense_values_exit_2_before_any_write(tmp_path, capsys, value, message):
    out = tmp_path / "runs"
    argv = ["--env", "point", "--out", str(out), "--no-progress", "--set", value]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_sac_values_and_env_module_errors_exit_2(tmp_path, capsys):
    out = tmp_path / "runs"
    for extra, message in [
        (["--algo", "sac", "--set", "algo.tau=0"], "algo.tau must be"),
        (["--algo", "sac", "--set", "algo.buffer_size=0"], "algo.buffer_size must be"),
        (["--algo", "sac", "--set", "algo.ent_coef=auto_x"], "algo.ent_coef must be"),
        (["--algo", "sac", "--set", "algo.action_noise={type: normal, sigma: .nan}"], "sigma"),
        (["--env-module", ".."], "is not a module name"),
        (["--timesteps", "10000000000000000000000"], "--timesteps must be in [1, 1e+12]"),
    ]:
        assert train.main(["--env", "point", "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_worker_and_seed_flags_are_bounded(trained, tmp_path, capsys):
    for main, argv, message in [
        (evaluate.main, [str(trained), "--workers", "100000"], "--workers: expected an integer"),
        (evaluate.main, [str(trained), "--seed", "-1"], "--seed: expected an integer in [0,"),
        (enjoy.main, [str(trained), "--seed", "-1"], "--seed: expected an integer in [0,"),
    ]:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["evaluate", "enjoy"])
def test_a_damaged_model_is_exit_2_with_one_line(run_dir, tmp_path, capsys, command):
    for model in _models(run_dir):
        with zipfile.ZipFile(model) as archive:
            data = archive.read("data")
        with zipfile.ZipFile(model, "w") as archive:
            archive.writestr("data", data)  # no policy.pth
    assert MAINS[command](_commands(run_dir, tmp_path)[command]) == 2
    err = capsys.readouterr().err
    assert "model" in err and len(err.strip().splitlines()) == 1, err


HOLDER = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())\n"
    "print('locked', flush=True); time.sleep(60)\n"
)


def test_a_run_held_by_another_process_is_refused(run_dir, capsys):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir / runs.LOCK)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        assert runs.holder(run_dir) == proc.pid
        held = _digest(run_dir)
        assert train.main(["--resume", str(run_dir), "--timesteps", "96", "--no-progress"]) == 2
        assert f"is in use by pid {proc.pid}" in capsys.readouterr().err
        assert _digest(run_dir) == held
    finally:
        proc.kill()
        proc.wait()
    assert runs.holder(run_dir) is None  # released when the holder dies


def test_code_shipped_beside_run_folders_is_not_imported(run_dir, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "pwned"
    package = tmp_path / "evilpkg"
    package.mkdir()
    for name in ("__init__.py", "payload.py"):
        (package / name).write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = run_dir / "config.yaml"
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "env_module": "evilpkg.payload"}))
    before = _digest(run_dir)
    for command in MAINS:
        assert MAINS[command](_commands(run_dir, tmp_path)[command]) == 2
        assert "refusing to import code shipped with run folders" in capsys.readouterr().err
    assert not marker.exists()
    assert _digest(run_dir) == before


def test_an_env_module_that_raises_is_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_envs_mod.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "runs"
    assert train.main(["--env", "point", "--env-module", "broken_envs_mod", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "raised RuntimeError on import: boom" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cuda_without_a_gpu_is_exit_2(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "runs"
    assert train.main(["--env", "point", "--device", "cuda", "--out", str(out)]) == 2
    assert "--device cuda, but torch sees no CUDA GPU" in capsys.readouterr().err
    assert not out.exists()


def test_machine_limits_apply_to_training_not_to_reading_a_run():
    from agents.config import ConfigError, RunSettings

    settings = RunSettings.from_dict({"torch_threads": 64, "eval_workers": 32})
    settings.check_machine(cores=16)  # the machine it was trained on
    with pytest.raises(ConfigError, match=r"run.torch_threads must be <= 8 on this machine"):
        settings.check_machine(cores=2)


@pytest.mark.parametrize("name", ["point", "robot-reach"])  # array and dict observations
def test_vecnormalize_statistics_round_trip_exactly_through_json(name, tmp_path):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    import envs
    from agents import factory

    def venv() -> DummyVecEnv:
        return DummyVecEnv([lambda: envs.make(name)])

    probe = envs.make(name)
    keys = factory.normalize_keys(probe.observation_space)
    probe.close()
    norm = VecNormalize(venv(), norm_obs_keys=keys)
    norm.seed(0)
    norm.reset()
    for _ in range(20):
        norm.step(np.array([norm.action_space.sample()]))
    path = tmp_path / "vecnormalize.json"
    modelfile.write_vecnormalize(norm, path)
    restored = modelfile.restore_vecnormalize(modelfile.read_vecnormalize(path), venv())
    obs = norm.get_original_obs()
    a, b = norm.normalize_obs(obs), restored.normalize_obs(obs)
    for key in a if isinstance(a, dict) else [None]:
        np.testing.assert_array_equal(a[key] if key else a, b[key] if key else b)
    np.testing.assert_array_equal(norm.ret_rms.var, restored.ret_rms.var)
    assert norm.ret_rms.count == restored.ret_rms.count
    norm.close()
    restored.close()
