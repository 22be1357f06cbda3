"""Perception modules: supervised CNNs on rendered frames, plugged into SB3 policies.

* :mod:`~agents.perception.data` renders labelled datasets from envs that implement the
  perception hooks (``perception_frame()``, ``perception_labels()``,
  ``perception_label_units``);
* :mod:`~agents.perception.model` holds the CNN trunk, the regression heads and the SB3
  features extractor (:func:`extractor_policy_kwargs`);
* :mod:`~agents.perception.training` and :mod:`~agents.perception.evaluation` train a model
  and measure its per-label error on every split (held-out visuals included);
* :mod:`~agents.perception.text` is the text counterpart: a Kim-2014 convolutional NLU
  trained on the dialogue env's user utterances, usable as its ``nlu`` channel;
* ``python -m agents.perception collect|train|eval`` is the command line (frames or text,
  told apart by the dataset's and model's metadata).

Heavy modules (torch, SB3) load on first use, so ``import agents.perception`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CollectConfig",
    "Dataset",
    "ModelConfig",
    "PerceptionExtractor",
    "PerceptionNet",
    "TextConfig",
    "TextNLU",
    "TrainConfig",
    "collect",
    "evaluate",
    "extractor_policy_kwargs",
    "load_dataset",
    "load_model",
    "load_nlu",
    "main",
    "save_model",
    "train",
]

_WHERE = {
    "CollectConfig": "data",
    "Dataset": "data",
    "collect": "data",
    "load_dataset": "data",
    "ModelConfig": "model",
    "PerceptionExtractor": "model",
    "PerceptionNet": "model",
    "extractor_policy_kwargs": "model",
    "load_model": "model",
    "save_model": "model",
    "TextConfig": "text",
    "TextNLU": "text",
    "load_nlu": "text",
    "TrainConfig": "training",
    "train": "training",
    "evaluate": "evaluation",
    "main": "cli",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'agents.perception' has no attribute {name!r}")
    return getattr(importlib.import_module(f"agents.perception.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
