"""Small NumPy helpers shared by the driving modules (no driving concepts here).

Example:
    >>> import numpy as np
    >>> running_min_ahead(np.array([3.0, 1.0, 4.0, 1.0, 5.0]), 2).tolist()
    [1.0, 1.0, 1.0, 1.0, 5.0]
    >>> filled(0.5, 3).tolist()
    [0.5, 0.5, 0.5]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["clamp", "filled", "running_min_ahead"]


@functools.cache
def filled(value: float, size: int, dtype: type = np.float64) -> np.ndarray:
    """A shared read-only array of ``size`` copies of ``value``.

    A NumPy call with an array operand costs less than with a Python scalar (which is
    converted every call), so hot paths pass these instead of constants.
    """
    out = np.full(size, value, dtype=dtype)
    out.flags.writeable = False
    return out


def clamp(values: np.ndarray, low: Any, high: Any) -> np.ndarray:
    """``np.clip(values, low, high)`` without its per-call overhead (a hot-path helper).

    ``np.clip`` checks dtype limits on every call, which costs more than the arithmetic
    on the small arrays of a driving step; ``minimum(maximum(...))`` gives the same values.
    """
    return np.minimum(np.maximum(values, low), high)


def running_min_ahead(values: np.ndarray, window: int) -> np.ndarray:
    """``out[..., i] = values[..., i : i + window].min()`` (the window shrinks at the end).

    Doubling: after each pass every entry holds the minimum of twice as many values,
    so ``log2(window)`` NumPy calls instead of one per window offset.
    """
    out = values.copy()
    span = 1
    while span < window:
        step = min(span, window - span)
        np.minimum(out[..., :-step], out[..., step:], out=out[..., :-step])
        span += step
    return out
