"""Shipped agents: data-only folders, loaded anywhere a run folder is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import envs
from agents import pretrained, runs, train
from agents.evaluation import evaluate_transfer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MaskablePPO dialogue run, evaluated on train like the sweep does."""
    out = tmp_path_factory.mktemp("runs")
    argv = ["--env", "dialogue", "--timesteps", "128", "--seed", "3", "--out", str(out)]
    argv += ["--set", "run.n_envs=1", "--set", "algo.n_steps=128", "--set", "algo.batch_size=64"]
    argv += ["--set", "run.eval_episodes=1", "--set", "run.record_video=false", "--no-progress"]
    assert train.main(argv) == 0
    (folder,) = (out / "dialogue").iterdir()
    report = evaluate_transfer(runs.load_policy(folder), "dialogue", episodes=4, progress=False)
    report.save(folder / "transfer")
    return folder


def test_export_then_load_acts_exactly_like_the_run(
    tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(run_dir.parent)  # the card names the run relative to the checkout
    root = tmp_path / "shipped"
    dest = pretrained.export(run_dir, "dialogue", method="uniform", study="x.json", root=root)
    assert sorted(p.name for p in dest.iterdir()) == [
        "card.json",
        "card.md",
        "config.yaml",
        "policy.pt",
    ]  # data only: no pickle, no model.zip
    card = pretrained.load_card("pretrained:dialogue", root)
    assert (card["env"], card["method"], card["seed"]) == ("dialogue", "uniform", 3)
    assert card["source_run"] == run_dir.name
    assert card["evaluation"]["episodes"] == 4 and "heldout-users" in card["evaluation"]["splits"]
    assert 0 < card["size_bytes"] <= pretrained.MAX_BYTES
    assert "| train |" in (dest / "card.md").read_text()
    original, shipped = runs.load_policy(run_dir), pretrained.load_pretrained("dialogue", root=root)
    env = envs.make("dialogue")
    obs, _ = env.reset(seed=0)
    for _ in range(10):
        masks = env.unwrapped.action_masks()
        a, _ = original.predict(obs, action_masks=masks)
        b, _ = shipped.predict(obs, action_masks=masks)
        assert np.array_equal(a, b)
        obs, _, done, trunc, _ = env.step(a)
        if done or trunc:
            obs, _ = env.reset()
    with pytest.raises(ValueError, match="exists"):
        pretrained.export(run_dir, "dialogue", method="uniform", root=root)


def test_enjoy_and_evaluate_take_pretrained_names(
    tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents import enjoy, evaluate

    root = tmp_path / "shipped"
    pretrained.export(run_dir, "dialogue", method="uniform", root=root)
    monkeypatch.setattr(pretrained, "SHIPPED", root)
    monkeypatch.chdir(tmp_path)
    assert runs.load_run("pretrained:dialogue").env == "dialogue"
    assert enjoy.main(["pretrained:dialogue", "--episodes", "1"]) == 0
    argv = ["pretrained:dialogue", "--episodes", "2", "--splits", "train", "--no-progress"]
    assert evaluate.main([*argv, "--workers", "1"]) == 0
    assert not (root / "dialogue" / "transfer").exists()  # never writes into the package
    assert list((tmp_path / "runs" / "pretrained").glob("dialogue-*/report.json"))
    assert enjoy.main(["pretrained:dialog"]) == 2


def test_bad_names_and_runs_are_refused(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(ValueError, match="no pretrained agent 'drivng'"):
        pretrained.resolve("pretrained:drivng", tmp_path)
    with pytest.raises(ValueError, match="letters, digits"):
        pretrained.export(run_dir, "../x", method="uniform", root=tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    with pytest.raises(ValueError, match="transfer/report.json"):
        pretrained.export(bare, "x", method="uniform", root=tmp_path)


def test_cli_lists_and_rejects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert pretrained.main(["list"]) == 0
    assert pretrained.main(["export", str(tmp_path / "none"), "--name", "x", "--method", "u"]) == 2
    assert "error:" in capsys.readouterr().err


def test_the_package_exposes_load_pretrained_without_importing_it_first() -> None:
    import subprocess
    import sys

    import agents

    assert agents.load_pretrained is pretrained.load_pretrained
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        agents.nothing  # noqa: B018
    # The CLI module is not imported by the package, so runpy has nothing to warn about.
    cmd = [sys.executable, "-W", "error::RuntimeWarning", "-m", "agents.pretrained", "list"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "robot-reach" in done.stdout, done.stderr


@pytest.mark.parametrize(
    "name", pretrained.names() or [pytest.param("none", marks=pytest.mark.skip)]
)
def test_shipped_agent_reproduces_its_card(name: str) -> None:
    """Train success on 20 of the card's episodes lies inside the card's 95% interval."""
    card = pretrained.load_card(name)
    policy = runs.load_policy(f"pretrained:{name}")
    info = runs.load_run(f"pretrained:{name}")
    assert info.env == card["env"]
    report = evaluate_transfer(
        policy,
        card["env"],
        splits=["train"],
        episodes=20,
        seed=card["evaluation"]["seed"],
        env_kwargs=card["env_kwargs"],
        normalise=False,
        progress=False,
    )
    success = float(np.mean(report.splits["train"].successes))
    interval = card["evaluation"]["splits"]["train"]["success"]
    assert interval["low"] - 1e-9 <= success <= interval["high"] + 1e-9, json.dumps(interval)
