"""``python -m agents.evaluate``: run folders in, reports out; bad input exits 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import envs
from agents import evaluate


def _write_run(folder: Path, model_zip: Path, *, env: str = "point", **config) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(model_zip, folder / "model.zip")
    data = {
        "env": env,
        "algo": "ppo",
        "seed": 0,
        "timesteps": 64,
        "env_kwargs": {},
        "run": {},
        "algo_kwargs": {},
        "policy_kwargs": {"net_arch": [16]},
        "curriculum": None,
        **config,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture(scope="module")
def model_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny PPO model trained for 64 steps on ``point``."""
    from stable_baselines3 import PPO

    env = envs.make("point")
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={"net_arch": [16]},
        seed=0,
        device="cpu",
    )
    model.learn(64)
    path = tmp_path_factory.mktemp("model") / "model.zip"
    model.save(path)
    return path


ARGS = ["--episodes", "3", "--workers", "1", "--no-progress", "--reps", "20"]


def test_one_run_writes_its_report_next_to_it(tmp_path: Path, model_zip: Path, capsys) -> None:
    run = _write_run(tmp_path / "ppo-0-20260101-000000", model_zip)
    assert evaluate.main([str(run), *ARGS]) == 0
    out = run / "transfer"
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "scores.png"]
    data = json.loads((out / "report.json").read_text())
    assert data["policy"] == run.name and data["env"] == "point"
    assert list(data["splits"]) == ["train", "heldout-far", "heldout-drag"]
    assert "| heldout-far | 3 |" in capsys.readouterr().out


def test_groups_of_runs_are_compared(tmp_path: Path, model_zip: Path, capsys) -> None:
    runs = [
        _write_run(tmp_path / "runs" / name, model_zip)
        for name in ("ppo-plr-0", "ppo-plr-1", "ppo-uniform-0")
    ]
    out = tmp_path / "report"
    argv = [*map(str, runs), *ARGS, "--improvement-reps", "5", "--splits", "train", "heldout-far"]
    argv += ["--group", "plr=*plr*", "--group", "uniform=*uniform*", "--out", str(out)]
    assert evaluate.main(argv) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["groups.png", "plr", "report.json", "report.md", "transfer.png", "uniform"]
    assert sorted(p.name for p in (out / "plr").iterdir()) == ["00-ppo-plr-0", "01-ppo-plr-1"]
    assert (out / "uniform" / "02-ppo-uniform-0" / "report.json").exists()
    group = json.loads((out / "report.json").read_text())
    assert group["runs"] == {"plr": ["ppo-plr-0", "ppo-plr-1"], "uniform": ["ppo-uniform-0"]}
    assert set(group["scores"]) == {"train", "heldout-far"}
    # the same model in both groups meets the same scenarios: no improvement either way
    assert [i["value"] for i in group["improvements"]] == [0.5, 0.5]
    assert "P(X > Y)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("missing", [], "is not a practicegym run folder (no such directory)"),
        ("no-config", [], "is not a practicegym run folder (no config.yaml)"),
        ("ok", ["--splits", "train", "heldout-moon"], "unknown split(s) ['heldout-moon']"),
        ("visible", [], "does not match the run's config.yaml (env 'point'"),
        ("corrupt", [], "cannot load its model"),
        ("ok", ["--group", "plr"], "--group must look like NAME=GLOB"),
        ("ok", ["--group", "plr=*plr*"], "matches no --group"),
        ("ok", ["--episodes", "0"], "expected a positive integer, got 0"),
        ("two-envs", [], "runs are from different envs"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(
    tmp_path: Path, model_zip: Path, capsys, setup: str, extra: list[str], message: str
) -> None:
    run = tmp_path / "ppo-0"
    dirs = [run]
    if setup == "no-config":
        run.mkdir()
    elif setup == "ok":
        _write_run(run, model_zip)
    elif setup == "visible":  # trained without context: 4 inputs; this env gives 4 + 4
        _write_run(run, model_zip, env_kwargs={"context": "visible"})
    elif setup == "corrupt":
        _write_run(run, model_zip)
        (run / "model.zip").write_bytes(b"not a zip")
    elif setup == "two-envs":
        _write_run(run, model_zip)
        dirs.append(_write_run(tmp_path / "ppo-1", model_zip, env="robot-reach"))
    code = evaluate.main([*map(str, dirs), *ARGS, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert err.strip().splitlines()[-1].startswith("python -m agents.evaluate: error:")
    assert not (run / "transfer").exists()  # nothing written


def test_unwritable_out_exits_2_before_any_episode(
    tmp_path: Path, model_zip: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _write_run(tmp_path / "ppo-0", model_zip)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")

    def must_not_run(*args, **kwargs):
        raise AssertionError("episodes ran before --out was checked")

    monkeypatch.setattr(evaluate, "evaluate_transfer", must_not_run)
    assert evaluate.main([str(run), *ARGS, "--out", str(blocker / "nope")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "cannot be written" in err and err.count("error:") == 1
    assert blocker.read_text() == "keep me"


def test_run_recording_a_missing_env_module_exits_2(tmp_path: Path, model_zip: Path, capsys):
    run = _write_run(tmp_path / "ppo-0", model_zip, env_module="gone_mod_xyz")
    assert evaluate.main([str(run), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "records env_module 'gone_mod_xyz', which cannot be imported" in err
    assert not (run / "transfer").exists()


def test_interrupted_evaluation_writes_nothing(
    tmp_path: Path, model_zip: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _write_run(tmp_path / "ppo-0", model_zip)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "evaluate_transfer", interrupted)
    assert evaluate.main([str(run), *ARGS]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (run / "transfer").exists()


def test_help_explains_every_flag(capsys) -> None:
    assert evaluate.main(["--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--episodes", "--splits", "--group", "--out", "--seed", "--workers", "--reps"):
        assert flag in text
