"""PNG figures of transfer reports (matplotlib's Agg canvas, imported only when plotting).

Each function returns the PNG bytes, so callers write them atomically. Figures are
built with ``matplotlib.figure.Figure`` (no pyplot, no global figure state). The reports
are read through the small protocols below, so this module imports neither
:mod:`~agents.evaluation.report` nor :mod:`~agents.evaluation.aggregate` (they import it).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from agents.evaluation.stats import Estimate

__all__ = ["plot_group_comparison", "plot_train_vs_heldout", "plot_transfer_report"]


class TransferReport(Protocol):
    """What :func:`plot_transfer_report` reads of a :class:`~agents.evaluation.TransferReport`."""

    @property
    def env(self) -> str: ...

    @property
    def policy(self) -> str: ...

    @property
    def splits(self) -> Any: ...

    @property
    def normalised(self) -> bool: ...

    @property
    def episodes(self) -> int: ...

    def summary(self) -> dict[str, dict[str, Estimate]]: ...


class GroupReport(Protocol):
    """What the group figures read of a :class:`~agents.evaluation.GroupReport`."""

    @property
    def env(self) -> str: ...

    @property
    def splits(self) -> list[str]: ...

    @property
    def runs(self) -> Any: ...

    @property
    def score_kind(self) -> str: ...

    @property
    def estimates(self) -> Any: ...

    def run_means(self) -> dict[str, dict[str, Any]]: ...


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _errors(estimates: Sequence[Estimate]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([e.value for e in estimates], dtype=float)
    lows = np.array([e.low if math.isfinite(e.low) else e.value for e in estimates])
    highs = np.array([e.high if math.isfinite(e.high) else e.value for e in estimates])
    err = np.stack([values - lows, highs - values])
    return values, np.nan_to_num(np.clip(err, 0, None))


def _bars(ax: Any, labels: Sequence[str], estimates: Sequence[Estimate], title: str) -> None:
    values, err = _errors(estimates)
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(values), yerr=err, capsize=4, color="tab:blue", alpha=0.8)
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)


def plot_transfer_report(report: TransferReport) -> bytes:
    """Per-split score and success rate with 95% CIs."""
    summary = report.summary()
    splits = list(report.splits)
    fig = _figure(9, 3.6)
    left, right = fig.subplots(1, 2)
    kind = "normalised" if report.normalised else "return"
    _bars(left, splits, [summary[s][kind] for s in splits], f"{kind} score")
    if report.normalised:
        left.axhline(1.0, color="tab:green", ls="--", lw=1, label="expert")
        left.axhline(0.0, color="tab:red", ls="--", lw=1, label="random")
        left.legend(loc="best", fontsize=8)
    _bars(right, splits, [summary[s]["success"] for s in splits], "success rate")
    right.set_ylim(0, 1.05)
    fig.suptitle(f"{report.policy} on {report.env} ({report.episodes} episodes per split)")
    return _png(fig)


def plot_group_comparison(group: GroupReport) -> bytes:
    """IQM and optimality gap per split, one bar per group, with bootstrap CIs."""
    splits = group.splits
    groups = list(group.runs)
    metrics = ["IQM"] + (["optimality gap"] if group.score_kind == "normalised" else ["mean"])
    fig = _figure(5 + 1.2 * len(splits), 4.2)
    axes = fig.subplots(1, len(metrics))
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(splits))
    for ax, metric in zip(axes, metrics, strict=True):
        for k, g in enumerate(groups):
            values, err = _errors([group.estimates[s][g][metric] for s in splits])
            ax.bar(
                x + (k - (len(groups) - 1) / 2) * width,
                np.nan_to_num(values),
                width,
                yerr=err,
                capsize=3,
                label=g,
            )
        ax.set_xticks(x, splits, rotation=20, ha="right")
        ax.set_title(f"{metric} ({group.score_kind} score)")
        ax.grid(axis="y", alpha=0.3)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=min(len(groups), 5),
        fontsize=8,
    )
    fig.suptitle(f"{group.env}: groups compared (95% stratified-bootstrap CIs)")
    return _png(fig)


def plot_train_vs_heldout(group: GroupReport) -> bytes:
    """Each run's mean train score against its mean score on each held-out split."""
    means = group.run_means()
    heldout = [s for s in group.splits if s != "train"]
    markers = "osD^v<>ph*"
    fig = _figure(5.5, 5)
    ax = fig.subplots()
    colours = [f"C{i}" for i in range(len(means))]
    values = []
    for colour, (g, per_split) in zip(colours, means.items(), strict=True):
        for m, s in enumerate(heldout):
            ax.scatter(
                per_split["train"],
                per_split[s],
                color=colour,
                marker=markers[m % 10],
                label=f"{g} / {s}",
            )
            values += [*per_split["train"], *per_split[s]]
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", ls="--", lw=1)
    ax.set_xlabel(f"train ({group.score_kind} score)")
    ax.set_ylabel(f"held-out ({group.score_kind} score)")
    ax.set_title("train vs held-out, one point per run (diagonal: full transfer)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)
