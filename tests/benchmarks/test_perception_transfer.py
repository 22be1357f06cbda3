"""The perception-transfer benchmark: declared rule, checks, report; the robot part, tiny."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import perception_transfer as pt

LABELS = ["lateral_offset", "left_lane_occupied", "right_lane_occupied"]


def _run(config: str, seed: int, scale: dict[str, float]) -> dict:
    def metrics(factor: float) -> dict:
        return {
            lab: {"mae": factor * (j + 1), "rmse": 1.0, "r2": 0.5} for j, lab in enumerate(LABELS)
        }

    return {
        "config": config,
        "seed": seed,
        "train_seconds": 1.0,
        "eval": {split: metrics(f) for split, f in scale.items()},
    }


def _runs(selection: dict[str, float]) -> list[dict]:
    runs = []
    for seed in (0, 1):
        for name in [*pt.CONFIGS, pt.CEILING]:
            scale = {"train": 0.1, "heldout-visual": 1.0, "selection": selection.get(name, 1.0)}
            if name == "all":
                scale["heldout-visual"] = 0.4
            if name == pt.CEILING:
                scale["heldout-visual"] = 0.2
            runs.append(_run(name, seed, scale))
    return runs


def test_selection_uses_only_the_selection_set_and_breaks_ties_in_order():
    chosen, scores = pt.select_recipe(_runs({"all": 0.5, "shift": 0.6}))
    assert chosen == "all" and scores["none"] == pytest.approx(1.0)
    # within 0.02 of the best: the configuration listed first wins
    chosen, _ = pt.select_recipe(_runs({"all": 0.5, "shift": 0.51}))
    assert chosen == "shift"
    # the ceiling never takes part; incomplete ablations choose nothing
    runs = [r for r in _runs({}) if r["config"] != "channels"]
    assert pt.select_recipe(runs) == (None, {})
    assert pt.CEILING not in pt.select_recipe(_runs({}))[1]


def test_targets_and_gap_to_the_ceiling():
    summary = pt.ablation_summary(_runs({"all": 0.5}))
    checks = pt.targets(summary, "all")
    assert checks["lateral_ratio_heldout_over_train"] == pytest.approx(4.0)
    assert not checks["lateral_ratio_met"]
    assert checks["gap_closed_vs_ceiling"]["lateral_offset"] == pytest.approx(0.75)
    assert checks["gap_closed_all_ge_0.7"]


def test_report_markdown_has_both_splits_and_the_rule():
    runs = _runs({"all": 0.5})
    summary = pt.ablation_summary(runs)
    chosen, scores = pt.select_recipe(runs)
    text = pt._markdown(
        {
            "ablation": summary,
            "budget": {},
            "policy_budget": {},
            "selection_rule": pt.SELECTION_RULE,
            "selection_scores": scores,
            "chosen": chosen,
            "targets": pt.targets(summary, chosen),
            "policy": None,
            "policy_trunk": None,
            "datasets": {},
        }
    )
    assert "### train" in text and "### heldout-visual" in text and "**(chosen)**" in text
    assert "Not run." in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--part", "nope"],
        ["--part", "ablation", "--workers", "0"],
        ["--part", "policy", "--seeds", "-1"],
        ["--part", "robot", "--workers", "0"],
    ],
)
def test_bad_arguments_exit_2(argv, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        pt.main([*argv, "--work", str(tmp_path / "w")])
    assert exit_.value.code == 2
    assert not (tmp_path / "w").exists()


ROBOT_LABELS = [f"{p}_{a}" for p in ("object", "target", "ee") for a in "xyz"]


def test_robot_part_runs_skips_finished_runs_and_reports_beside_driving(tmp_path: Path, capsys):
    """The robot part at a tiny budget: renders, trains, evaluates, skips, reports."""
    from benchmarks import report

    budget = pt.RobotBudget(frames=24, epochs=1, batch_size=8, seeds=(0,), eval_frames=12)
    work = tmp_path / "w"
    pt.run_robot(work, 1, budget=budget)
    robot = work / "robot"
    runs = pt.load_runs(robot)
    assert {r["config"] for r in runs} == {*pt.ROBOT_CONFIGS, pt.CEILING}
    for r in runs:
        assert set(r["eval"]) == {"train", "heldout-visual", "selection"}
        assert list(r["eval"]["heldout-visual"]) == ROBOT_LABELS
        assert all(m["mae"] >= 0 for m in r["eval"]["train"].values())
    meta = json.loads((robot / "eval" / "selection" / "metadata.json").read_text())
    assert (meta["env"], meta["split"], meta["randomise"]) == ("robot-push", "train", "visual")
    ceiling = json.loads((robot / "data" / "heldout-visual" / "metadata.json").read_text())
    assert ceiling["split"] == "heldout-visual" and not (robot / "data" / "randomised").exists()
    # a second call finds every run finished and trains nothing
    stamps = {p: p.stat().st_mtime_ns for p in (robot / "runs").glob("*.json")}
    capsys.readouterr()
    pt.run_robot(work, 1, budget=budget)
    assert "0 trainings to do" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (robot / "runs").glob("*.json")} == stamps
    assert len(json.loads((robot / "cpu.json").read_text())) == 2

    # No driving runs under this --work: the driving results already written stay as they
    # are, a stale robot section is replaced, and writing twice changes nothing.
    results = tmp_path / "results"
    driving = "DRIVING TABLE 0.328 ± 0.03\n\n| none | 1.48 |"
    report.write(
        "perception-transfer",
        {"chosen": "colour", "budget": {"seeds": [0, 1, 2]}},
        f"{driving}\n\n{pt._ROBOT_HEADING} (stale)\n\nold numbers",
        results,
    )
    old_date = json.loads((results / "perception-transfer.json").read_text())["date"]
    pt.write_report(work, out=results)
    first = (results / "perception-transfer.md").read_text()
    pt.write_report(work, out=results)
    md = (results / "perception-transfer.md").read_text()
    payload = json.loads((results / "perception-transfer.json").read_text())
    assert md.split("\n\n", 2)[2] == first.split("\n\n", 2)[2]
    assert f"{driving}\n\n{pt._ROBOT_HEADING} (robot-push)" in md
    assert "old numbers" not in md and md.count(pt._CARRIED_NOTE) == 1
    assert payload["chosen"] == "colour" and payload["budget"] == {"seeds": [0, 1, 2]}
    assert payload["driving_measured"]["date"] == old_date
    rob = payload["robot"]
    assert rob["chosen"] in pt.ROBOT_CONFIGS
    assert set(rob["selection_scores"]) == set(pt.ROBOT_CONFIGS)
    assert set(rob["targets"]["labels"]) == set(ROBOT_LABELS)
    assert set(rob["label_stats"]["eval/heldout-visual"]) == set(ROBOT_LABELS)
    assert "### heldout-visual" in md and f"| {pt.CEILING} | 1 |" in md
    assert (results / "perception-transfer-robot-frames.png").is_file()


def test_robot_targets_pass_a_label_on_either_criterion():
    runs = []
    for name in [*pt.ROBOT_CONFIGS, pt.CEILING]:
        held = {"none": 1.0, "colour": 0.3, pt.CEILING: 0.2}.get(name, 0.9)
        runs.append(_run(name, 0, {"train": 0.1, "heldout-visual": held, "selection": 1.0}))
    summary = pt.ablation_summary(runs)
    checks = pt.robot_targets(summary, "colour")["labels"]["lateral_offset"]
    assert checks["ratio_heldout_over_train"] == pytest.approx(3.0) and not checks["ratio_met"]
    assert checks["gap_closed_vs_ceiling"] == pytest.approx(0.875) and checks["met"]
    assert not pt.robot_targets(summary, "shift")["met_all"]  # 0.9: ratio 9, gap 12.5%


def _fake_report(path: Path, success: dict[str, float]) -> None:
    from agents.evaluation.report import SplitResult, TransferReport

    splits = {}
    for split, rate in success.items():
        wins = np.arange(10) < round(10 * rate)
        splits[split] = SplitResult(
            split, list(range(10)), [{}] * 10, wins * 10.0, np.full(10, 5), wins,
            random_returns=np.zeros(10), expert_returns=np.full(10, 10.0),
        )  # fmt: skip
    TransferReport("driving", {}, "PPO", 0, splits).save(path)


def test_rad_part_runs_both_groups_and_reports_augmented_against_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_run(work, group, seed, model, augment=None):
        calls.append((group, seed, model, augment))
        better = group.endswith("+augment")
        folder = work / "ppo" / f"{group}-s{seed}" / "driving" / "ppo-x" / "eval"
        _fake_report(folder, {"train": 0.9, "heldout-visual": 0.6 if better else 0.2})

    monkeypatch.setattr(pt, "_policy_run", fake_run)
    pt.run_rad(tmp_path, seeds=(0, 1))
    assert calls == [
        ("end-to-end", 0, None, None), ("end-to-end+augment", 0, None, "colour"),
        ("end-to-end", 1, None, None), ("end-to-end+augment", 1, None, "colour"),
    ]  # fmt: skip
    monkeypatch.setattr(pt, "POLICY", pt.PolicyBudget(seeds=(0, 1)))
    path = pt.write_rad_report(tmp_path, out=tmp_path / "results")
    text = path.read_text() if path.suffix == ".md" else path.with_suffix(".md").read_text()
    assert "| heldout-visual | 0.20 (0.20, 0.20) | 0.60 (0.60, 0.60) |" in text
    data = json.loads((tmp_path / "results" / "perception-rad.json").read_text())
    # 0.6 x 0.8 wins + half of the 0.6 x 0.2 + 0.4 x 0.8 ties
    assert data["summary"]["p_augment_beats_plain_heldout-visual"]["point"] == pytest.approx(0.7)
    assert data["summary"]["p_augment_beats_plain_train"]["point"] == 0.5
