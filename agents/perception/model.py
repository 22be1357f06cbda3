"""Perception networks: a CNN trunk, regression heads, and the SB3 features extractor.

The :class:`CNNTrunk` maps an image (``float`` in ``[0, 1]``, channels first) to an
embedding. :class:`PerceptionNet` adds regression heads predicting the env's privileged
labels (standardised; :meth:`PerceptionNet.predict_labels` returns them in their units).
:class:`PerceptionExtractor` is an SB3 ``BaseFeaturesExtractor`` that loads a trained
trunk so a policy sees pretrained features (frozen unless fine-tuned).

A saved model is a folder::

    MODEL_DIR/
      model.json    format, architecture, label names/units/mean/std, training metrics
      weights.pt    the PerceptionNet state_dict (loaded with torch.load(weights_only=True))
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from envs.config import from_mapping

__all__ = [
    "MODEL_FORMAT",
    "PREPROCESS",
    "CNNTrunk",
    "ModelConfig",
    "PerceptionExtractor",
    "PerceptionNet",
    "extractor_policy_kwargs",
    "frame_norm",
    "load_model",
    "save_model",
]

MODEL_FORMAT = "practicegym-perception-model/1"
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
FEATURE_MODES = ("embedding", "labels", "both")
#: Input preprocessing of the trunk: ``none`` (pixels in [0, 1]) or ``frame-norm``
#: (each image's channels standardised to zero mean and unit variance: the trunk sees
#: structure, not the overall brightness, contrast or tint of the frame).
PREPROCESS = ("none", "frame-norm")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`PerceptionNet`.

    Attributes:
        in_shape: Input image shape, channels first ``(C, H, W)``.
        n_labels: Number of regression outputs.
        channels: Output channels of each conv layer (first 5x5, the rest 3x3; all
            stride 2, padded, so any image size works).
        embed_dim: Size of the trunk's embedding (the extractor's features).
        head_hidden: Hidden units of the regression head.
        preprocess: Input preprocessing, one of :data:`PREPROCESS` (part of the model, so
            the SB3 extractor applies it too).
    """

    in_shape: tuple[int, int, int]
    n_labels: int
    channels: tuple[int, ...] = (16, 32, 64, 64)
    embed_dim: int = 256
    head_hidden: int = 128
    preprocess: str = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", tuple(int(v) for v in self.in_shape))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        if len(self.in_shape) != 3 or min(self.in_shape) < 1:
            raise ValueError(f"in_shape must be (C, H, W) with positive sizes, got {self.in_shape}")
        if self.n_labels < 1 or self.embed_dim < 1 or self.head_hidden < 1 or not self.channels:
            raise ValueError(
                f"n_labels, embed_dim, head_hidden and channels must be positive: {self}"
            )
        if self.preprocess not in PREPROCESS:
            raise ValueError(
                f"preprocess must be one of {list(PREPROCESS)}, got {self.preprocess!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Builds a config from a plain dict; unknown keys or bad values raise ``ValueError``."""
        return from_mapping(cls, data, what="model config")


class CNNTrunk(nn.Module):
    """Conv layers + a linear embedding; input ``(N, C, H, W)`` floats in ``[0, 1]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.preprocess = config.preprocess
        layers: list[nn.Module] = []
        in_ch = config.in_shape[0]
        for i, out_ch in enumerate(config.channels):
            k = 5 if i == 0 else 3
            layers += [nn.Conv2d(in_ch, out_ch, k, stride=2, padding=k // 2), nn.ReLU()]
            in_ch = out_ch
        layers.append(nn.Flatten())
        self.cnn = nn.Sequential(*layers)
        with torch.no_grad():  # flatten size by a dry forward pass (SB3's NatureCNN habit)
            n_flatten = self.cnn(torch.zeros(1, *config.in_shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flatten, config.embed_dim), nn.ReLU())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embeds a batch of images."""
        if self.preprocess == "frame-norm":
            images = frame_norm(images)
        return self.linear(self.cnn(images))


def frame_norm(images: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """Standardises each image's channels (zero mean, unit variance over its pixels)."""
    mean = images.mean(dim=(2, 3), keepdim=True)
    std = images.std(dim=(2, 3), keepdim=True)
    return (images - mean) / (std + eps)


class PerceptionNet(nn.Module):
    """CNN trunk + regression head predicting standardised labels.

    Buffers ``label_mean``/``label_std`` hold the standardisation, so a state_dict is
    self-contained.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = CNNTrunk(config)
        self.head = nn.Sequential(
            nn.Linear(config.embed_dim, config.head_hidden),
            nn.ReLU(),
            nn.Linear(config.head_hidden, config.n_labels),
        )
        self.register_buffer("label_mean", torch.zeros(config.n_labels))
        self.register_buffer("label_std", torch.ones(config.n_labels))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Standardised label predictions for ``(N, C, H, W)`` images in ``[0, 1]``."""
        return self.head(self.trunk(images))

    @torch.no_grad()
    def predict_labels(self, frames: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Labels in their units for ``uint8`` frames ``(N, H, W, C)``."""
        self.eval()
        device = self.label_mean.device
        out = []
        for start in range(0, len(frames), batch_size):
            x = frames_to_tensor(frames[start : start + batch_size], device)
            out.append(self(x) * self.label_std + self.label_mean)
        if not out:
            return np.zeros((0, self.config.n_labels), dtype=np.float32)
        return torch.cat(out).cpu().numpy()


def frames_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``uint8 (N, H, W, C)`` frames -> ``float (N, C, H, W)`` in ``[0, 1]`` (as SB3 does)."""
    x = torch.as_tensor(np.ascontiguousarray(frames), device=device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


# ---------------------------------------------------------------- save/load


def save_model(net: PerceptionNet, out_dir: str | os.PathLike, info: Mapping[str, Any]) -> Path:
    """Writes ``weights.pt`` (state_dict) and ``model.json`` into ``out_dir``.

    Args:
        net: The trained network.
        out_dir: Folder to write (created if needed).
        info: Extra JSON-serialisable metadata (label names/units, env, metrics, ...).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    torch.save(state, out / (WEIGHTS_FILE + ".tmp"))
    os.replace(out / (WEIGHTS_FILE + ".tmp"), out / WEIGHTS_FILE)
    meta = {
        **dict(info),
        "format": MODEL_FORMAT,
        "config": {**asdict(net.config), "in_shape": list(net.config.in_shape)},
        "label_mean": net.label_mean.cpu().tolist(),
        "label_std": net.label_std.cpu().tolist(),
    }
    (out / (MODEL_FILE + ".tmp")).write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(out / (MODEL_FILE + ".tmp"), out / MODEL_FILE)
    return out


def read_model_metadata(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Reads and checks ``model.json`` of a model folder.

    Raises:
        ValueError: The folder is missing, is not a perception model, or its JSON is bad.
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ValueError(f"perception model folder {path} does not exist")
    meta_path = path / MODEL_FILE
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a perception model folder (no {MODEL_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} is corrupt (not valid JSON: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"{meta_path}: format must be {MODEL_FORMAT!r}")
    missing = [k for k in ("config", "label_names", "label_units") if k not in meta]
    if missing:
        raise ValueError(f"{meta_path} lacks keys {missing}")
    if not isinstance(meta["config"], dict):
        raise ValueError(f"{meta_path}: 'config' must be a mapping")
    return meta


def load_model(
    model_dir: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[PerceptionNet, dict[str, Any]]:
    """Loads a saved model folder; returns ``(net, metadata)`` with ``net`` in eval mode.

    Weights are read with ``torch.load(weights_only=True)`` (no pickled code runs).

    Raises:
        ValueError: Missing, corrupt or mismatched files; the message names the file.
    """
    meta = read_model_metadata(model_dir)
    config = ModelConfig.from_dict(meta["config"])
    if len(meta["label_names"]) != config.n_labels:
        raise ValueError(
            f"{Path(model_dir) / MODEL_FILE}: {len(meta['label_names'])} label names but "
            f"n_labels={config.n_labels}"
        )
    weights = Path(model_dir) / WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"{model_dir} has {MODEL_FILE} but no {WEIGHTS_FILE}")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise ValueError(f"{weights} is corrupt or not a state_dict: {_one_line(err)}") from None
    if not isinstance(state, dict):
        raise ValueError(f"{weights} holds a {type(state).__name__}, not a state_dict")
    net = PerceptionNet(config)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            f"{weights} does not match the architecture in {MODEL_FILE}: {_one_line(err)}"
        ) from None
    return net.to(device).eval(), meta


def _one_line(err: BaseException) -> str:
    """The first informative line of a (often multi-line) torch error."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    detail = next((line for line in lines[1:] if "size mismatch" in line or "Missing" in line), "")
    return f"{lines[0]} {detail}".strip()


# ------------------------------------------------------------ SB3 extractor


class PerceptionExtractor(BaseFeaturesExtractor):
    """SB3 features extractor built on a pretrained perception trunk.

    Works with an image ``Box`` observation (channels first, as SB3's
    ``VecTransposeImage`` delivers, or channels last) and with a ``Dict`` observation
    holding one such image plus vectors (e.g. ``context="visible"``): vectors are
    flattened and concatenated to the image features, like SB3's ``CombinedExtractor``.
    Images must arrive as floats in ``[0, 1]``, which is what SB3 feeds when the space is
    a ``uint8`` image and ``normalize_images=True`` (its default).

    Args:
        observation_space: The policy's observation space.
        model_dir: Folder of a trained perception model.
        finetune: Train the trunk with the policy (default: frozen).
        features: ``"embedding"`` (trunk output), ``"labels"`` (standardised predicted
            labels: the policy sees only the perception interface) or ``"both"``.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        model_dir: str,
        finetune: bool = False,
        features: str = "embedding",
    ) -> None:
        if features not in FEATURE_MODES:
            raise ValueError(f"features must be one of {list(FEATURE_MODES)}, got {features!r}")
        net, meta = load_model(model_dir)
        config = net.config
        image_key, image_space, vector_keys = _find_image(observation_space, config, model_dir)
        n_image = {
            "embedding": config.embed_dim,
            "labels": config.n_labels,
            "both": config.embed_dim + config.n_labels,
        }[features]
        n_vector = sum(get_flattened_obs_dim(observation_space[k]) for k in vector_keys)
        super().__init__(observation_space, features_dim=n_image + n_vector)
        self.trunk = net.trunk
        self.head = net.head if features != "embedding" else None
        self.features = features
        self.finetune = finetune
        self.image_key = image_key
        self.vector_keys = vector_keys
        self.channels_last = tuple(image_space.shape) != config.in_shape
        self.label_names = list(meta["label_names"])
        if not finetune:
            for module in (self.trunk, self.head):
                if module is not None:
                    module.requires_grad_(False)

    def apply(self, fn: Any) -> PerceptionExtractor:
        """Applies ``fn`` to this module but not to the pretrained trunk and head.

        SB3's ``ActorCriticPolicy`` re-initialises its features extractor with
        ``extractor.apply(init_weights)`` (orthogonal init), which would erase the
        pretrained weights; they are protected here.
        """
        fn(self)
        return self

    def forward(self, observations: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """Features for a batch of observations."""
        images = observations if self.image_key is None else observations[self.image_key]
        if self.channels_last:
            images = images.permute(0, 3, 1, 2)
        embedding = self.trunk(images.float())
        if self.features == "embedding":
            parts = [embedding]
        else:
            assert self.head is not None
            labels = self.head(embedding)
            parts = [labels] if self.features == "labels" else [embedding, labels]
        parts += [observations[k].flatten(1).float() for k in self.vector_keys]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


def _find_image(
    space: spaces.Space, config: ModelConfig, model_dir: str
) -> tuple[str | None, spaces.Box, list[str]]:
    c, h, w = config.in_shape
    shapes = {(c, h, w), (h, w, c)}

    def fits(sub: spaces.Space) -> bool:
        return isinstance(sub, spaces.Box) and tuple(sub.shape) in shapes

    if isinstance(space, spaces.Dict):
        keys = [k for k, sub in space.spaces.items() if fits(sub)]
        if len(keys) != 1:
            found = {k: getattr(sub, "shape", None) for k, sub in space.spaces.items()}
            raise ValueError(
                f"observation Dict must hold exactly one image of shape {(c, h, w)} or "
                f"{(h, w, c)} for the perception model in {model_dir}; found {found}"
            )
        vectors = [k for k in space.spaces if k != keys[0]]
        return keys[0], space[keys[0]], vectors
    if fits(space):
        return None, space, []
    raise ValueError(
        f"observation space {space} does not fit the perception model in {model_dir}, "
        f"which takes images of shape {(c, h, w)} (channels first) or {(h, w, c)}"
    )


def extractor_policy_kwargs(
    model_dir: str | os.PathLike, finetune: bool = False, *, features: str = "embedding"
) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` entries that put a pretrained perception trunk in a policy.

    Example: ``PPO("CnnPolicy", env, policy_kwargs=extractor_policy_kwargs("models/p"))``.

    Args:
        model_dir: Folder of a trained perception model.
        finetune: Train the trunk with the policy (default: frozen).
        features: ``"embedding"``, ``"labels"`` or ``"both"`` (see
            :class:`PerceptionExtractor`).

    Raises:
        ValueError: The folder is missing, corrupt or mismatched, or ``features`` is bad.
    """
    if features not in FEATURE_MODES:
        raise ValueError(f"features must be one of {list(FEATURE_MODES)}, got {features!r}")
    load_model(model_dir)  # fail now, with a clear message, rather than inside SB3
    return {
        "features_extractor_class": PerceptionExtractor,
        "features_extractor_kwargs": {
            "model_dir": str(Path(model_dir).resolve()),
            "finetune": bool(finetune),
            "features": features,
        },
    }
