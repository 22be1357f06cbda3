"""Image augmentations for perception training and end-to-end RL, batched on tensors.

Each augmentation *family* is a named, seeded option; a *spec* names one or more of them
(``"colour,shift"``), ``"none"`` or ``"all"``. Families, their parameters (the usual
defaults of the papers that introduced them, declared here before any result was seen)
and their implementation:

* ``colour``: colour jitter of brightness, contrast, saturation (±0.4) and hue (±0.1),
  ``p=0.8`` (SimCLR's jitter at strength 0.5); kornia ``ColorJitter``.
* ``channels``: random permutation of the RGB channels (``p=0.5``), then grayscale
  (``p=0.2``); kornia ``RandomChannelShuffle`` and ``RandomGrayscale``.
* ``randconv``: random convolution (RandConv, Xu et al. 2021): a random ``k x k`` filter
  per image (``k`` in 1, 3, 5; He-normal weights), its output min-max rescaled and mixed
  with the image by ``alpha ~ U(0, 1)``, ``p=0.5``; one grouped ``conv2d`` for the batch
  (kornia has no RandConv).
* ``blur-noise``: Gaussian blur (7x7, sigma in [0.1, 2.0] px, ``p=0.5``, SimCLR's; kornia
  ``RandomGaussianBlur``), then Gaussian pixel noise with a per-image sigma in [0, 0.1]
  (``p=0.5``; ``torch.randn``, since kornia's noise has one sigma per call).
* ``shift``: random shift (DrQ): replicate-pad by 4 px and crop back at a random offset
  (``p=1``); kornia ``RandomCrop``.

``"all"`` applies every family in the order shift, randconv, colour, channels,
blur-noise. Every augmentation keeps the batch's shape and dtype (float32) and its values
in ``[0, 1]``, and is a function of the generator it is given: the same seed gives the
same images (kornia draws from the global torch generator, so each call runs inside
``torch.random.fork_rng`` seeded from the given generator; the global state is left as
it was).

Two places use them: :func:`agents.perception.training.train_on_dataset` (``augment``
in :class:`~agents.perception.training.TrainConfig`) and :class:`AugmentedCNN`, an SB3
features extractor that augments observations while the policy trains (its
``training`` flag, which SB3 sets during gradient updates only, as DrQ/RAD do) so an
end-to-end policy can use the same families.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from torch import nn

__all__ = [
    "FAMILIES",
    "AugmentedCNN",
    "Augmenter",
    "augment_policy_kwargs",
    "parse_spec",
]

#: The augmentation families, in the order ``"all"`` applies them.
FAMILIES = ("shift", "randconv", "colour", "channels", "blur-noise")

RANDCONV_SIZES = (1, 3, 5)
RANDCONV_P = 0.5
NOISE_P = 0.5
NOISE_MAX = 0.1
SHIFT_PAD = 4


def parse_spec(spec: str | Sequence[str]) -> tuple[str, ...]:
    """The families named by ``spec``, in :data:`FAMILIES` order.

    Args:
        spec: ``"none"``, ``"all"``, a comma-separated list of family names, or a sequence
            of names.

    Raises:
        ValueError: An unknown family name (the message lists the valid ones).
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    if names in (["none"], []):
        return ()
    if names == ["all"]:
        return FAMILIES
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(
            f"unknown augmentation {unknown}; valid: 'none', 'all' or a comma-separated "
            f"list of {list(FAMILIES)}"
        )
    return tuple(f for f in FAMILIES if f in names)


def _randconv(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """RandConv on a ``(N, C, H, W)`` batch: one random filter per image, batched."""
    n, c, h, w = x.shape
    k = RANDCONV_SIZES[int(torch.randint(len(RANDCONV_SIZES), (1,), generator=gen))]
    weight = torch.randn(n * c, c, k, k, generator=gen) * (2.0 / (c * k * k)) ** 0.5
    out = nn.functional.conv2d(
        x.reshape(1, n * c, h, w), weight.to(x), padding=k // 2, groups=n
    ).reshape(n, c, h, w)
    low = out.amin(dim=(1, 2, 3), keepdim=True)
    high = out.amax(dim=(1, 2, 3), keepdim=True)
    out = (out - low) / (high - low).clamp_min(1e-6)
    alpha = torch.rand(n, 1, 1, 1, generator=gen).to(x)
    mixed = alpha * x + (1.0 - alpha) * out
    apply = (torch.rand(n, 1, 1, 1, generator=gen) < RANDCONV_P).to(x)
    return apply * mixed + (1.0 - apply) * x


def _noise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    sigma = torch.rand(n, 1, 1, 1, generator=gen) * NOISE_MAX
    sigma = sigma * (torch.rand(n, 1, 1, 1, generator=gen) < NOISE_P)
    return x + torch.randn(x.shape, generator=gen).to(x) * sigma.to(x)


class Augmenter(nn.Module):
    """Applies the families of a spec to float image batches in ``[0, 1]``.

    Args:
        spec: See :func:`parse_spec`.
        image_size: ``(H, W)`` of the images (the shift crops back to it).
    """

    def __init__(self, spec: str | Sequence[str], image_size: tuple[int, int]) -> None:
        super().__init__()
        import kornia.augmentation as K

        self.families = parse_spec(spec)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.kornia = nn.ModuleDict()
        if "shift" in self.families:
            self.kornia["shift"] = K.RandomCrop(
                self.image_size, padding=SHIFT_PAD, padding_mode="replicate"
            )
        if "colour" in self.families:
            self.kornia["colour"] = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
        if "channels" in self.families:
            self.kornia["channels"] = nn.Sequential(
                K.RandomChannelShuffle(p=0.5), K.RandomGrayscale(p=0.2)
            )
        if "blur-noise" in self.families:
            self.kornia["blur"] = K.RandomGaussianBlur((7, 7), (0.1, 2.0), p=0.5)

    def __bool__(self) -> bool:
        return bool(self.families)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augments a ``(N, C, H, W)`` float batch in ``[0, 1]`` (a new tensor).

        Args:
            x: The batch.
            generator: Source of all randomness (a fresh unseeded one when ``None``).
        """
        if not self.families or len(x) == 0:
            return x
        gen = (
            generator
            if generator is not None
            else torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        )
        dtype = x.dtype
        x = x.float()
        for family in self.families:
            if family == "randconv":
                x = _randconv(x, gen)
            elif family == "blur-noise":
                x = self._kornia("blur", x, gen)
                x = _noise(x, gen)
            else:
                x = self._kornia(family, x, gen)
            x = x.clamp(0.0, 1.0)
        return x.to(dtype)

    def _kornia(self, name: str, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(2**62, (1,), generator=gen))
        devices = [x.device.index or 0] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return self.kornia[name](x)

    def extra_repr(self) -> str:
        """The families, in ``print(module)``."""
        return f"families={list(self.families)}"


class AugmentedCNN(BaseFeaturesExtractor):
    """SB3's ``NatureCNN`` that augments its input images while the policy trains.

    SB3 switches the policy to training mode only for gradient updates
    (``policy.set_training_mode(True)`` in ``train()``), so rollouts and evaluation see
    the plain observations and the update sees augmented ones (RAD, Laskin et al. 2020).

    Args:
        observation_space: An image ``Box`` (channels first, as SB3 transposes it).
        features_dim: Output size of the CNN.
        augment: Augmentation spec (see :func:`parse_spec`).
        seed: Seeds the augmentation generator.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        features_dim: int = 512,
        augment: str = "all",
        seed: int = 0,
    ) -> None:
        super().__init__(observation_space, features_dim)
        self.cnn = NatureCNN(observation_space, features_dim)
        shape = observation_space.shape
        self.augmenter = Augmenter(augment, (int(shape[1]), int(shape[2])))
        self.generator = torch.Generator().manual_seed(int(seed))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Features of a batch (augmented in training mode)."""
        if self.training and self.augmenter:
            observations = self.augmenter(observations, self.generator)
        return self.cnn(observations)


def augment_policy_kwargs(augment: str = "all", seed: int = 0) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` for an end-to-end CNN with augmentation (:class:`AugmentedCNN`)."""
    parse_spec(augment)  # fail now, with a clear message
    return {
        "features_extractor_class": AugmentedCNN,
        "features_extractor_kwargs": {"augment": augment, "seed": int(seed)},
    }
