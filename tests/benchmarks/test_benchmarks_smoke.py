"""Smoke tests: every benchmark script runs end to end with its smallest settings.

Not timed and not compared with anything: they check that each ``main()`` finishes,
writes its JSON/markdown (and PNG where it draws one) into ``tmp_path`` and reports a
missing peer (highway-env, panda-gym) as "not measured" instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

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


def test_step_rate_counts_steps_and_resets_and_times_both_clocks() -> None:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    rate = report.step_rate(env, [0] * 300)  # always left: episodes end within ~30 steps
    assert rate["steps"] == 300 and rate["resets"] >= 5
    assert rate["wall_s"] > 0 and rate["cpu_s"] > 0
    assert rate["wall_rate"] == pytest.approx(300 / rate["wall_s"])
    with report.stopwatch() as t:
        sum(range(10_000))
    assert t.wall > 0 and t.cpu >= 0


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


def test_full_plan_declares_the_study() -> None:
    plan = transfer.PLANS["full"]
    by_env = {e.env: e for e in plan.envs}
    assert list(by_env) == ["driving", "dialogue", "robot-reach", "robot-push"]
    assert transfer.METHOD_NAMES == (
        "narrow",
        "uniform",
        "uniform+context",
        "learning-progress",
        "plr",
        "adversarial",
    )
    for name in ("driving", "dialogue", "robot-reach"):
        assert by_env[name].methods == transfer.METHOD_NAMES and len(by_env[name].seeds) >= 5
    # uniform first: its runs judge the recipe before narrow spends compute
    assert by_env["robot-push"].methods == ("uniform", "narrow")
    assert dict(by_env["robot-push"].recipe)["run.normalize_obs"] is True  # recipe v2
    assert len(by_env["robot-push"].seeds) >= 3
    assert dict(by_env["driving"].recipe)["run.n_envs"] == 128
    assert by_env["driving"].timesteps == 400_000 and plan.episodes >= 50
    assert transfer.BY_NAME["narrow"].curriculum == "narrow"
    assert transfer.BY_NAME["uniform+context"].context


def test_sweeps_go_seed_block_by_seed_block_with_every_method() -> None:
    plan = transfer.PLANS["full"]
    env = plan.envs[0]
    methods = [transfer.BY_NAME[m] for m in ("narrow", "uniform", "uniform+context", "plr")]
    sweeps = transfer.sweep_plans(plan, env, methods)
    assert [s.label for s in sweeps] == [
        "curricula-s0-1",
        "context-s0-1",
        "curricula-s2-3",
        "context-s2-3",
        "curricula-s4-4",
        "context-s4-4",
    ]
    config = transfer.sweep_config(plan, sweeps[0])
    assert config.curricula == ("narrow", "uniform", "plr") and config.seeds == (0, 1)
    assert config.grouping() == ("curriculum",) and config.evaluation.episodes == plan.episodes
    overrides = dict(config.overrides)
    assert overrides["run.n_envs"] == (128,) and "run.env_kwargs" not in overrides
    context = transfer.sweep_config(plan, sweeps[1])
    assert context.curricula == ("uniform",)
    assert dict(context.overrides)["run.env_kwargs"] == ({"context": "visible"},)
    assert dict(context.overrides)["run.n_envs"] == (128,)  # same recipe for every method
    assert sweeps[1].method_of("uniform") == "uniform+context"
    assert sweeps[0].method_of("uniform") == "uniform"


def test_unregistered_methods_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import curricula

    env = transfer.PLANS["full"].envs[0]
    methods, skipped = transfer.available_methods(env)
    if "adversarial" not in curricula.SCHEDULERS:
        assert "adversarial" in skipped and "not registered" in skipped["adversarial"]
    monkeypatch.setitem(curricula.SCHEDULERS, "adversarial", curricula.UniformScheduler)
    methods, skipped = transfer.available_methods(env, ["uniform", "adversarial"])
    assert [m.name for m in methods] == ["uniform", "adversarial"] and not skipped


def _fake_report(label: str, score: float, heldout: float) -> Any:
    import numpy as np

    from agents.evaluation import SplitResult, TransferReport

    rng = np.random.default_rng(abs(hash(label)) % 2**32)
    splits = {}
    for split, level in (("train", score), ("heldout-a", heldout), ("heldout-b", heldout)):
        returns = level + 0.05 * rng.standard_normal(8)
        splits[split] = SplitResult(
            split=split,
            seeds=list(range(8)),
            scenarios=[{}] * 8,
            returns=returns,
            lengths=np.full(8, 10),
            successes=returns > 0.5,
            random_returns=np.zeros(8),
            expert_returns=np.ones(8),
        )
    return TransferReport(env="fake", env_kwargs={}, policy=label, seed=0, splits=splits)


def test_summary_compares_every_method_with_both_baselines() -> None:
    env = transfer.EnvPlan("fake", "ppo", 1, methods=("narrow", "uniform", "plr"))
    groups = {
        "narrow": [_fake_report(f"n{i}", 0.9, 0.2) for i in range(4)],
        "uniform": [_fake_report(f"u{i}", 0.9, 0.6) for i in range(4)],
        "plr": [_fake_report(f"p{i}", 0.9, 0.7) for i in range(4)],
    }
    entry = transfer.summarise_env(env, groups, reps=50)
    assert set(entry["vs_baselines"]) == {"uniform", "narrow"}
    over_narrow = {(i["x"], i["tasks"]): i for i in entry["vs_baselines"]["narrow"]}
    assert over_narrow[("uniform", "held-out splits")]["value"] == pytest.approx(1.0)
    assert all(i["y"] == "uniform" for i in entry["vs_baselines"]["uniform"])
    ratio = entry["transfer_ratio"]["narrow"]["heldout (all)"]
    assert ratio["low"] <= ratio["value"] <= ratio["high"] and ratio["value"] < 0.4
    assert entry["success"]["uniform"]["train"]["value"] == pytest.approx(1.0)
    entry["reading"] = transfer.reading(entry)
    assert entry["reading"]["best_heldout_iqm"] == "plr"
    assert entry["reading"]["beats_narrow"] == ["uniform", "plr"]
    assert entry["reading"]["loses_to_uniform"] == ["narrow"]
    assert "| heldout-a | plr | 4 |" in transfer.env_table(
        {
            **entry,
            "env": "fake",
            "algo": "ppo",
            "timesteps": 1,
            "recipe": {},
            "runs_done": 12,
            "runs_planned": 12,
            "runs_failed": [],
            "methods_skipped": {"adversarial": "later"},
        }
    )


def test_transfer_cli_checks_input_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "results"
    for argv in (
        ["--envs", "nowhere"],
        ["--methods", "uniform", "typo"],
        ["--seeds", "1", "1"],
        ["--episodes", "0"],
    ):
        with pytest.raises(SystemExit) as exc:
            transfer.main([*argv, "--sweeps-dir", str(tmp_path / "s"), "--out", str(out)])
        assert exc.value.code == 2
    assert not out.exists() and not (tmp_path / "s").exists()


def test_a_sweep_with_a_smaller_budget_is_refused_unless_extended(tmp_path: Path) -> None:
    from agents.sweep import SweepState

    plan = transfer.PLANS["quick"]
    env = next(e for e in plan.envs if e.env == "point")
    small = replace(plan, envs=(replace(env, timesteps=128),))
    (sweep,) = transfer.sweep_plans(small, small.envs[0], [transfer.BY_NAME["uniform"]])
    SweepState.create(sweep.folder(tmp_path), transfer.sweep_config(small, sweep))
    big = replace(plan, envs=(replace(env, timesteps=256),))
    with pytest.raises(ValueError, match="another plan .* or --extend if only the budget grew"):
        transfer.check_sweeps(big, ["uniform"], tmp_path)
    transfer.check_sweeps(big, ["uniform"], tmp_path, extend=True)
    more_episodes = replace(big, episodes=big.episodes + 1)
    with pytest.raises(ValueError, match=r"cannot be extended: .*these differ too: \['evaluation'"):
        transfer.check_sweeps(more_episodes, ["uniform"], tmp_path, extend=True)
    smaller = replace(plan, envs=(replace(env, timesteps=64),))
    with pytest.raises(ValueError, match="must raise the budget"):
        transfer.check_sweeps(smaller, ["uniform"], tmp_path, extend=True)


def test_the_ledger_outlives_the_sweep_folders(tmp_path: Path) -> None:
    from agents.sweep import SweepState, _record_result

    plan = transfer.PLANS["quick"]
    env = next(e for e in plan.envs if e.env == "point")
    plan = replace(plan, envs=(env,))
    methods = [transfer.BY_NAME["narrow"], transfer.BY_NAME["uniform"]]
    (sweep,) = transfer.sweep_plans(plan, env, methods)
    sweeps, ledger = tmp_path / "sweeps", tmp_path / "results" / "ledger"
    state = SweepState.create(sweep.folder(sweeps), transfer.sweep_config(plan, sweep))
    finished = next(iter(state.records))
    report = _fake_report("a", 0.9, 0.5).to_dict()
    _record_result(
        state,
        state.records[finished],
        {"run_dir": "gone", "duration_s": 1.0, "transfer": report},
    )
    state.save()
    assert transfer.archive_sweeps(sweeps, ledger) == 1
    shutil.rmtree(sweeps)  # the machine is gone; the ledger (committed) is not
    rows = transfer.read_sweep(sweep, sweeps, ledger)
    assert [r.run_id for r in rows if r.report is not None] == [finished]
    assert transfer.read_sweep(sweep, sweeps) == []
    assert transfer.restore_sweeps(plan, None, sweeps, ledger) == [sweep.folder(sweeps)]
    todo = SweepState.load(sweep.folder(sweeps)).todo()
    assert finished not in todo and len(todo) == len(state.records) - 1
    assert transfer.restore_sweeps(plan, None, sweeps, ledger) == []  # never overwrites


def test_an_env_with_nothing_on_disk_keeps_its_entry_only_under_the_same_plan(
    tmp_path: Path,
) -> None:
    argv = ["--full", "--report-only", "--sweeps-dir", str(tmp_path / "none")]
    assert transfer.main([*argv, "--out", str(tmp_path)]) == 0
    data = _json(tmp_path / "transfer-full.json")
    entry = data["envs"][0]
    measured = {**entry, "runs_done": 3, "estimates": {}, "runs": [], "date": "x"}
    changed = {**data["envs"][1], "runs_done": 3, "timesteps": 1}
    data["envs"][:2] = [measured, changed]
    data["study"] = {"invocations": [{"start": "earlier", "wall_s": 5.0}], "wall_s": 5.0}
    (tmp_path / "transfer-full.json").write_text(json.dumps(data))
    kept = transfer.previous_entries(transfer.PLANS["full"], tmp_path)
    assert list(kept) == [entry["env"]] and kept[entry["env"]]["kept_from"] == data["date"]
    assert transfer.previous_study(transfer.PLANS["full"], tmp_path)["wall_s"] == 5.0
    merged = transfer.merge_studies(
        {"invocations": [{"start": "a", "wall_s": 1.0}]},
        {"invocations": [{"start": "a", "wall_s": 3.0}, {"start": "b", "wall_s": 2.0}]},
    )
    assert merged["wall_s"] == 5.0 and [c["start"] for c in merged["invocations"]] == ["a", "b"]
    assert transfer.shipping_choice({**kept[entry["env"]], "complete": True}) is None


def test_a_running_invocation_keeps_its_wall_time_on_disk(tmp_path: Path) -> None:
    # A driver killed without warning must not lose its wall time: a heartbeat thread
    # rewrites it while the invocation runs, and leaving the block writes the final value.
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    earlier = {"start": "earlier", "wall_s": 5.0}
    (sweeps / transfer.STUDY_FILE).write_text(json.dumps({"invocations": [earlier]}))
    ticks: list[str] = []
    heartbeat = threading.Event()

    def now() -> float:  # one tick per reading; readings off the main thread are beats
        ticks.append(threading.current_thread().name)
        if threading.current_thread() is not threading.main_thread():
            heartbeat.set()
        return float(len(ticks))

    invocation = {"start": "now", "host": "h"}
    with transfer.InvocationClock(sweeps, invocation, every_s=0.001, now=now):
        assert _json(sweeps / transfer.STUDY_FILE)["invocations"][-1]["wall_s"] >= 0.0
        assert heartbeat.wait(timeout=60)
    study = _json(sweeps / transfer.STUDY_FILE)
    assert [c["start"] for c in study["invocations"]] == ["earlier", "now"]
    assert study["invocations"][-1] == {**invocation, "wall_s": len(ticks) - 1.0}
    assert study["wall_s"] == 5.0 + len(ticks) - 1.0
    with pytest.raises(ValueError, match="every_s"):
        transfer.InvocationClock(sweeps, invocation, every_s=0)


def test_readme_headline_block_is_generated(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{transfer.README_START}\nold\n{transfer.README_END}\nrest\n")
    argv = ["--full", "--report-only", "--readme", str(readme), "--out", str(tmp_path)]
    assert transfer.main([*argv, "--sweeps-dir", str(tmp_path / "none")]) == 0
    text = readme.read_text()
    assert "\nold\n" not in text and "| driving | 0/" in text and text.endswith("rest\n")
    bare = tmp_path / "bare.md"
    bare.write_text("no markers")
    with pytest.raises(SystemExit):
        transfer.main(["--report-only", "--readme", str(bare), "--out", str(tmp_path / "x")])
    assert bare.read_text() == "no markers" and not (tmp_path / "x").exists()


def test_report_only_lists_every_env_of_the_plan(tmp_path: Path) -> None:
    argv = [
        "--full",
        "--report-only",
        "--sweeps-dir",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path),
    ]
    assert transfer.main(argv) == 0
    data = _json(tmp_path / "transfer-full.json")
    assert [e["env"] for e in data["envs"]] == ["driving", "dialogue", "robot-reach", "robot-push"]
    assert all(e["runs_done"] == 0 for e in data["envs"])
    assert "Not measured yet" in (tmp_path / "transfer-full.md").read_text()


@pytest.mark.slow
def test_transfer_runs_through_the_ray_sweep_and_resumes(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    argv = ["--envs", "point", "--seeds", "0", "1", "--timesteps", "256", "--episodes", "2"]
    argv += ["--methods", "narrow", "uniform", "uniform+context", "--num-cpus", "2"]
    argv += ["--bootstrap-reps", "20", "--sweeps-dir", str(tmp_path / "sweeps")]
    argv += ["--out", str(tmp_path), "--no-progress"]
    assert transfer.main(argv) == 0
    data = _json(tmp_path / "transfer-quick.json")
    entry = next(e for e in data["envs"] if e["env"] == "point")
    assert entry["runs_done"] == 6 and entry["complete"] and not entry["runs_failed"]
    assert set(entry["estimates"]["train"]) == {"narrow", "uniform", "uniform+context"}
    assert {i["x"] for i in entry["vs_baselines"]["narrow"]} == {"uniform", "uniform+context"}
    assert (tmp_path / "sweeps" / "point" / "curricula-s0-1" / "state.json").is_file()
    assert (tmp_path / "sweeps" / "point" / "context-s0-1" / "state.json").is_file()
    assert (tmp_path / "transfer-quick.png").is_file()
    assert transfer.main(argv) == 0  # resumes: nothing left to run
    study = _json(tmp_path / "sweeps" / "study.json")
    assert len(study["invocations"]) == 2 and study["wall_s"] > 0
    # A larger budget continues every run from its final checkpoint, only with --extend
    # (the point recipe's rollouts are 4 x 512 steps: 256 trained 2048).
    bigger = [*argv[:6], "4096", *argv[7:]]
    with pytest.raises(SystemExit):
        transfer.main(bigger)
    assert transfer.main([*bigger, "--extend"]) == 0
    sweep_dir = tmp_path / "sweeps" / "point" / "curricula-s0-1"
    assert len(list((sweep_dir / "results").glob("*@t256.json"))) == 4
    for result in (sweep_dir / "results").glob("*-s?.json"):
        run_dir = Path(_json(result)["run_dir"])
        assert "--timesteps 4096" in (run_dir / "command.txt").read_text().splitlines()[-1]
    data = _json(tmp_path / "transfer-quick.json")
    entry = next(e for e in data["envs"] if e["env"] == "point")
    assert list((tmp_path / "sweeps" / "baselines").glob("point-expert-*.json"))
    # the best run of the best method ships as a pretrained agent with its card
    from agents import pretrained

    assert len(transfer.ship(data, tmp_path / "t.json", root=tmp_path / "shipped")) == 1
    card = pretrained.load_card("point", tmp_path / "shipped")
    assert card["method"] == entry["reading"]["best_heldout_iqm"] and card["env"] == "point"
    assert pretrained.load_pretrained("point", root=tmp_path / "shipped") is not None


@pytest.mark.slow
def test_transfer_compares_modular_and_end_to_end_perception(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    argv = ["--perception", "--perception-frames", "300", "--perception-epochs", "1"]
    argv += ["--perception-timesteps", "256", "--seeds", "0", "--episodes", "1"]
    argv += ["--bootstrap-reps", "20", "--no-progress"]
    argv += ["--sweeps-dir", str(tmp_path / "sweeps"), "--out", str(tmp_path)]
    assert transfer.main(argv) == 0
    (entry,) = _json(tmp_path / "transfer-quick-perception.json")["envs"]
    assert entry["runs_done"] == 2 and not entry["runs_failed"]
    assert set(entry["estimates"]["heldout-visual"]) == {"modular", "end-to-end"}


def test_against_orients_every_comparison_with_the_baseline_as_y() -> None:
    imp = {"x": "uniform", "y": "plr", "tasks": "all splits"}
    improvements = [{**imp, "value": 0.7, "low": 0.6, "high": 0.9}]
    (flipped,) = transfer.against(improvements, "uniform")
    assert (flipped["x"], flipped["y"]) == ("plr", "uniform")
    assert flipped["value"] == pytest.approx(0.3)
    assert (flipped["low"], flipped["high"]) == (pytest.approx(0.1), pytest.approx(0.4))
    assert transfer.against(improvements, "narrow") == []


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


def test_the_machine_string_names_no_empty_field() -> None:
    fields = report.machine()["machine"].split(", ")
    assert all(fields) and fields[1].endswith(" cores"), fields
