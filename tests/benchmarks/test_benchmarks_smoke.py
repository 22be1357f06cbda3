"""Smoke tests: every benchmark script runs end to end with its smallest settings.

Not timed and not compared with anything: they check that each ``main()`` finishes,
writes its JSON/markdown (and PNG where it draws one) into ``tmp_path`` and reports a
missing peer (highway-env, panda-gym) as "not measured" instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import gymnasium as gym
import pytest

from benchmarks import overhead, report, throughput, transfer

HAVE_PANDA = importlib.util.find_spec("panda_gym") is not None


def _json(path: Path) -> dict:
    assert path.is_file(), f"{path} was not written"
    return json.loads(path.read_text())


def test_report_records_machine_and_load(tmp_path: Path) -> None:
    path = report.write("demo", {"x": 1}, report.markdown_table(["a"], [[1.5]]), tmp_path)
    data = _json(path)
    assert data["x"] == 1 and data["versions"]["gymnasium"] == gym.__version__
    assert data["load_average"] is None or len(data["load_average"]) == 3
    assert "| 1.5 |" in (tmp_path / "demo.md").read_text()


def test_throughput_pairs_ours_with_peers(tmp_path: Path) -> None:
    labels = ["dialogue", "CartPole-v1", "highway-fast-v0"]
    argv = ["--quick", "--seconds", "0.05", "--only", *labels, "--out", str(tmp_path)]
    assert throughput.main(argv) == 0
    data = _json(tmp_path / "throughput.json")
    assert data["single_median"]["dialogue"] > 0 and data["single_median"]["CartPole-v1"] > 0
    # highway-env is either measured or listed as not measured, never both, never absent.
    assert ("highway-fast-v0" in data["single_median"]) != (
        "highway-fast-v0" in data["not_measured"]
    )
    table = (tmp_path / "throughput.md").read_text()
    assert "| dialogue |" in table and "x |" in table  # the ratio column is filled
    assert (tmp_path / "throughput.png").is_file()


def test_throughput_reports_a_missing_peer_as_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> gym.Env:
        raise ModuleNotFoundError("No module named 'peer_gym'")

    cases = [
        throughput.Case("CartPole-v1", lambda: gym.make("CartPole-v1"), True, "peer-v0"),
        throughput.Case("peer-v0", missing, False),
    ]
    monkeypatch.setattr(throughput, "cases", lambda: cases)
    assert throughput.main(["--quick", "--seconds", "0.05", "--out", str(tmp_path)]) == 0
    data = _json(tmp_path / "throughput.json")
    assert "peer_gym" in data["not_measured"]["peer-v0"]
    assert "peer-v0" not in data["single_median"]
    table = (tmp_path / "throughput.md").read_text()
    assert "Not measured" in table and "peer-v0" in table
    row = next(line for line in table.splitlines() if line.startswith("| CartPole-v1 |"))
    assert row.rstrip().endswith("| peer-v0 | — | — |")  # no invented peer number or ratio


def test_throughput_times_vector_envs() -> None:
    rate = throughput.time_vector(lambda: gym.make("CartPole-v1"), "gym-sync", 2, 0.02)
    assert rate > 0


def test_overhead_times_env_step_against_a_null_env(tmp_path: Path) -> None:
    argv = ["--envs", "dialogue", "--timesteps", "256", "--n-envs", "1", "--out", str(tmp_path)]
    assert overhead.main(argv) == 0
    (result,) = _json(tmp_path / "overhead.json")["results"]
    assert result["env"] == "dialogue"
    assert 0 < result["step_share"] < 1 and result["null_wall_s"] > 0
    assert (tmp_path / "overhead.png").is_file()


def test_overhead_times_the_native_batch(tmp_path: Path) -> None:
    argv = ["--envs", "driving", "--timesteps", "512", "--batched", "8", "--out", str(tmp_path)]
    assert overhead.main(argv) == 0
    (result,) = _json(tmp_path / "overhead.json")["results"]
    assert result["env"] == "driving (batched, N=8)"
    assert 0 < result["step_share"] < 1 and result["ppo_steps_per_s"] > 0


def test_driving_speed_runs(tmp_path: Path) -> None:
    from benchmarks import driving_speed

    argv = ["--steps", "30", "--highway-steps", "5", "--num-envs", "4", "--batch-steps", "4"]
    assert driving_speed.main([*argv, "--out", str(tmp_path)]) == 0
    batched = _json(tmp_path / "driving_speed.json")["batched"]
    assert batched["kinematics_continuous"]["num_envs"] == 4
    data = _json(tmp_path / "driving_speed.json")
    assert data["ours"] and ("error" in data["highway_fast_v0"] or "speedup_cpu" in data)


def test_dialogue_speed_runs(tmp_path: Path) -> None:
    from benchmarks import dialogue_speed

    argv = ["--steps", "100", "--repeats", "1", "--out", str(tmp_path)]
    assert dialogue_speed.main(argv) == 0
    assert _json(tmp_path / "dialogue_speed.json")


@pytest.mark.skipif(not HAVE_PANDA, reason="robot_speed needs panda-gym (the bench extra)")
def test_robot_speed_runs(tmp_path: Path) -> None:
    from benchmarks import robot_speed

    assert robot_speed.main(["--quick", "--out", str(tmp_path)]) == 0
    data = _json(tmp_path / "robot_speed.json")
    assert set(data["speed"]) == {"reach", "push"}


@pytest.mark.slow
def test_curriculum_runs(tmp_path: Path) -> None:
    from benchmarks import curriculum

    argv = ["--timesteps", "1024", "--checkpoints", "1", "--seeds", "0"]
    argv += ["--methods", "uniform", "--workers", "1", "--out", str(tmp_path)]
    assert curriculum.main(argv) == 0
    assert _json(tmp_path / "curriculum.json")


def test_best_curriculum_reads_the_curriculum_benchmark(tmp_path: Path) -> None:
    summary = {
        "uniform": {"heldout-far": {"mean": 0.9}, "train_auc": {"mean": 0.9}},
        "stages": {"heldout-far": {"mean": 0.5}, "train_auc": {"mean": 0.9}},
        "plr": {"heldout-far": {"mean": 0.7}, "train_auc": {"mean": 0.1}},
    }
    path = tmp_path / "curriculum.json"
    path.write_text(json.dumps({"summary": summary}))
    name, why = transfer.best_curriculum(path)
    assert name == "plr" and "0.70" in why  # uniform is the baseline, never "best"
    name, why = transfer.best_curriculum(tmp_path / "missing.json")
    assert name == transfer.FALLBACK_CURRICULUM and "fallback" in why


def test_transfer_sweep_config_is_one_sweep_per_env() -> None:
    plan = transfer.PLANS["quick"]
    config = transfer.sweep_config(plan, plan.envs[0], ["uniform", "plr"])
    assert config.envs == (plan.envs[0].env,) and config.curricula == ("uniform", "plr")
    assert config.seeds == plan.seeds and len(plan.seeds) >= 5
    assert config.grouping() == ("curriculum",)


@pytest.mark.slow
def test_transfer_runs_through_the_ray_sweep(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    argv = ["--envs", "point", "--seeds", "0", "1", "--timesteps", "256", "--episodes", "1"]
    argv += ["--bootstrap-reps", "20", "--curriculum", "linear", "--num-cpus", "2"]
    argv += ["--sweeps-dir", str(tmp_path / "sweeps"), "--out", str(tmp_path), "--no-progress"]
    assert transfer.main(argv) == 0
    data = _json(tmp_path / "transfer-quick.json")
    (entry,) = data["envs"]
    assert entry["runs_done"] == 4 and not entry["runs_failed"]
    assert set(entry["estimates"]["train"]) == {"curriculum=uniform", "curriculum=linear"}
    assert (tmp_path / "sweeps" / "point" / "state.json").is_file()  # the sweep runner's folder
    assert (tmp_path / "transfer-quick.png").is_file()


@pytest.mark.slow
def test_transfer_compares_modular_and_end_to_end_perception(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    argv = ["--envs", "--perception", "--perception-frames", "300", "--perception-epochs", "1"]
    argv += ["--perception-timesteps", "256", "--seeds", "0", "--episodes", "1"]
    argv += ["--bootstrap-reps", "20", "--num-cpus", "2", "--no-progress"]
    argv += ["--sweeps-dir", str(tmp_path / "sweeps"), "--out", str(tmp_path)]
    assert transfer.main(argv) == 0
    (entry,) = _json(tmp_path / "transfer-quick.json")["envs"]
    assert entry["runs_done"] == 2 and not entry["runs_failed"]
    assert set(entry["estimates"]["heldout-visual"]) == {"modular", "end-to-end"}


def test_transfer_reports_improvement_over_the_baseline() -> None:
    imp = {"x": "curriculum=uniform", "y": "curriculum=plr", "tasks": "all splits"}
    entry = {"improvements": [{**imp, "value": 0.7, "low": 0.6, "high": 0.9}]}
    (flipped,) = transfer._against_baseline(entry)
    assert (flipped["x"], flipped["y"]) == ("curriculum=plr", "curriculum=uniform")
    assert flipped["value"] == pytest.approx(0.3)
    assert (flipped["low"], flipped["high"]) == (pytest.approx(0.1), pytest.approx(0.4))


def test_copy_cost_runs(tmp_path: Path) -> None:
    from benchmarks import copy_cost

    assert copy_cost.main(["--repeats", "1", "--out", str(tmp_path)]) == 0
    data = _json(tmp_path / "copy_cost.json")
    assert data["cases"]["robot-reach"]["deepcopy"]["cpu_ms"] > 0
    assert "deepcopy wall" in (tmp_path / "copy_cost.md").read_text()


@pytest.mark.slow
def test_driving_ppo_times_the_main_command(tmp_path: Path) -> None:
    from benchmarks import driving_ppo

    assert driving_ppo.main(["--seeds", "0", "--timesteps", "512", "--out", str(tmp_path)]) == 0
    (run,) = _json(tmp_path / "driving_ppo.json")["runs"]
    assert run["wall_s"] > 0 and set(run["success"]) == set(driving_ppo.SPLITS)
    assert "| seed |" in (tmp_path / "driving_ppo.md").read_text()


def test_dialogue_nlu_trains_evaluates_and_compares_channels(tmp_path: Path) -> None:
    from benchmarks import dialogue_nlu

    argv = ["--utterances", "200", "--epochs", "1", "--eval-utterances", "20", "--episodes", "2"]
    assert dialogue_nlu.main([*argv, "--out", str(tmp_path)]) == 0
    data = _json(tmp_path / "dialogue-nlu.json")
    assert set(data["expert"]) == set(dialogue_nlu.SPLITS)
    assert data["expert"]["train"]["nlu"]["episodes"] == 2 and data["ppo"] is None
    assert data["nlu_cost"]["ms_per_utterance_single"] > 0
    assert "| heldout-domain |" in (tmp_path / "dialogue-nlu.md").read_text()
