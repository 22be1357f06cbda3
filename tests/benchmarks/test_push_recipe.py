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
    row = "| `sac-0` | sac | 0 | none (train split) | — of 600,000 | 0.82 (50 ep) | passed |"
    assert row in text
    assert "| 0.78 (50 ep) | missed |" in text and "| — | running |" in text
    assert "- `sac-2` (none (train split)) (10 ep each): 25k: 0.00, 50k: 0.90" in text
    data = json.loads((out / "robot-push-recipe.json").read_text())
    assert [r["passes"] for r in data["runs"]] == [True, False, None]


def test_a_folder_that_is_not_a_run_exits_2(tmp_path: Path, capsys) -> None:
    assert push_recipe.main([str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "is not an agents.train run folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
