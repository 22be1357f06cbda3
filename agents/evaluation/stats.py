"""Per-split interval estimates over evaluation episodes.

Rates (success, crashes: every value a bool or a 0/1 integer) get Wilson score
intervals, which stay inside [0, 1] and keep a width when every episode agrees; other
means get Student-t intervals; differences of means (the generalisation gap) get Welch
intervals, differences of rates Newcombe's hybrid Wilson intervals. Across-run
aggregates are not computed here: they come from rliable in
:mod:`agents.evaluation.aggregate`.

Example:
    >>> est = rate([True] * 8 + [False] * 2)
    >>> round(est.value, 2), round(est.low, 2), round(est.high, 2)
    (0.8, 0.49, 0.94)
    >>> str(mean([1.0, 2.0, 3.0]))
    '2.00 [-0.48, 4.48]'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CONFIDENCE",
    "Estimate",
    "difference",
    "is_rate",
    "mean",
    "rate",
    "rate_difference",
    "summarise",
]

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval.

    Attributes:
        value: The point estimate (NaN when there is no data).
        low: Lower end of the interval (NaN when it cannot be estimated, e.g. one episode).
        high: Upper end of the interval.
    """

    value: float
    low: float
    high: float

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies inside the interval (bounds included)."""
        return bool(self.low <= x <= self.high)

    def to_dict(self) -> dict[str, float | None]:
        """JSON form; NaN becomes ``None``."""
        return {k: _finite_or_none(getattr(self, k)) for k in ("value", "low", "high")}

    @classmethod
    def from_dict(cls, data: dict[str, float | None]) -> Estimate:
        """Inverse of :meth:`to_dict`."""
        vals = (data.get(k) for k in ("value", "low", "high"))
        return cls(*(math.nan if v is None else float(v) for v in vals))

    def format(self, digits: int = 2) -> str:
        """``"value [low, high]"``; ``"n/a"`` without a value, no interval when unknown."""
        if math.isnan(self.value):
            return "n/a"
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def __str__(self) -> str:
        return self.format()


NAN = Estimate(math.nan, math.nan, math.nan)


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _t(confidence: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, df))


def rate(values: Sequence[bool] | np.ndarray, confidence: float = CONFIDENCE) -> Estimate:
    """Fraction of true values with a Wilson score interval."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return NAN
    p = float(x.mean())
    z = _z(confidence)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def mean(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Estimate:
    """Mean with a Student-t interval (no interval for fewer than two values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return NAN
    m = float(x.mean())
    if x.size < 2:
        return Estimate(m, math.nan, math.nan)
    half = _t(confidence, x.size - 1) * float(x.std(ddof=1))
    half /= math.sqrt(x.size)
    return Estimate(m, m - half, m + half)


def difference(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> Estimate:
    """``mean(a) - mean(b)`` for independent samples, with a Welch interval."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        return NAN
    d = float(x.mean() - y.mean())
    if x.size < 2 or y.size < 2:
        return Estimate(d, math.nan, math.nan)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    if se == 0:
        return Estimate(d, d, d)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = _t(confidence, df) * se
    return Estimate(d, d - half, d + half)


def rate_difference(
    a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray, confidence: float = CONFIDENCE
) -> Estimate:
    """Difference of two independent rates with Newcombe's hybrid Wilson interval.

    >>> str(rate_difference([True] * 9 + [False], [True] * 3 + [False] * 7))
    '0.60 [0.17, 0.81]'
    """
    x, y = rate(a, confidence), rate(b, confidence)
    if math.isnan(x.value) or math.isnan(y.value):
        return NAN
    d = x.value - y.value
    low = d - math.sqrt((x.value - x.low) ** 2 + (y.high - y.value) ** 2)
    high = d + math.sqrt((x.high - x.value) ** 2 + (y.value - y.low) ** 2)
    return Estimate(d, max(-1.0, low), min(1.0, high))


def is_rate(values: Sequence[object]) -> bool:
    """Whether every value is a bool or a 0/1 integer (reported as a rate)."""
    return len(values) > 0 and all(
        isinstance(v, bool | np.bool_) or (isinstance(v, int | np.integer) and int(v) in (0, 1))  # type: ignore[call-overload]
        for v in values
    )


def summarise(values: Sequence[object], confidence: float = CONFIDENCE) -> Estimate:
    """A rate's Wilson interval or a mean's t interval, whichever fits ``values``."""
    if is_rate(values):
        return rate(np.asarray(values, dtype=float), confidence)
    return mean(np.asarray(values, dtype=float), confidence)
