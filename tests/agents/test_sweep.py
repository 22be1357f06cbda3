"""Sweep config expansion, state file, resume selection, report and CLI errors (no Ray)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from agents import sweep
from agents.config import parse_override
from agents.sweep import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SweepConfig,
    SweepConfigError,
    SweepState,
    expand,
    format_override,
)

BASE = {
    "envs": ["point"],
    "algos": ["ppo"],
    "curricula": ["uniform", "linear"],
    "seeds": [0, 1],
    "timesteps": 128,
}


def config(**changes) -> SweepConfig:
    return SweepConfig.from_dict({**BASE, **changes})


# --------------------------------------------------------------------------- config + expansion


def test_expand_crosses_every_axis_with_unique_ids_and_train_argv():
    cfg = config(
        envs=["point", "driving"],
        timesteps=[128, 256],
        set={"algo.learning_rate": [0.001, 3.0e-4], "policy.net_arch": [[16]]},
    )
    specs = expand(cfg)
    assert len(specs) == 2 * 1 * 2 * 2 * 2 * 1 * 2
    assert len({s.run_id for s in specs}) == len(specs)
    # varying axes appear in the id, single-valued ones do not
    assert "point-ppo-linear-t256-learning_rate=0.0003-s1" in {s.run_id for s in specs}
    spec = next(s for s in specs if s.run_id == "point-ppo-linear-t256-learning_rate=0.0003-s1")
    assert spec.train_argv("/tmp/out") == [
        "--env", "point", "--algo", "ppo", "--timesteps", "256", "--seed", "1",
        "--curriculum", "linear", "--set", "algo.learning_rate=0.0003",
        "--set", "policy.net_arch=[16]", "--out", "/tmp/out", "--no-progress",
    ]  # fmt: skip
    # default groups: the varying axes other than env (each env is reported apart)
    assert cfg.grouping() == ("curriculum", "timesteps", "set.algo.learning_rate")
    assert spec.group(cfg.grouping()) == "curriculum=linear timesteps=256 algo.learning_rate=0.0003"
    # seeds innermost: consecutive specs differ only by seed
    assert [s.seed for s in specs[:2]] == [0, 1]


def test_no_curricula_means_no_flag_and_config_round_trips():
    cfg = SweepConfig.from_dict({k: v for k, v in BASE.items() if k != "curricula"})
    (spec,) = expand(cfg)[:1]
    assert "--curriculum" not in spec.train_argv("o")
    assert spec.run_id == "point-ppo-default-s0"
    assert cfg.grouping() == ("algo",)
    again = SweepConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": [0]}, "unknown key 'seed' in the sweep config. Did you mean 'seeds'"),
        ({"envs": ["pointt"]}, "unknown env 'pointt'. Did you mean 'point'"),
        ({"algos": ["ppo2"]}, "unknown algorithm 'ppo2'. Did you mean 'ppo'"),
        ({"envs": "point"}, "'envs' must be a non-empty list"),
        ({"seeds": [0, 0]}, "lists ['0'] more than once"),
        ({"seeds": [0.5]}, "0.5 is not a int"),
        ({"timesteps": 0}, "'timesteps' must be >= 1"),
        ({"set": {"algo.n_steps": 64}}, "set.algo.n_steps must be a non-empty LIST"),
        ({"set": {"algoo.n_steps": [64]}}, "unknown section 'algoo'"),
        ({"group_by": ["curiculum"]}, "Did you mean 'curriculum'"),
        ({"resources": {"cpus": 1}}, "unknown key 'cpus' in resources"),
        ({"resources": {"num_cpus": 0}}, "num_cpus > 0"),
        ({"evaluation": {"episodes": 0}}, "evaluation.episodes must be >= 1"),
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"name": "a b"}, "sweep name must match"),
    ],
)
def test_bad_configs_are_rejected_with_what_is_valid(change, message):
    with pytest.raises(SweepConfigError) as err:
        config(**change)
    assert message in str(err.value)


def test_missing_required_key_and_non_mapping():
    with pytest.raises(SweepConfigError, match="needs 'seeds'"):
        SweepConfig.from_dict({k: v for k, v in BASE.items() if k != "seeds"})
    with pytest.raises(SweepConfigError, match="must be a mapping"):
        SweepConfig.from_dict([1, 2])


@pytest.mark.parametrize("value", [256, 1.0e-5, 0.0003, True, "true", "MlpPolicy", [64, 64], None])
def test_set_values_reach_the_training_cli_unchanged(value):
    assert parse_override(f"algo.x={format_override(value)}") == (("algo", "x"), value)


def test_example_config_is_valid():
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "examples" / "sweeps").glob("*.yaml")):
        cfg = sweep.load_config(path)
        assert len(expand(cfg)) >= 2, path


def test_load_config_file_errors(tmp_path):
    with pytest.raises(SweepConfigError, match="does not exist"):
        sweep.load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("envs: [point\n")
    with pytest.raises(SweepConfigError, match="not valid YAML"):
        sweep.load_config(bad)


# --------------------------------------------------------------------------- state + resume


def _finish(state: SweepState, run_id: str, scores: dict[str, float], transfer=None) -> None:
    record = state.records[run_id]
    record.attempts += 1
    result = {"run_dir": f"/runs/{run_id}", "duration_s": 1.0, "host": "h", "scores": scores}
    if transfer is not None:
        result["transfer"] = transfer
    sweep._record_result(state, record, result)


def test_state_file_round_trips_and_resume_skips_only_finished_runs(tmp_path):
    cfg = config()
    state = SweepState.create(tmp_path, cfg)
    ids = list(state.records)
    assert ids == [s.run_id for s in expand(cfg)]
    assert json.loads((tmp_path / "state.json").read_text())["counts"][PENDING] == 4
    _finish(state, ids[0], {"train": 1.0, "heldout-far": 0.5})
    _finish(state, ids[1], {"train": 1.0, "heldout-far": 0.4})
    (tmp_path / state.records[ids[1]].result).unlink()  # result lost: must be redone
    state.records[ids[2]].status = FAILED
    state.records[ids[2]].errors.append("attempt 1: WorkerCrashedError: died")
    state.records[ids[3]].status = RUNNING  # driver killed while it ran
    state.save()
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".tmp-*"))

    loaded = SweepState.load(tmp_path)
    assert loaded.records[ids[0]].to_dict() == state.records[ids[0]].to_dict()
    assert loaded.todo() == ids[1:]
    assert loaded.records[ids[3]].status == PENDING
    assert loaded.records[ids[2]].errors == ["attempt 1: WorkerCrashedError: died"]
    assert loaded.result(ids[0])["scores"] == {"train": 1.0, "heldout-far": 0.5}

    with pytest.raises(SweepConfigError, match="already holds a sweep"):
        SweepState.create(tmp_path, cfg)
    with pytest.raises(SweepConfigError, match="not a sweep folder"):
        SweepState.load(tmp_path / "elsewhere")


def test_find_run_dir_picks_the_training_run_folder(tmp_path):
    assert sweep.find_run_dir(tmp_path) is None
    run = tmp_path / "point" / "ppo-0-20260101-000000"
    (run / "checkpoints" / "000000000064").mkdir(parents=True)
    (run / "config.yaml").write_text("env: point\n")
    (run / "checkpoints" / "000000000064" / "config.yaml").write_text("x: 1\n")
    assert sweep.find_run_dir(tmp_path) == run


@pytest.fixture(scope="module")
def toy_reports():
    """Transfer reports of two policies of known quality on the point env (same seeds)."""
    from agents.evaluation import evaluate_transfer

    return {
        name: evaluate_transfer(name, "point", episodes=3, seed=0, progress=False)
        for name in ("expert", "random")
    }


def test_report_groups_finished_runs_and_lists_failures(tmp_path, toy_reports):
    cfg = config(seeds=[0, 1, 2], evaluation={"episodes": 3, "bootstrap_reps": 50})
    state = SweepState.create(tmp_path, cfg)
    for run_id, record in state.records.items():
        if record.spec.curriculum == "linear" and record.spec.seed == 2:
            record.status = FAILED
            record.attempts = 3
            record.errors = [f"attempt {k}: RuntimeError: agents.train exited 1" for k in (1, 2, 3)]
            continue
        # stand-ins: "linear" runs behave like the expert, "uniform" ones like random
        report = toy_reports["expert" if record.spec.curriculum == "linear" else "random"]
        report = dataclasses.replace(report, policy=run_id)
        _finish(state, run_id, sweep.split_scores(report), report.to_dict())
    report = sweep.write_report(state, cfg)
    assert report["counts"][DONE] == 5 and report["counts"][FAILED] == 1
    assert report["failures"] == [
        {
            "run_id": "point-ppo-linear-s2",
            "status": FAILED,
            "errors": [f"attempt {k}: RuntimeError: agents.train exited 1" for k in (1, 2, 3)],
        }
    ]
    text = (tmp_path / "report.md").read_text()
    assert "point-ppo-linear-s2" in text and "RuntimeError: agents.train exited 1" in text
    grouped = report["grouped"]["point"]
    assert grouped["runs"] == {
        "curriculum=uniform": ["point-ppo-uniform-s0", "point-ppo-uniform-s1",
                               "point-ppo-uniform-s2"],
        "curriculum=linear": ["point-ppo-linear-s0", "point-ppo-linear-s1"],
    }  # fmt: skip
    heldout = grouped["estimates"]["heldout (all)"]  # normalised: expert 1, random 0
    assert heldout["curriculum=linear"]["mean"]["value"] == pytest.approx(1.0)
    assert heldout["curriculum=uniform"]["mean"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert heldout["curriculum=linear"]["IQM"]["value"] > 0.5
    (improvement,) = [i for i in grouped["improvements"] if i["tasks"] == "held-out splits"]
    assert (improvement["x"], improvement["y"]) == ("curriculum=uniform", "curriculum=linear")
    assert improvement["value"] == pytest.approx(0.0)  # uniform never beats linear here
    assert (tmp_path / "grouped" / "point" / "report.md").is_file()
    assert (tmp_path / "grouped" / "point" / "groups.png").is_file()


# --------------------------------------------------------------------------- CLI


def test_cli_bad_input_exits_2_with_one_clear_message(tmp_path, capsys):
    assert sweep.main([]) == 2
    assert "give a sweep CONFIG.yaml" in capsys.readouterr().err
    assert sweep.main([str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sweep.main(["--resume", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert sweep.main(["--resume", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "do not also give --out" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "algos": ["ppo2"]}))
    assert sweep.main([str(bad)]) == 2
    assert "unknown algorithm 'ppo2'" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    assert sweep.main([str(good), "--max-concurrent", "0", "--out", str(tmp_path / "s")]) == 2
    assert "max_concurrent must be >= 1" in capsys.readouterr().err
    assert sweep.main([str(good), "--address", "auto", "--num-cpus", "2"]) == 2
    assert "a cluster (address) keeps its own" in capsys.readouterr().err
    assert sweep.main(["--help"]) == 0
    assert "--max-concurrent" in capsys.readouterr().out


def test_cli_says_how_to_install_ray_when_missing(tmp_path, monkeypatch, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    assert sweep.main([str(good), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[sweep]"' in err
    assert not (tmp_path / "s").exists()  # nothing half-created


def test_resume_with_a_different_config_is_refused(tmp_path):
    SweepState.create(tmp_path, config())
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config().to_dict()))
    with pytest.raises(SweepConfigError, match="differs from the one"):
        sweep.run_sweep(config(seeds=[0, 1, 2]), tmp_path, resume=True)
