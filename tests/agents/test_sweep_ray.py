"""A tiny sweep on a local 2-CPU Ray: run folders, grouped report, a killed run, retry, resume.

Slow (Ray start-up and four real ``agents.train`` runs): ``pytest -m slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents import sweep

pytestmark = pytest.mark.slow

TINY = {
    "name": "tiny",
    "envs": ["point"],
    "algos": ["ppo"],
    "curricula": ["uniform", "linear"],
    "seeds": [0, 1],
    "timesteps": 256,
    "set": {
        "algo.n_steps": [64],
        "algo.batch_size": [32],
        "policy.net_arch": [[16]],
        "run.checkpoint_freq": [64],
        "run.eval_episodes": [1],
        "run.record_video": [False],
    },
    "retries": 1,
    "evaluation": {"episodes": 3, "bootstrap_reps": 100},
}
KILLED_MIDWAY = "point-ppo-linear-s0"  # killed once, after its first checkpoint
ALWAYS_KILLED = "point-ppo-uniform-s1"  # killed on every attempt of the first invocation


def killing_train(marker_dir: Path):
    """``agents.train.main`` in a wrapper that SIGKILLs its own Ray worker on cue.

    Defined in a function so Ray ships it by value to the workers.
    """

    def train(argv: list[str]) -> int:
        import os
        import signal
        import threading
        import time

        from agents.train import main

        if "--resume" in argv:  # a retry continuing an earlier attempt's checkpoint
            run_id = Path(argv[argv.index("--resume") + 1]).parents[2].name
            attempt = "resume"
        else:
            out = Path(argv[argv.index("--out") + 1])
            run_id, attempt = out.parent.name, out.name
        with open(marker_dir / "calls.txt", "a") as f:
            f.write(f"{run_id} {attempt}\n")
        if run_id == ALWAYS_KILLED:
            os.kill(os.getpid(), signal.SIGKILL)
        if run_id == KILLED_MIDWAY and not (marker_dir / "killed").exists():
            (marker_dir / "killed").touch()

            def kill_after_first_checkpoint() -> None:
                while not any(out.glob("*/*/checkpoints/0*")):
                    time.sleep(0.005)
                os.kill(os.getpid(), signal.SIGKILL)

            killer = threading.Thread(target=kill_after_first_checkpoint, daemon=True)
            killer.start()
            main(argv)
            killer.join()  # never returns: the checkpoint exists, the worker dies
        return main(argv)

    return train


def test_tiny_sweep_survives_a_killed_run_and_resumes_without_redoing_finished_runs(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "sweep"
    markers = tmp_path / "markers"
    markers.mkdir()
    config = sweep.SweepConfig.from_dict(TINY)

    # First invocation: one run is killed mid-way and retried (resuming its checkpoint);
    # another dies on both attempts and is reported as failed.
    first = sweep.run_sweep(
        config, out, num_cpus=2, progress=False, train_fn=killing_train(markers)
    )
    records = {r.spec.run_id: r for r in first.records}
    assert not first.ok
    assert [r.spec.run_id for r in first.failed] == [ALWAYS_KILLED]
    failed = records[ALWAYS_KILLED]
    assert failed.attempts == 2
    assert all("WorkerCrashedError" in e for e in failed.errors), failed.errors
    retried = records[KILLED_MIDWAY]
    assert retried.status == sweep.DONE and retried.attempts == 2
    assert "WorkerCrashedError" in retried.errors[0]
    attempt2_log = (out / "runs" / KILLED_MIDWAY / "attempt-2" / "train.log").read_text()
    assert "left by an earlier attempt" in attempt2_log
    assert Path(retried.run_dir).is_relative_to(out / "runs" / KILLED_MIDWAY / "attempt-1")
    report_md = (out / "report.md").read_text()
    assert ALWAYS_KILLED in report_md and "WorkerCrashedError" in report_md
    state = json.loads((out / "state.json").read_text())
    assert state["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 1}

    finished = {
        run_id: (out / r.result).stat().st_mtime_ns
        for run_id, r in records.items()
        if r.status == sweep.DONE
    }
    # Resume through the CLI (plain agents.train): only the failed run is redone.
    assert sweep.main(["--resume", str(out), "--num-cpus", "2", "--no-progress"]) == 0
    final = sweep.SweepState.load(out)
    assert all(r.status == sweep.DONE for r in final.records.values())
    assert final.records[ALWAYS_KILLED].attempts == 3
    for run_id, mtime in finished.items():
        assert (out / final.records[run_id].result).stat().st_mtime_ns == mtime
        assert final.records[run_id].attempts == records[run_id].attempts
    calls = (markers / "calls.txt").read_text().split("\n")
    assert sorted(c for c in calls if c) == sorted(
        [f"{ALWAYS_KILLED} attempt-1", f"{ALWAYS_KILLED} attempt-2"]
        + [f"{run_id} attempt-1" for run_id in records if run_id != ALWAYS_KILLED]
        + [f"{KILLED_MIDWAY} resume"]
    )

    # Every run folder is complete and evaluated; the grouped report compares curricula.
    for record in final.records.values():
        run_dir = Path(record.run_dir)
        for name in ("config.yaml", "model.zip", "command.txt", "versions.json"):
            assert (run_dir / name).is_file(), (record.spec.run_id, name)
        transfer = json.loads((run_dir / "transfer" / "report.json").read_text())
        assert transfer["policy"] == record.spec.run_id
        assert set(transfer["splits"]) == {"train", "heldout-far", "heldout-drag"}
    report = json.loads((out / "report.json").read_text())
    assert report["failures"] == []
    grouped = report["grouped"]["point"]
    assert {g: len(r) for g, r in grouped["runs"].items()} == {
        "curriculum=uniform": 2,
        "curriculum=linear": 2,
    }
    for split in ("train", "heldout-far", "heldout-drag", "heldout (all)"):
        for group in grouped["runs"]:
            iqm = grouped["estimates"][split][group]["IQM"]
            assert iqm["low"] <= iqm["value"] <= iqm["high"]
    assert {i["tasks"] for i in grouped["improvements"]} == {"all splits", "held-out splits"}
    assert all(0.0 <= i["value"] <= 1.0 for i in grouped["improvements"])
    assert (out / "grouped" / "point" / "groups.png").is_file()
