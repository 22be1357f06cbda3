"""practicegym agents: training CLI, hyperparameters, perception and evaluation.

Shipped agents: ``agents.load_pretrained("driving")`` (see :mod:`agents.pretrained`).
"""

from typing import Any

__all__ = ["load_pretrained"]


def __getattr__(name: str) -> Any:
    """``agents.load_pretrained``, imported on first use.

    Importing :mod:`agents.pretrained` eagerly here made ``python -m agents.pretrained``
    warn that the module was already imported (runpy).
    """
    if name == "load_pretrained":
        from agents.pretrained import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
