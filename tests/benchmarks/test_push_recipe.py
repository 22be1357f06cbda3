"""The robot-push recipe report: curves, final verdicts and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from benchmarks import push_recipe


def _run(root: Path, seed: int, final: list[bool] | None) -> Path:
    run_dir = root / f"sac-{seed}"
    (run_dir / "eval").mkdir(parents=True)
    config = {"algo": "sac", "seed": seed, "timesteps": 600_000, "curriculum": None}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    successes = np.array([[0.0] * 10, [1.0] * 9 + [0.0]])
    np.savez(run_dir / "eval" / "evaluations.npz", timesteps=[25_000, 50_000], successes=successes)
    if final is not None:
        report = {"splits": {"train": {"successes": final}}}
        (run_dir / "eval" / "report.json").write_text(json.dumps(report))
    return run_dir


def test_report_shows_curves_and_judges_finished_runs(tmp_path: Path) -> None:
    done = _run(tmp_path, 0, [True] * 41 + [False] * 9)
    missed = _run(tmp_path, 1, [True] * 39 + [False] * 11)
    running = _run(tmp_path, 2, None)
    out = tmp_path / "results"
    assert push_recipe.main([str(done), str(missed), str(running), "--out", str(out)]) == 0
    text = (out / "robot-push-recipe.md").read_text()
    row = "| `sac-0` | sac | 0 | none (train split) | — of 600,000 | 0.82 at 600k (50 ep) |"
    assert row + " passed at 600,000 |" in text
    assert "| 0.78 at 600k (50 ep) | missed at 600,000 |" in text and "| — | running |" in text
    assert "- `sac-2` (none (train split)) (10 ep each): 25k: 0.00, 50k: 0.90" in text
    data = json.loads((out / "robot-push-recipe.json").read_text())
    assert [r["verdict"] for r in data["runs"]] == [
        "passed at 600,000",
        "missed at 600,000",
        "running",
    ]


def test_the_sweeps_evaluation_is_preferred_and_short_ones_do_not_judge(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, 0, [True])  # agents.train's own final: 1 episode
    out = tmp_path / "results"
    assert push_recipe.main([str(run_dir), "--out", str(out)]) == 0
    (run,) = json.loads((out / "robot-push-recipe.json").read_text())["runs"]
    assert run["finals"][0]["episodes"] == 1 and run["verdict"] == "running"
    (run_dir / "transfer").mkdir()
    report = {"splits": {"train": {"successes": [True] * 20 + [False] * 30}}}
    (run_dir / "transfer" / "report.json").write_text(json.dumps(report))
    assert push_recipe.main([str(run_dir), "--out", str(tmp_path / "fresh")]) == 0
    (run,) = json.loads((tmp_path / "fresh" / "robot-push-recipe.json").read_text())["runs"]
    assert run["finals"] == [{"steps": 600_000, "episodes": 50, "success": 0.4}]
    assert run["verdict"] == "missed at 600,000"


def test_an_extended_run_keeps_its_earlier_points_and_final_evaluations(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, 0, [True] * 30 + [False] * 20)
    out = tmp_path / "results"
    assert push_recipe.main([str(run_dir), "--out", str(out)]) == 0
    # Extended to 800k by a resume whose evaluations file lost the earlier points.
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    (run_dir / "config.yaml").write_text(yaml.safe_dump({**config, "timesteps": 800_000}))
    np.savez(run_dir / "eval" / "evaluations.npz", timesteps=[775_000], successes=np.ones((1, 10)))
    report = {"splits": {"train": {"successes": [True] * 45 + [False] * 5}}}
    (run_dir / "eval" / "report.json").write_text(json.dumps(report))
    assert push_recipe.main([str(run_dir), "--out", str(out)]) == 0
    (run,) = json.loads((out / "robot-push-recipe.json").read_text())["runs"]
    assert [t for t, _, _ in run["curve"]] == [25_000, 50_000, 775_000]
    assert [(f["steps"], f["success"]) for f in run["finals"]] == [(600_000, 0.6), (800_000, 0.9)]
    assert run["verdict"] == "passed at 800,000"
    assert (
        "0.60 at 600k (50 ep); 0.90 at 800k (50 ep) | passed at 800,000 |"
        in (out / "robot-push-recipe.md").read_text()
    )


def test_runs_not_named_again_stay_in_the_record_and_lost_ones_say_so(tmp_path: Path) -> None:
    import shutil

    judged = _run(tmp_path, 0, [True] * 40 + [False] * 10)
    unjudged = _run(tmp_path, 1, None)
    out = tmp_path / "results"
    assert push_recipe.main([str(judged), str(unjudged), "--out", str(out)]) == 0
    shutil.rmtree(judged)  # their machine was given back
    shutil.rmtree(unjudged)
    new = _run(tmp_path, 2, None)
    assert push_recipe.main([str(new), "--out", str(out)]) == 0
    runs = json.loads((out / "robot-push-recipe.json").read_text())["runs"]
    assert [(Path(r["run"]).name, r["verdict"]) for r in runs] == [
        ("sac-0", "passed at 600,000"),
        ("sac-1", "lost (folder gone, never judged)"),
        ("sac-2", "running"),
    ]
    assert [r["lost"] for r in runs[:2]] == [True, True] and "lost" not in runs[2]
    assert "| lost (folder gone, never judged) |" in (out / "robot-push-recipe.md").read_text()


def test_a_narrow_run_is_not_judged_against_the_train_split_bar(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, 0, [True] * 45 + [False] * 5)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump({**config, "curriculum": {"name": "narrow"}})
    )
    out = tmp_path / "results"
    assert push_recipe.main([str(run_dir), "--out", str(out)]) == 0
    (run,) = json.loads((out / "robot-push-recipe.json").read_text())["runs"]
    assert run["verdict"] == "not judged (narrow practises one corner)"
    assert "| 0.90 at 600k (50 ep) | not judged" in (out / "robot-push-recipe.md").read_text()


def test_a_narrow_run_lost_before_its_final_evaluation_reads_lost() -> None:
    lost = {"curriculum": "narrow", "finals": [], "lost": True}
    assert push_recipe.verdict(lost) == "lost (folder gone, never judged)"
    assert push_recipe.verdict({**lost, "lost": False}).startswith("not judged")


def test_a_folder_that_is_not_a_run_exits_2(tmp_path: Path, capsys) -> None:
    assert push_recipe.main([str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "is not an agents.train run folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_training_curve_buckets_the_episodes_of_every_session_in_order(tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    monitor.mkdir()
    header = "r,l,t,is_success\n"
    # Session 1 (started later, named first) continues after session 0's 3 episodes.
    (monitor / "a-0.monitor.csv").write_text('#{"t_start": 20}\n' + header + "0,50,1,True\n")
    rows = "0,50,1,False\n0,30,2,True\n0,20,3,False\n"
    (monitor / "b-0.monitor.csv").write_text('#{"t_start": 10}\n' + header + rows)
    curve = push_recipe.training_curve(tmp_path, bucket=80)
    assert curve == [[80, 0.5, 2], [150, 0.5, 2]]
