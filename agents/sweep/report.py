"""The sweep report: runs, failures and the grouped rliable report (per env)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agents.sweep.config import SweepConfig
from agents.sweep.state import DONE, FAILED, PENDING, STATE, SweepState
from envs.fileio import atomic_write


def write_report(state: SweepState, config: SweepConfig) -> dict[str, Any]:
    """Writes ``report.md``/``report.json``: runs, failures and the grouped rliable report.

    Groups are the values of :meth:`SweepConfig.grouping`; per env, every group's
    finished runs (seeds) go to :func:`agents.evaluation.aggregate_runs` (IQM, mean,
    median, optimality gap with bootstrap CIs; probability of improvement between
    groups), saved under ``grouped/<env>/``. Failed runs and the failed attempts of
    runs that recovered are listed with their reasons.
    """
    group_by = config.grouping()
    rows, failures, recovered = [], [], []
    for run_id, record in state.records.items():
        result = state.result(run_id)
        rows.append(
            {
                "run_id": run_id,
                "group": record.spec.group(group_by),
                "status": record.status,
                "attempts": record.attempts,
                "duration_s": record.duration_s,
                "run_dir": record.run_dir,
                "scores": result["scores"] if result else {},
            }
        )
        entry = {"run_id": run_id, "status": record.status, "errors": list(record.errors)}
        if record.status != DONE:
            failures.append(entry)
        elif record.errors:
            recovered.append(entry)
    grouped: dict[str, Any] = {}
    tables = []
    for env, groups in transfer_reports(state, config).items():
        try:
            aggregate = aggregate_groups(groups, config.evaluation.bootstrap_reps)
        except ValueError as err:  # e.g. runs evaluated on different splits
            grouped[env] = {"error": str(err)}
            tables.append(f"### {env}\n\nNo grouped report: {err}")
            continue
        aggregate.save(state.out_dir / "grouped" / env)
        grouped[env] = aggregate.to_dict()
        tables.append(f"### {env}\n\n{aggregate.table()}")
    report = {
        "sweep": config.name,
        "out_dir": str(state.out_dir),
        "group_by": list(group_by),
        "counts": state.counts(),
        "runs": rows,
        "failures": failures,
        "recovered": recovered,
        "grouped": grouped,
    }
    atomic_write(state.out_dir / "report.json", json.dumps(report, indent=1, default=str))
    markdown = "\n\n".join(tables) or "No finished runs yet: no grouped report."
    atomic_write(state.out_dir / "report.md", _report_markdown(report, markdown))
    return report


def transfer_reports(state: SweepState, config: SweepConfig) -> dict[str, dict[str, list[Any]]]:
    """The finished runs' transfer reports: env -> group label -> reports (seed order).

    This is what the grouped report aggregates; callers such as benchmarks can pass one
    env's mapping to :func:`agents.evaluation.aggregate_runs` themselves.
    """
    from agents.evaluation import TransferReport

    group_by = config.grouping()
    per_env: dict[str, dict[str, list[Any]]] = {}
    for run_id, record in state.records.items():
        result = state.result(run_id)
        if result is not None:
            report = TransferReport.from_dict(result["transfer"])
            group = per_env.setdefault(record.spec.env, {}).setdefault(
                record.spec.group(group_by), []
            )
            group.append(report)
    return per_env


def aggregate_groups(groups: Mapping[str, Sequence[Any]], reps: int | None = None) -> Any:
    """The evaluator's rliable aggregation of ``{group: [TransferReport, ...]}`` (one env)."""
    from agents.evaluation import aggregate_runs

    if reps is None:
        return aggregate_runs(groups)
    return aggregate_runs(groups, reps=reps, improvement_reps=reps)


def _report_markdown(report: dict[str, Any], grouped_md: str) -> str:
    counts = report["counts"]
    lines = [
        f"# Sweep `{report['sweep']}`",
        "",
        f"{counts[DONE]} done, {counts[FAILED]} failed, {counts[PENDING]} not run; "
        f"groups by {', '.join(report['group_by'])}.",
        "",
        "## Grouped report (rliable, per env; details in grouped/<env>/report.md)",
        "",
        grouped_md,
        "",
        "## Runs",
        "",
        "| run | group | status | attempts | time (s) | scores |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["runs"]:
        duration = "" if row["duration_s"] is None else f"{row['duration_s']:.0f}"
        lines.append(
            f"| {row['run_id']} | {row['group']} | {row['status']} | {row['attempts']} | "
            f"{duration} | {scores_text(row['scores'])} |"
        )
    lines += ["", "## Failures", ""]
    if not report["failures"]:
        lines.append("None.")
    for failure in report["failures"]:
        lines.append(f"- **{failure['run_id']}** ({failure['status']}):")
        for error in failure["errors"] or ["not run yet"]:
            lines.append(f"  - {error.splitlines()[0]}")
    if report["recovered"]:
        lines += ["", "## Failed attempts of runs that then finished", ""]
    for entry in report["recovered"]:
        lines.append(f"- **{entry['run_id']}**:")
        lines += [f"  - {error.splitlines()[0]}" for error in entry["errors"]]
    lines += ["", f"Full reasons (with the end of each train.log) are in {STATE}."]
    return "\n".join(lines) + "\n"


def scores_text(scores: Mapping[str, float]) -> str:
    """``"train 0.93  heldout-far 0.41"``: a run's score per split, on one line."""
    return "  ".join(f"{split} {value:.2f}" for split, value in scores.items())
