"""Supervised training of a :class:`PerceptionNet` on a collected dataset.

Adam on the mean squared error of standardised labels; a validation split by episode
(frames of one episode are never on both sides); ``ReduceLROnPlateau`` on the validation
loss; early stopping that restores the best epoch's weights; per-label MAE and R² in the
labels' units; a loss-curve PNG.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.perception.augment import Augmenter, parse_spec
from agents.perception.data import Dataset, load_dataset
from agents.perception.model import (
    MODEL_FILE,
    PREPROCESS,
    ModelConfig,
    PerceptionNet,
    frames_to_tensor,
    save_model,
)
from envs.config import from_mapping

__all__ = [
    "RECIPE_AUGMENT",
    "RECIPE_PREPROCESS",
    "TrainConfig",
    "label_metrics",
    "resolve_device",
    "train",
    "train_on_dataset",
]

#: The default augmentation and preprocessing of ``agents.perception train``: the recipe
#: chosen by the declared rule of ``benchmarks/perception_transfer.py`` (never on
#: ``heldout-visual``); its numbers are in ``benchmarks/results/perception-transfer.md``.
RECIPE_AUGMENT = "colour"
RECIPE_PREPROCESS = "none"


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of perception training.

    Attributes:
        epochs: Maximum number of passes over the training frames.
        batch_size: Frames per gradient step.
        lr: Adam learning rate (reduced 5x when validation loss plateaus).
        weight_decay: Adam weight decay.
        val_fraction: Fraction of episodes held out for validation.
        patience: Epochs without validation improvement before stopping.
        seed: Seeds the split, the shuffling and the initial weights.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        embed_dim: Trunk embedding size (the extractor's features).
        channels: Conv channels of the trunk.
        augment: Augmentation of training batches on top of the env's own visual
            randomisation: ``"none"``, ``"all"`` or comma-separated families of
            :mod:`agents.perception.augment` (``True``/``False`` mean the default recipe
            and ``"none"``). Default: :data:`RECIPE_AUGMENT`, the recipe the perception
            transfer ablation chose (``benchmarks/results/perception-transfer.md``).
        preprocess: Input preprocessing of the trunk (``none`` or ``frame-norm``, see
            :data:`agents.perception.model.PREPROCESS`). Default: :data:`RECIPE_PREPROCESS`.
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    patience: int = 5
    seed: int = 0
    device: str = "auto"
    embed_dim: int = 256
    channels: tuple[int, ...] = (16, 32, 64, 64)
    augment: str = RECIPE_AUGMENT
    preprocess: str = RECIPE_PREPROCESS

    def __post_init__(self) -> None:
        if isinstance(self.augment, bool):  # the former on/off flag
            object.__setattr__(self, "augment", RECIPE_AUGMENT if self.augment else "none")
        parse_spec(self.augment)
        if self.preprocess not in PREPROCESS:
            raise ValueError(
                f"preprocess must be one of {list(PREPROCESS)}, got {self.preprocess!r}"
            )
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be >= 1")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.weight_decay < float("inf"):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be one of ['auto', 'cpu', 'cuda'], got {self.device!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Builds a config from a plain dict; unknown keys or bad values raise ``ValueError``."""
        return from_mapping(cls, data, what="train config")


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU -> ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use auto or cpu")
    return torch.device(device)


def label_metrics(
    pred: np.ndarray, true: np.ndarray, names: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Per-label MAE, RMSE and R² (``None`` when the label is constant)."""
    out: dict[str, dict[str, float | None]] = {}
    for j, name in enumerate(names):
        err = pred[:, j].astype(np.float64) - true[:, j]
        ss_tot = float(np.sum((true[:, j] - true[:, j].mean()) ** 2))
        r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 1e-12 else None
        out[name] = {
            "mae": float(np.mean(np.abs(err))),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "r2": r2,
        }
    return out


def split_by_episode(
    episodes: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: whole episodes go to validation (frames if only one)."""
    n = len(episodes)
    if val_fraction == 0.0 or n < 2:
        return np.arange(n), np.arange(0)
    ids = np.unique(episodes)
    if len(ids) >= 2:
        n_val = min(len(ids) - 1, max(1, round(val_fraction * len(ids))))
        val_ids = rng.choice(ids, size=n_val, replace=False)
        is_val = np.isin(episodes, val_ids)
    else:
        is_val = np.zeros(n, dtype=bool)
        is_val[rng.choice(n, size=max(1, round(val_fraction * n)), replace=False)] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _loss_on(
    net: PerceptionNet, frames: np.ndarray, y: torch.Tensor, idx: np.ndarray, bs: int
) -> tuple[float, np.ndarray]:
    net.eval()
    device = y.device
    preds, total = [], 0.0
    with torch.no_grad():
        for s in range(0, len(idx), bs):
            b = idx[s : s + bs]
            out = net(frames_to_tensor(frames[b], device))
            total += float(torch.nn.functional.mse_loss(out, y[b], reduction="sum"))
            preds.append(out)
    pred = torch.cat(preds) * net.label_std + net.label_mean
    return total / (len(idx) * y.shape[1]), pred.cpu().numpy()


def train_on_dataset(
    data: Dataset, cfg: TrainConfig, *, progress: bool = True
) -> tuple[PerceptionNet, dict[str, Any]]:
    """Trains a fresh network on ``data``; returns it (best epoch, on CPU) and a report.

    The report has ``history`` (per-epoch train/val loss and learning rate),
    ``val_metrics`` (per-label MAE/RMSE/R² in label units; on the training frames when
    there is no validation split), ``best_epoch``, ``stopped_early`` and sizes.
    """
    device = resolve_device(cfg.device)
    # Seeding stays local: the global torch RNG (CPU, and the GPU used) is restored on exit.
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(cfg.seed)  # weight init and dropout draw from the forked state
        return _train_on_dataset(data, cfg, device, progress=progress)


def _train_on_dataset(
    data: Dataset, cfg: TrainConfig, device: torch.device, *, progress: bool
) -> tuple[PerceptionNet, dict[str, Any]]:
    from tqdm.auto import tqdm

    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_idx, val_idx = split_by_episode(data.episodes, cfg.val_fraction, rng)
    h, w, c = data.frames.shape[1:]
    config = ModelConfig(
        in_shape=(c, h, w),
        n_labels=len(data.label_names),
        channels=tuple(cfg.channels),
        embed_dim=cfg.embed_dim,
        preprocess=cfg.preprocess,
    )
    net = PerceptionNet(config).to(device)
    augmenter = Augmenter(cfg.augment, (h, w))
    mean = data.labels[train_idx].mean(axis=0)
    std = data.labels[train_idx].std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    net.label_mean.copy_(torch.as_tensor(mean))
    net.label_std.copy_(torch.as_tensor(std))
    y = (torch.as_tensor(data.labels, device=device) - net.label_mean) / net.label_std
    optim = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optim, factor=0.2, patience=max(1, cfg.patience // 2)
    )
    monitor = val_idx if len(val_idx) else train_idx
    history: list[dict[str, float]] = []
    best = (float("inf"), 0, {k: v.detach().clone() for k, v in net.state_dict().items()})
    stale = 0
    start = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc="train perception", unit="epoch", disable=not progress)
    for epoch in bar:
        net.train()
        order = rng.permutation(train_idx)
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            b = np.sort(order[s : s + cfg.batch_size])
            x = frames_to_tensor(data.frames[b], device)
            if augmenter:
                x = augmenter(x, gen)
            loss = torch.nn.functional.mse_loss(net(x), y[b])
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            total += loss.item() * len(b)
        train_loss = total / len(order)
        val_loss, _ = _loss_on(net, data.frames, y, monitor, 4 * cfg.batch_size)
        sched.step(val_loss)
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": optim.param_groups[0]["lr"],
            }
        )
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if val_loss < best[0] - 1e-6:
            best = (
                val_loss,
                epoch + 1,
                {k: v.detach().clone() for k, v in net.state_dict().items()},
            )
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    net.load_state_dict(best[2])
    _, pred = _loss_on(net, data.frames, y, monitor, 4 * cfg.batch_size)
    report = {
        "history": history,
        "best_epoch": best[1],
        "best_val_loss": best[0],
        "stopped_early": len(history) < cfg.epochs,
        "train_frames": len(train_idx),
        "val_frames": len(val_idx),
        "val_metrics": label_metrics(pred, data.labels[monitor], data.label_names),
        "train_seconds": round(time.perf_counter() - start, 2),
        "device": str(device),
    }
    return net.cpu().eval(), report


def plot_losses(history: Sequence[Mapping[str, float]], path: str | os.PathLike) -> None:
    """Saves the train/validation loss curves as a PNG (matplotlib imported lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (standardised labels)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("perception training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    data_dirs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    cfg: TrainConfig,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains on dataset folder(s) and writes a model folder; returns its metadata.

    Raises:
        FileExistsError: ``out`` already holds a model and ``overwrite`` is false.
        ValueError: Bad datasets or config.
    """
    out = Path(out)
    if (out / MODEL_FILE).exists() and not overwrite:
        raise FileExistsError(
            f"{out} already holds a perception model; pass --overwrite or choose another --out"
        )
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    data = load_dataset(data_dirs)
    net, report = train_on_dataset(data, cfg, progress=progress)
    info = {
        "env": data.metadata["env"],
        "data_split": data.metadata["split"],
        "data": data.metadata["sources"],
        "label_names": data.label_names,
        "label_units": data.label_units,
        "train_config": {**asdict(cfg), "channels": list(cfg.channels)},
        **{k: v for k, v in report.items() if k != "history"},
    }
    save_model(net, out, info)
    (out / "history.json").write_text(json.dumps(report["history"], indent=2) + "\n")
    plot_losses(report["history"], out / "loss_curve.png")
    return info
