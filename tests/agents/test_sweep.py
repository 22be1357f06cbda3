"""Sweep config expansion, state file, resume selection, report and CLI errors (no Ray)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from agents import sweep, train
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
    assert spec.train_argv("o", device="cuda")[-5:] == ["--device", "cuda", "--out", "o",
                                                        "--no-progress"]  # fmt: skip
    assert spec.run_id == "point-ppo-default-s0"
    assert cfg.grouping() == ("algo",)
    again = SweepConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": [0]}, "unknown sweep config keys ['seed']"),
        ({"envs": ["pointt"]}, "unknown env 'pointt'. Did you mean 'point'"),
        ({"algos": ["ppo2"]}, "unknown algorithm 'ppo2'. Did you mean 'ppo'"),
        ({"envs": "point"}, "'envs' must be a non-empty list"),
        ({"seeds": [0, 0]}, "lists ['0'] more than once"),
        ({"seeds": [0.5]}, "0.5 is not a int"),
        ({"timesteps": 0}, "'timesteps' must be >= 1"),
        ({"set": {"algo.n_steps": 64}}, "set.algo.n_steps must be a non-empty LIST"),
        ({"set": {"algoo.n_steps": [64]}}, "unknown section 'algoo'"),
        ({"group_by": ["curiculum"]}, "Did you mean 'curriculum'"),
        ({"resources": {"cpus": 1}}, "unknown resources keys ['cpus']"),
        ({"resources": {"num_cpus": 0}}, "num_cpus > 0"),
        ({"evaluation": {"episodes": 0}}, "evaluation.episodes must be >= 1"),
        ({"retries": -1}, "retries must be an int >= 0"),
        ({"name": "a b"}, "sweep name must match"),
        ({"curricula": ["linar"]}, "unknown curriculum 'linar'. Did you mean 'linear'"),
        ({"timeout_s": 0}, "timeout_s must be a number > 0"),
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
    assert report["recovered"] == []
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
    assert "--max-concurrent: expected a positive integer, got 0" in capsys.readouterr().err
    assert sweep.main([str(good), "--address", "auto", "--num-cpus", "2"]) == 2
    assert "a cluster (address) keeps its own" in capsys.readouterr().err
    SweepState.create(tmp_path / "taken", config())
    assert sweep.main([str(good), "--out", str(tmp_path / "taken")]) == 2
    assert "already holds a sweep" in capsys.readouterr().err
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


# --------------------------------------------------------------------------- driver, fake Ray


class FakeRay:
    """Just enough of Ray's API to drive :func:`sweep.run_sweep` in-process, in order.

    Each task runs when ``wait`` picks it; an exception it raises becomes a
    ``RayTaskError``, and ``Crash`` a ``WorkerCrashedError`` (a killed worker).
    ``interrupt_after`` raises KeyboardInterrupt (Ctrl-C) after that many results.
    """

    class exceptions:  # mirrors ray.exceptions
        class RayError(Exception):
            pass

        class RayTaskError(RayError):
            def __init__(self, cause):
                super().__init__(str(cause))
                self.cause = cause

        class WorkerCrashedError(RayError):
            pass

        class TaskCancelledError(RayError):
            pass

    def __init__(self, interrupt_after=None, hang=()):
        self.interrupt_after = interrupt_after
        self.hang = set(hang)  # run ids whose tasks never finish until cancelled
        self.results = 0
        self.cancelled = []
        self.options = {}

    def is_initialized(self):
        return True

    def remote(self, fn=None, **decorator_options):
        if fn is None:  # ray.remote(max_calls=1, ...)(fn)
            self.decorator_options = decorator_options
            return self.remote
        fake = self

        class Task:
            def options(self, **kw):
                fake.options = kw
                return self

            def remote(self, *args):
                return Ref(fn, args)

        return Task()

    def wait(self, refs, num_returns=1, timeout=None):
        if self.interrupt_after is not None and self.results >= self.interrupt_after:
            raise KeyboardInterrupt
        hanging = refs[0].args[0]["run_id"] in self.hang
        if timeout is not None and hanging and not any(c is refs[0] for c in self.cancelled):
            return [], refs
        self.results += 1
        return refs[:1], refs[1:]

    def get(self, ref):
        if any(c is ref for c in self.cancelled):
            raise self.exceptions.TaskCancelledError("cancelled")
        try:
            return ref.fn(*ref.args)
        except Crash:
            raise self.exceptions.WorkerCrashedError("worker died") from None
        except Exception as err:
            raise self.exceptions.RayTaskError(err) from None

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)


@dataclasses.dataclass(eq=False)
class Ref:
    fn: object
    args: tuple


class Crash(Exception):
    """Stands for a worker process killed mid-run."""


class FakeAggregate:
    """Stands in for the evaluator's GroupReport (tested above) to keep driver tests fast."""

    def __init__(self, groups, reps=None):
        self.groups = {g: [r.policy for r in rs] for g, rs in groups.items()}

    def save(self, out_dir):
        pass

    def to_dict(self):
        return {"runs": self.groups}

    def table(self):
        return "groups: " + ", ".join(self.groups)


def fake_execute(toy_reports, plan):
    """An ``execute_run`` stand-in: ``plan[run_id]`` lists what each attempt does."""
    calls = []

    def execute(spec, attempt_dir, evaluation, train_fn, device):
        assert device == "cpu"  # no GPU declared: train on the CPU
        run_id = spec["run_id"]
        calls.append((run_id, Path(attempt_dir).name))
        outcomes = plan.get(run_id, [])
        outcome = outcomes.pop(0) if outcomes else "ok"
        if outcome == "crash":
            raise Crash
        if outcome == "error":
            raise RuntimeError("agents.train exited with status 1: boom\nend of train.log:\nboom")
        if outcome == "rejected":
            raise sweep.RunRejectedError("agents.train exited with status 2: error: bad --set")
        report = dataclasses.replace(toy_reports["random"], policy=run_id)
        return {"run_dir": f"{attempt_dir}/point/ppo", "duration_s": 1.0, "host": "h",
                "scores": sweep.split_scores(report), "transfer": report.to_dict()}  # fmt: skip

    return execute, calls


def test_driver_retries_records_failures_and_resume_redoes_only_unfinished(
    tmp_path, monkeypatch, toy_reports, capsys
):
    cfg = config(retries=1, evaluation={"episodes": 3, "bootstrap_reps": 20})
    ids = [s.run_id for s in expand(cfg)]
    # ids[0] recovers; ids[1] fails twice; ids[2]'s arguments are rejected: no retry
    plan = {ids[0]: ["crash"], ids[1]: ["error", "crash"], ids[2]: ["rejected", "ok"]}
    execute, calls = fake_execute(toy_reports, plan)
    monkeypatch.setattr("agents.sweep.driver.execute_run", execute)
    monkeypatch.setattr("agents.sweep.report.aggregate_groups", FakeAggregate)
    fake = FakeRay()
    monkeypatch.setattr("agents.sweep.driver._import_ray", lambda: fake)

    first = sweep.run_sweep(cfg, tmp_path, max_concurrent=2, progress=True)
    assert fake.decorator_options == {"max_calls": 1, "max_retries": 0}
    assert fake.options == {"num_cpus": 1.0, "num_gpus": 0.0}
    assert not first.ok and [r.spec.run_id for r in first.failed] == [ids[1], ids[2]]
    records = {r.spec.run_id: r for r in first.records}
    assert records[ids[2]].attempts == 1  # rejected arguments: not retried
    assert records[ids[2]].errors == [
        "attempt 1: RunRejectedError: agents.train exited with status 2: error: bad --set"
    ]
    assert records[ids[0]].status == DONE and records[ids[0]].attempts == 2
    assert records[ids[0]].errors == ["attempt 1: WorkerCrashedError: the worker process died "
                                      "(killed or crashed) during the run"]  # fmt: skip
    assert [e.split(":")[1].strip() for e in records[ids[1]].errors] == [
        "RuntimeError",
        "WorkerCrashedError",
    ]
    assert "boom" in records[ids[1]].errors[0]  # the end of train.log is kept
    out = capsys.readouterr().out
    assert f"retry  {ids[0]} (attempt 1 failed: WorkerCrashedError" in out
    assert f"FAILED {ids[1]} after 2 attempts: WorkerCrashedError" in out
    assert out.count("] done   ") == 2
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(
        f"{i}.json" for i in (ids[0], ids[3])
    )
    report_md = (tmp_path / "report.md").read_text()
    assert "attempt 1: RuntimeError: agents.train exited with status 1" in report_md
    report = json.loads((tmp_path / "report.json").read_text())
    assert [f["run_id"] for f in report["failures"]] == [ids[1], ids[2]]
    assert report["recovered"] == [
        {"run_id": ids[0], "status": DONE, "errors": records[ids[0]].errors}
    ]
    assert "## Failed attempts of runs that then finished" in report_md

    calls.clear()
    second = sweep.run_sweep(None, tmp_path, resume=True, progress=False)
    assert second.ok
    # only the failed runs, each in a new attempt folder
    assert calls == [(ids[1], "attempt-3"), (ids[2], "attempt-2")]
    per_env = second.transfer_reports()
    assert sum(len(v) for v in per_env["point"].values()) == 4
    assert json.loads((tmp_path / "report.json").read_text())["failures"] == []


def test_interrupted_sweep_keeps_finished_runs_and_resumes(tmp_path, monkeypatch, toy_reports):
    cfg = config(evaluation={"episodes": 3, "bootstrap_reps": 20})
    execute, calls = fake_execute(toy_reports, {})
    monkeypatch.setattr("agents.sweep.driver.execute_run", execute)
    monkeypatch.setattr("agents.sweep.report.aggregate_groups", FakeAggregate)
    fake = FakeRay(interrupt_after=2)
    monkeypatch.setattr("agents.sweep.driver._import_ray", lambda: fake)
    first = sweep.run_sweep(cfg, tmp_path, max_concurrent=3, progress=False)
    assert first.interrupted and not first.ok
    assert len(fake.cancelled) == 2  # the two runs in flight at Ctrl-C
    state = SweepState.load(tmp_path)
    assert state.counts() == {PENDING: 2, RUNNING: 0, DONE: 2, FAILED: 0}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["counts"][DONE] == 2  # partial results are reported
    assert sum(len(r) for r in report["grouped"]["point"]["runs"].values()) == 2

    calls.clear()
    monkeypatch.setattr("agents.sweep.driver._import_ray", lambda: FakeRay())
    assert sweep.run_sweep(None, tmp_path, resume=True, progress=False).ok
    assert [c[0] for c in calls] == list(state.records)[2:]


def test_an_extension_may_raise_only_the_budget():
    assert config(timesteps=256).extension_of(config()) == (128, 256)
    assert config().extension_of(config()) is None
    with pytest.raises(SweepConfigError, match=r"only 'timesteps'; these differ too: \['seeds'\]"):
        config(timesteps=256, seeds=[0]).extension_of(config())
    with pytest.raises(SweepConfigError, match="must raise the budget: .* to 128 steps, got 64"):
        config(timesteps=64).extension_of(config())
    with pytest.raises(SweepConfigError, match="one 'timesteps' value"):
        config(timesteps=[128, 256]).extension_of(config())


def test_extend_continues_every_run_to_the_new_budget_and_keeps_old_results(
    tmp_path, monkeypatch, toy_reports, capsys
):
    cfg = config(evaluation={"episodes": 3, "bootstrap_reps": 20})
    execute, calls = fake_execute(toy_reports, {})
    budgets = []

    def execute_recording_budget(spec, *args):
        budgets.append(spec["timesteps"])
        return execute(spec, *args)

    monkeypatch.setattr("agents.sweep.driver.execute_run", execute_recording_budget)
    monkeypatch.setattr("agents.sweep.report.aggregate_groups", FakeAggregate)
    monkeypatch.setattr("agents.sweep.driver._import_ray", lambda: FakeRay())
    assert sweep.run_sweep(cfg, tmp_path, progress=False).ok
    ids = [s.run_id for s in expand(cfg)]
    first = {i: (tmp_path / "results" / f"{i}.json").read_text() for i in ids}

    bigger = dataclasses.replace(cfg, timesteps=(256,))
    with pytest.raises(SweepConfigError, match="add --extend if only 'timesteps' grew"):
        sweep.run_sweep(bigger, tmp_path, resume=True, progress=False)
    budgets.clear(), calls.clear()
    assert sweep.run_sweep(bigger, tmp_path, resume=True, extend=True, progress=False).ok
    assert budgets == [256] * len(ids) and [c for c, _ in calls] == ids
    assert {a for _, a in calls} == {"attempt-2"}  # the next attempt continues the first
    for i in ids:  # the first budget's results are kept beside the new ones
        assert (tmp_path / "results" / f"{i}@t128.json").read_text() == first[i]
        assert (
            json.loads((tmp_path / "results" / f"{i}.json").read_text())["spec"]["timesteps"] == 256
        )
    assert sweep.load_config(tmp_path / "sweep.yaml").timesteps == (256,)
    state = json.loads((tmp_path / "state.json").read_text())
    assert [(e["from"], e["to"]) for e in state["extensions"]] == [(128, 256)]

    budgets.clear()  # resuming again (with or without the config) redoes nothing
    assert sweep.run_sweep(bigger, tmp_path, resume=True, extend=True, progress=False).ok
    assert sweep.run_sweep(None, tmp_path, resume=True, progress=False).ok
    assert budgets == []
    assert sweep.main([str(tmp_path / "sweep.yaml"), "--extend"]) == 2
    assert "--extend needs --resume DIR and the new CONFIG.yaml" in capsys.readouterr().err


def test_an_extended_run_resumes_its_final_checkpoint_to_the_new_budget(tmp_path):
    from agents import runs
    from agents.sweep.task import _train

    args = ["--env", "point", "--algo", "ppo", "--timesteps", "64", "--seed", "0"]
    args += ["--set", "algo.n_steps=32", "--set", "algo.batch_size=32", "--set", "algo.n_epochs=1"]
    args += ["--set", "policy.net_arch=[16]", "--set", "run.n_envs=1"]
    args += ["--set", "run.eval_episodes=1", "--set", "run.record_video=false"]
    first = tmp_path / "point-ppo-s0" / "attempt-1"
    assert train.main([*args, "--out", str(first), "--no-progress"]) == 0
    run_dir = sweep.find_run_dir(first)
    spec = sweep.RunSpec("point-ppo-s0", "point", "ppo", 0, 64)
    log = (tmp_path / "log.txt").open("w")
    # Same budget: the finished model is only evaluated again; a bigger one continues it.
    assert _train(spec, first.parent / "attempt-2", train.main, log, "cpu") == run_dir
    assert runs.latest_checkpoint(run_dir).timesteps == 64
    bigger = dataclasses.replace(spec, timesteps=128)
    assert _train(bigger, first.parent / "attempt-3", train.main, log, "cpu") == run_dir
    assert runs.latest_checkpoint(run_dir).timesteps == 128
    assert "--resume" in (run_dir / "command.txt").read_text().splitlines()[-1]
    steps = sum(
        int(row.split(",")[1])
        for path in (run_dir / "monitor").glob("*.monitor.csv")
        for row in path.read_text().splitlines()[2:]
    )
    assert 64 < steps <= 128


def test_an_attempt_past_timeout_s_is_cancelled_and_retried(tmp_path, monkeypatch, toy_reports):
    cfg = config(seeds=[0], curricula=["linear"], retries=1, timeout_s=0.01)
    (run_id,) = [s.run_id for s in expand(cfg)]
    execute, calls = fake_execute(toy_reports, {})
    monkeypatch.setattr("agents.sweep.driver.execute_run", execute)
    monkeypatch.setattr("agents.sweep.report.aggregate_groups", FakeAggregate)
    fake = FakeRay(hang=[run_id])
    monkeypatch.setattr("agents.sweep.driver._import_ray", lambda: fake)
    result = sweep.run_sweep(cfg, tmp_path, progress=False)
    (record,) = result.records
    assert record.status == FAILED and record.attempts == 2 and len(fake.cancelled) == 2
    assert record.errors == [
        f"attempt {k}: TimeoutError: cancelled after timeout_s=0.01 s" for k in (1, 2)
    ]
    assert calls == []  # never ran to completion


def test_a_run_agents_train_would_reject_fails_the_sweep_before_it_starts(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "set": {"algo.gamma": [0.99, 2]}}))
    assert sweep.main([str(bad), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "is rejected by agents.train" in err and "algo.gamma must be" in err, err
    assert not (tmp_path / "s").exists()
