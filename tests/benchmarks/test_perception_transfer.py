"""The perception-transfer benchmark's declared rule, checks and report (no training)."""

from __future__ import annotations

from pathlib import Path

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
    ],
)
def test_bad_arguments_exit_2(argv, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        pt.main([*argv, "--work", str(tmp_path / "w")])
    assert exit_.value.code == 2
    assert not (tmp_path / "w").exists()
