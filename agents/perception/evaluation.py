"""Per-split error of a trained perception model on freshly rendered frames.

For every split of the env (``train`` and each ``heldout-*``, including the held-out
visual one) frames are rendered with the same collection procedure as the training data,
but a different seed, and the model's per-label MAE, RMSE and R² are reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agents.perception.data import evaluation_configs, render_in_memory
from agents.perception.model import load_model
from agents.perception.training import label_metrics, resolve_device

__all__ = ["evaluate", "format_table"]


def evaluate(
    model_dir: str | os.PathLike,
    env: str | None = None,
    *,
    frames: int = 1_000,
    splits: Sequence[str] | None = None,
    seed: int = 1_000_003,
    workers: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluates a model folder on fresh frames of every split.

    Args:
        model_dir: Trained perception model folder.
        env: Env to render (default: the env the model was trained on).
        frames: Frames per split.
        splits: Splits to evaluate (default: all of the env's).
        seed: Collection seed (default differs from ``collect``'s default of 0).
        workers: Rendering processes.
        env_kwargs: Extra ``envs.make`` kwargs.
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: Show progress bars.

    Returns:
        ``{"env", "model", "frames", "seed", "label_names", "label_units",
        "splits": {split: {label: {"mae", "rmse", "r2"}}}}``.

    Raises:
        ValueError: Bad model folder, env, split or labels that differ from the model's.
    """
    net, meta = load_model(model_dir, device=resolve_device(device))
    results: dict[str, Any] = {}
    configs = evaluation_configs(
        env,
        meta,
        model_dir,
        splits=splits,
        frames=frames,
        seed=seed,
        workers=workers,
        env_kwargs=env_kwargs,
    )
    env = configs[0].env
    for cfg in configs:
        data = render_in_memory(cfg, progress=progress)
        if data.label_names != list(meta["label_names"]):
            raise ValueError(
                f"env {env!r} gives labels {data.label_names} but the model in {model_dir} "
                f"predicts {meta['label_names']}"
            )
        expected = tuple(net.config.in_shape)
        got = data.frames.shape[1:]
        if (got[2], got[0], got[1]) != expected:
            raise ValueError(
                f"env {env!r} renders frames of shape {got} but the model takes {expected} (CHW)"
            )
        pred = net.predict_labels(data.frames)
        results[cfg.split] = label_metrics(pred, data.labels, data.label_names)
    return {
        "env": env,
        "model": str(model_dir),
        "frames": frames,
        "seed": seed,
        "label_names": list(meta["label_names"]),
        "label_units": list(meta["label_units"]),
        "splits": results,
    }


def format_table(report: Mapping[str, Any], metric: str = "mae") -> str:
    """Markdown table: one row per label, one column per split, cells ``metric`` (R²)."""
    splits = list(report["splits"])
    header = "| label | unit | " + " | ".join(f"{s} {metric.upper()} (R²)" for s in splits) + " |"
    lines = [header, "|" + "---|" * (2 + len(splits))]
    for name, unit in zip(report["label_names"], report["label_units"], strict=True):
        cells = []
        for s in splits:
            m = report["splits"][s][name]
            r2 = "n/a" if m["r2"] is None else f"{m['r2']:.3f}"
            cells.append(f"{m[metric]:.4g} ({r2})")
        lines.append(f"| {name} | {unit or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_report(report: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Writes the report as JSON (atomically) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    return path
