"""``agents.probe``: maps, the adversarial search, replays of failures and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents import enjoy, evaluate
from agents.probe import (
    ProbeMap,
    Target,
    calibrate,
    compute_map,
    load_failure,
    replay,
    search,
)
from agents.probe import cli as probe_cli
from agents.probe.search import save_failures
from tests.agents import probe_toy as toy

TOY = Target(toy.NAME, toy.ConstantPolicy(), "constant")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of a tiny PPO on the toy env, made by ``agents.train``."""
    from agents import train

    out = tmp_path_factory.mktemp("runs")
    argv = ["--env", toy.NAME, "--env-module", "tests.agents.probe_toy", "--timesteps", "32"]
    argv += ["--out", str(out), "--no-progress", "--device", "cpu"]
    for item in (
        "algo.n_steps=32",
        "algo.batch_size=32",
        "algo.n_epochs=1",
        "policy.net_arch=[8]",
        "run.n_envs=1",
        "run.eval_episodes=1",
        "run.eval_workers=1",
        "run.record_video=false",
    ):
        argv += ["--set", item]
    assert train.main(argv) == 0
    (folder,) = (out / toy.NAME).iterdir()
    return folder


# --------------------------------------------------------------------------- search


def test_search_finds_the_toy_failure_region_and_random_rarely_does() -> None:
    reference, scale = calibrate(TOY, 16)
    found = search(TOY, budget=200, method="tpe", reference=reference, scale=scale, seed=0)
    rand = search(TOY, budget=200, method="random", reference=reference, scale=scale, seed=0)
    assert found.first_failure is not None and found.first_failure <= 200
    assert len(found.failures) >= 20
    assert len(rand.failures) <= 8
    assert len(found.failures) >= 3 * max(1, len(rand.failures))
    for trial in found.failures:  # every failure lies in the known region, inside train
        assert toy.distance(trial.scenario) <= toy.RADIUS
        assert toy.SPACE.contains(trial.scenario, "train")


@pytest.mark.parametrize("method", ["tpe", "cma", "random"])
def test_every_method_plays_its_budget_inside_the_bounds(method: str) -> None:
    result = search(TOY, budget=30, method=method, reference=0.4, scale=0.4, batch=8, seed=2)
    assert len(result.trials) == 30 and len({t.seed for t in result.trials}) == 30
    assert all(toy.SPACE.contains(t.scenario, "train") for t in result.trials)
    again = search(TOY, budget=30, method=method, reference=0.4, scale=0.4, batch=8, seed=2)
    assert again.trials == result.trials  # seeded: the same search twice


def test_search_bounds_space_reaches_outside_train() -> None:
    result = search(TOY, budget=60, method="random", bounds="space", reference=0.4, scale=0.2)
    assert any(not toy.SPACE.contains(t.scenario, "train") for t in result.trials)


def test_replay_of_a_saved_failure_reproduces_it_exactly(tmp_path: Path) -> None:
    result = search(TOY, budget=100, method="tpe", reference=0.4, scale=0.2, seed=1)
    assert result.failures
    save_failures(tmp_path / "failures.json", TOY, result)
    for i in (0, len(result.failures) - 1):
        failure = load_failure(f"{tmp_path / 'failures.json'}#{i}")
        ((ret, success, _),) = replay(TOY, [(failure.scenario, failure.seed)])
        assert not success
        assert ret == pytest.approx(result.failures[i].ret, abs=1e-6)


# --------------------------------------------------------------------------- maps


def test_map_shape_axes_and_regions(tmp_path: Path) -> None:
    m = compute_map(TOY, ["a", "shade"], grid=(6, None), episodes=3, seed=0)
    x, y = m.axes
    assert (x.name, y.name) == ("a", "shade")
    assert x.values == pytest.approx(np.linspace(0, 1, 6).tolist())
    assert y.values == ["light", "dark", "grey"]
    assert m.success.shape == m.mean_return.shape == (6, 3)
    assert m.returns.shape == (6, 3, 3)
    assert set(m.regions) == {"train", "heldout-edge", "heldout-grey"}
    assert m.regions["train"] == [[(0.0, 0.9), (-0.5, 1.5)]]
    assert m.regions["heldout-grey"] == [[(0.0, 0.9), (1.5, 2.5)]]
    # common random numbers: the same seeds in every cell, so shade (irrelevant) changes nothing
    assert np.allclose(m.returns[:, 0], m.returns[:, 2])
    paths = m.save(tmp_path)
    assert [p.name for p in paths] == ["map.json", "map.png"]
    again = ProbeMap.from_dict(json.loads((tmp_path / "map.json").read_text()))
    assert np.array_equal(again.successes, m.successes)


def test_map_finds_the_failure_cell() -> None:
    m = compute_map(TOY, ["a", "b"], grid=(11, 11), episodes=2, split="all")
    i, j = np.unravel_index(np.argmin(m.success), m.success.shape)
    assert (m.axes[0].values[i], m.axes[1].values[j]) == pytest.approx(toy.CENTRE)
    assert m.success.min() == 0.0 and m.success.sum() == m.success.size - 1


# --------------------------------------------------------------------------- CLI


def test_cli_adversarial_writes_replayable_failures(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probe"
    argv = [str(toy_run), "adversarial", "--budget", "60", "--out", str(out), "--no-progress"]
    assert probe_cli.main(argv) == 0
    assert {p.name for p in out.iterdir()} == {"failures.json", "search.json", "worst.gif"}
    data = json.loads((out / "failures.json").read_text())
    summary = json.loads((out / "search.json").read_text())
    assert set(summary["comparison"]) == {"tpe", "random"}
    assert data["failures"], "the search found no failure"
    first = data["failures"][0]
    assert first["replay_return"] == pytest.approx(first["return"], abs=1e-6)
    capsys.readouterr()
    assert enjoy.main([str(toy_run), "--scenario", f"{out / 'failures.json'}#0"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line == f"episode 0: return {first['return']:.3f}, success False"


def test_cli_map_of_a_baseline(tmp_path: Path) -> None:
    out = tmp_path / "m"
    argv = ["random", "map", "--env", "point", "--axes", "drag", "colour"]
    assert probe_cli.main([*argv, "--grid", "3x3", "--episodes", "2", "--out", str(out)]) == 0
    data = json.loads((out / "map.json").read_text())
    assert [a["name"] for a in data["axes"]] == ["drag", "colour"]
    assert np.asarray(data["success"]).shape == (3, 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["map", "--axes", "a", "nope"], "unknown scenario parameter 'nope'; valid: ['a'"),
        (["map", "--axes", "a", "shade", "--grid", "5x5"], "axis 'shade' is categorical"),
        (["map", "--axes", "a", "a"], "two different axes"),
        (["map", "--axes", "a", "b", "--split", "heldout-x"], "valid: ['train', 'heldout-edge'"),
        (["adversarial", "--budget", "0"], "expected a positive integer, got 0"),
        (["adversarial", "--method", "grid"], "invalid choice: 'grid'"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str], argv, message
) -> None:
    out = tmp_path / "out"
    code = probe_cli.main([str(toy_run), *argv, "--out", str(out)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_run_folder_without_a_model_exits_2(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "run"
    empty.mkdir()
    shutil.copy(toy_run / "config.yaml", empty / "config.yaml")
    out = tmp_path / "out"
    assert probe_cli.main([str(empty), "map", "--axes", "a", "b", "--out", str(out)]) == 2
    assert "holds no model.zip" in capsys.readouterr().err
    assert probe_cli.main(["expert", "map", "--axes", "a", "b", "--out", str(out)]) == 2
    assert "needs --env" in capsys.readouterr().err
    assert not out.exists() and not (empty / "probe").exists()


def test_enjoy_scenario_bad_entry_exits_2(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "failures.json"
    path.write_text(json.dumps({"env": toy.NAME, "failures": []}))
    assert enjoy.main([str(toy_run), "--scenario", f"{path}#3"]) == 2
    assert "entry must be an index" in capsys.readouterr().err


def test_evaluate_map_hook(tmp_path: Path, toy_run: Path, capsys) -> None:
    out = tmp_path / "report"
    base = [str(toy_run), "--episodes", "2", "--workers", "1", "--no-progress", "--out", str(out)]
    assert evaluate.main([*base, "--map", "a", "zz"]) == 2
    assert "--map: unknown scenario parameter 'zz'" in capsys.readouterr().err
    assert not out.exists()
    assert evaluate.main([*base, "--map", "a", "b"]) == 0
    assert (out / "map.json").exists() and (out / "map.png").exists()


def test_forced_scenarios_in_the_driving_batch_match_the_single_env() -> None:
    from agents.evaluation.rollout import EpisodeJob, run_jobs

    forced = [{"curvature": 0.03, "friction": 0.2}, None, {"friction": 1.1}]
    jobs = [EpisodeJob("r", "train", i, 100 + i, f) for i, f in enumerate(forced)]
    kwargs = {"env_name": "driving", "env_kwargs": {}, "policies": {"r": "random"}}
    batch = run_jobs(jobs, progress=False, vectorize=True, **kwargs)
    single = run_jobs(jobs, progress=False, vectorize=False, **kwargs)
    assert batch == single
    assert batch[0].scenario["curvature"] == 0.03 and batch[0].scenario["friction"] == 0.2
    assert batch[2].scenario["friction"] == 1.1


def test_enjoy_refuses_a_failure_of_another_env_or_outside_the_space(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "failures.json"
    entry = {"scenario": {"a": 2.0}, "seed": 0, "return": 0.0}
    path.write_text(json.dumps({"env": toy.NAME, "failures": [entry]}))
    assert enjoy.main([str(toy_run), "--scenario", f"{path}#0"]) == 2
    assert "'a'" in capsys.readouterr().err
    path.write_text(json.dumps({"env": "dialogue", "failures": [entry]}))
    assert enjoy.main([str(toy_run), "--scenario", str(path)]) == 2
    assert "is from env 'dialogue'" in capsys.readouterr().err


def test_help_explains_every_command_and_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_cli.main(["--help"]) == 0
    assert "RUN_OR_PRETRAINED" in capsys.readouterr().out
    assert probe_cli.main(["x", "map", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(flag in text for flag in ("--axes", "--grid", "--episodes", "--split", "--out"))
    assert probe_cli.main(["x", "adversarial", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(flag in text for flag in ("--budget", "--bounds", "--method", "--batch"))


def test_a_shipped_agent_is_a_target_and_an_unknown_one_names_the_shipped() -> None:
    from agents import pretrained
    from agents.probe import load_target

    name = pretrained.names()[0]
    target = load_target(f"pretrained:{name}")
    assert target.env == name
    with pytest.raises(ValueError, match="Shipped"):
        load_target("pretrained:no-such-agent")
