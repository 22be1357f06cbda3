"""practicegym agents: training CLI, hyperparameters, perception and evaluation.

Shipped agents: ``agents.load_pretrained("driving")`` (see :mod:`agents.pretrained`).
"""

from agents.pretrained import load_pretrained

__all__ = ["load_pretrained"]
