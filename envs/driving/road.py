"""The road: a procedurally generated multi-lane centreline with Frenet coordinates.

The centreline is built from a curvature profile of straights, arcs and linear-curvature
(clothoid) transitions between them, sampled every ``ds`` metres and integrated to
Cartesian points. Everything else in the driving family lives in Frenet coordinates
``(s, d)``: ``s`` is the arc length along the centreline, ``d`` the signed lateral offset
(positive to the left). Lane ``0`` is the rightmost lane; lane ``i``'s centre lies at
``d = (i - (lanes - 1) / 2) * lane_width``.

Example:
    >>> import numpy as np
    >>> road = Road.generate(np.random.default_rng(0), lanes=3, lane_width=3.5,
    ...                      curvature_max=0.01, length=500.0)
    >>> x, y = road.to_cartesian(120.0, 1.5)
    >>> s, d = road.to_frenet(x, y)
    >>> bool(abs(s - 120.0) < 1e-3 and abs(d - 1.5) < 1e-3)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from envs.driving.arrays import clamp

__all__ = ["Road", "RoadBatch"]


@dataclass(frozen=True)
class Road:
    """A sampled centreline with lanes.

    Attributes:
        lanes: Number of lanes (1-4).
        lane_width: Width of one lane [m].
        ds: Spacing of the centreline samples [m].
        kappa: Curvature at each sample [1/m] (positive turns left).
        theta: Heading of the centreline at each sample [rad].
        x: Cartesian x of each sample [m].
        y: Cartesian y of each sample [m].
    """

    lanes: int
    lane_width: float
    ds: float
    kappa: np.ndarray
    theta: np.ndarray
    x: np.ndarray
    y: np.ndarray

    # ------------------------------------------------------------------ building

    @classmethod
    def from_curvature(
        cls, kappa: np.ndarray, *, lanes: int, lane_width: float, ds: float = 1.0
    ) -> Road:
        """Integrates a curvature profile (one value per sample) into a centreline."""
        kappa = np.asarray(kappa, dtype=np.float64)
        theta, x, y = (a[0] for a in integrate(kappa[None], ds))
        kappa = kappa.copy()
        for arr in (kappa, theta, x, y):
            arr.setflags(write=False)
        return cls(int(lanes), float(lane_width), float(ds), kappa, theta, x, y)

    @classmethod
    def generate(
        cls,
        rng: np.random.Generator,
        *,
        lanes: int,
        lane_width: float,
        curvature_max: float,
        length: float,
        ds: float = 1.0,
        lead_in: float = 80.0,
    ) -> Road:
        """Draws a road of straights and arcs joined by clothoid transitions.

        Args:
            rng: The episode's generator (all randomness comes from it).
            lanes: Number of lanes.
            lane_width: Lane width [m].
            curvature_max: Largest absolute arc curvature [1/m]; arcs draw their
                curvature from ``[0.4, 1] * curvature_max`` so sharp curves really occur.
            length: Road length [m].
            ds: Sample spacing [m].
            lead_in: Length of the straight the road starts with [m].
        """
        kappa = draw_curvature(
            rng, samples=math.ceil(length / ds) + 1, curvature_max=curvature_max, ds=ds,
            lead_in=lead_in,
        )  # fmt: skip
        return cls.from_curvature(kappa, lanes=lanes, lane_width=lane_width, ds=ds)

    # ----------------------------------------------------------------- geometry

    @property
    def length(self) -> float:
        """Length of the centreline [m]."""
        return (len(self.kappa) - 1) * self.ds

    @property
    def half_width(self) -> float:
        """Distance from the centreline to either road edge [m]."""
        return 0.5 * self.lanes * self.lane_width

    def lane_center(self, lane: int | np.ndarray) -> float | np.ndarray:
        """Lateral offset ``d`` of a lane's centre (lane 0 is the rightmost)."""
        return (lane - 0.5 * (self.lanes - 1)) * self.lane_width

    def lane_of(self, d: float | np.ndarray) -> int | np.ndarray:
        """Index of the lane containing offset ``d`` (clipped to the road's lanes)."""
        if not isinstance(d, np.ndarray):
            return min(max(math.floor(d / self.lane_width + 0.5 * self.lanes), 0), self.lanes - 1)
        lane = np.floor(d / self.lane_width + 0.5 * self.lanes)
        return clamp(lane, 0, self.lanes - 1).astype(int)

    @cached_property
    def kappa_list(self) -> list[float]:
        """``kappa`` as a Python list: scalar lookups without NumPy call overhead."""
        return self.kappa.tolist()

    def sample_index(self, s: float) -> int:
        """Index of the centreline sample nearest arc length ``s`` (clamped to the road)."""
        return min(max(int(s / self.ds + 0.5), 0), len(self.kappa) - 1)

    def curvature_at(self, s: float | np.ndarray) -> float | np.ndarray:
        """Curvature at arc length ``s`` (nearest sample; clamped to the road)."""
        if isinstance(s, np.ndarray):
            idx = clamp((s / self.ds + 0.5).astype(int), 0, len(self.kappa) - 1)
            return self.kappa[idx]
        return self.kappa_list[self.sample_index(s)]

    def pose_at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centreline ``(x, y, theta)`` at arc lengths ``s`` (linear interpolation)."""
        s = np.asarray(s, dtype=np.float64)
        u = clamp(s / self.ds, 0.0, len(self.kappa) - 1.000001)
        i = u.astype(int)
        f = u - i
        x = self.x[i] + f * (self.x[i + 1] - self.x[i])
        y = self.y[i] + f * (self.y[i + 1] - self.y[i])
        theta = self.theta[i] + f * (self.theta[i + 1] - self.theta[i])
        # Beyond the ends, extend straight along the end heading.
        over = s - clamp(s, 0.0, self.length)
        x = x + over * np.cos(theta)
        y = y + over * np.sin(theta)
        return x, y, theta

    @cached_property
    def _xyt_lists(self) -> tuple[list[float], list[float], list[float]]:
        return self.x.tolist(), self.y.tolist(), self.theta.tolist()

    @cached_property
    def _steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-sample increments of ``x``, ``y``, ``theta`` (for interpolation)."""
        return np.diff(self.x), np.diff(self.y), np.diff(self.theta)

    def pose_every(
        self, start: float, step: int, count: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``pose_at(start + ds * step * arange(count))`` by slicing, or ``None``.

        The samples share one interpolation fraction, so the poses are strided views
        plus one multiply-add each. ``None`` when a sample would leave the road
        (``pose_at`` then extends it straight).
        """
        u = start / self.ds
        i = math.floor(u)
        end = i + step * (count - 1)
        if i < 0 or end + 1 > len(self.kappa) - 1 or step < 1:
            return None
        f = u - i
        sl = slice(i, end + 1, step)
        dx, dy, dt = self._steps
        x = dx[sl] * f
        x += self.x[sl]
        y = dy[sl] * f
        y += self.y[sl]
        theta = dt[sl] * f
        theta += self.theta[sl]
        return x, y, theta

    def pose(self, s: float) -> tuple[float, float, float]:
        """Centreline ``(x, y, theta)`` at one arc length (scalar fast path of ``pose_at``)."""
        xs, ys, ts = self._xyt_lists
        last = len(xs) - 1
        u = min(max(s / self.ds, 0.0), last - 1e-6)
        i = int(u)
        f = u - i
        x = xs[i] + f * (xs[i + 1] - xs[i])
        y = ys[i] + f * (ys[i + 1] - ys[i])
        theta = ts[i] + f * (ts[i + 1] - ts[i])
        over = s - min(max(s, 0.0), self.length)
        return x + over * math.cos(theta), y + over * math.sin(theta), theta

    def to_cartesian(self, s: float, d: float) -> tuple[float, float]:
        """Cartesian ``(x, y)`` of the Frenet point ``(s, d)``."""
        x, y, theta = self.pose_at(np.asarray([s]))
        return float(x[0] - d * math.sin(theta[0])), float(y[0] + d * math.cos(theta[0]))

    def to_frenet(self, x: float, y: float, s_hint: float | None = None) -> tuple[float, float]:
        """Frenet ``(s, d)`` of the Cartesian point ``(x, y)``.

        Finds the nearest centreline sample (within 60 m of ``s_hint`` when given),
        then projects onto the osculating circle there, which is exact on arcs and
        second-order accurate on transitions.
        """
        if s_hint is None:
            lo, hi = 0, len(self.kappa)
        else:
            lo = max(int((s_hint - 60.0) / self.ds), 0)
            hi = min(int((s_hint + 60.0) / self.ds) + 1, len(self.kappa))
        dx = self.x[lo:hi] - x
        dy = self.y[lo:hi] - y
        i = lo + int(np.argmin(dx * dx + dy * dy))
        th, k = float(self.theta[i]), float(self.kappa[i])
        ex, ey = x - float(self.x[i]), y - float(self.y[i])
        along = ex * math.cos(th) + ey * math.sin(th)
        lateral = -ex * math.sin(th) + ey * math.cos(th)
        if abs(k) < 1e-9:
            return i * self.ds + along, lateral
        # Centre of the osculating circle is at lateral offset 1/k.
        r = 1.0 / k
        angle = math.atan2(along, (r - lateral) * math.copysign(1.0, r))
        d = r - math.copysign(math.hypot(along, r - lateral), r)
        return i * self.ds + angle * abs(r), d


def draw_curvature(
    rng: np.random.Generator, *, samples: int, curvature_max: float, ds: float, lead_in: float
) -> np.ndarray:
    """A curvature profile of straights and arcs joined by clothoid transitions.

    ``samples`` values ``ds`` apart, starting with a straight of ``lead_in`` metres; arcs
    draw their curvature from ``[0.4, 1] * curvature_max`` so sharp curves really occur.
    All randomness comes from ``rng`` (none is drawn for a straight road).
    """
    n, lead = samples, int(lead_in / ds)
    if curvature_max <= 0.0:
        return np.zeros(n)
    # Every segment at once (at most one per 30 m); lengths in samples. A segment is a
    # straight or a curve: clothoid in, arc, clothoid out. Curvature is piecewise linear
    # in s with knots at the segment's start, arc start, arc end and end.
    m = n // max(int(30.0 / ds), 1) + 1
    straight = rng.random(m) < 0.3
    straight_len = (rng.uniform(30.0, 120.0, m) / ds).astype(int)
    k = rng.uniform(0.4, 1.0, m) * curvature_max * np.where(rng.random(m) < 0.5, -1.0, 1.0)
    trans = (rng.uniform(15.0, 40.0, m) / ds).astype(int)
    arc = (rng.uniform(30.0, 150.0, m) / ds).astype(int)
    trans[straight] = 0
    k[straight] = 0.0
    arc = np.where(straight, straight_len, arc)
    start = np.cumsum(2 * trans + arc) - (2 * trans + arc) + lead
    knots = np.empty((m, 4))
    knots[:, 0] = start
    knots[:, 1] = start + trans
    knots[:, 2] = knots[:, 1] + arc
    knots[:, 3] = knots[:, 2] + trans
    values = np.zeros((m, 4))
    values[:, 1] = values[:, 2] = k
    return np.interp(np.arange(n), knots.ravel(), values.ravel(), left=0.0)


def integrate(kappa: np.ndarray, ds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heading and centreline ``(theta, x, y)`` of curvature rows ``(W, L)`` (each from 0).

    Trapezoidal integration of heading, then midpoint integration of position; rows are
    independent (sequential cumulative sums), so a row's result never depends on the others.
    """
    theta, x, y = np.zeros((3, *kappa.shape))
    step = kappa[:, 1:] + kappa[:, :-1]
    step *= 0.5 * ds
    np.cumsum(step, axis=1, out=theta[:, 1:])
    mid = theta[:, 1:] + theta[:, :-1]
    mid *= 0.5
    np.cumsum(np.cos(mid) * ds, axis=1, out=x[:, 1:])
    np.cumsum(np.sin(mid) * ds, axis=1, out=y[:, 1:])
    return theta, x, y


class RoadBatch:
    """The roads of N worlds as ``(N, L)`` arrays (structure of arrays), plus the objects.

    Every road is padded to ``L`` samples: curvature and heading repeat their last
    value and the centreline continues straight, which is exactly how a single road
    extends beyond its end, so a lookup means the same thing in any batch.

    Args:
        num: Number of worlds.
        samples: ``L``, at least the sample count of any road put in.
        ds: Sample spacing shared by every road [m].
    """

    def __init__(self, num: int, samples: int, ds: float) -> None:
        self.ds = float(ds)
        self.kappa, self.theta, self.x, self.y = np.zeros((4, num, samples))
        self.lanes = np.ones(num, dtype=np.intp)
        self.lane_width = np.full(num, 3.5)
        self.samples = np.zeros(num, dtype=np.intp)  # 0: no road yet
        self._roads: list[Road | None] = [None] * num

    @property
    def half_width(self) -> np.ndarray:
        """``(N,)`` distance from the centreline to either road edge [m]."""
        return 0.5 * self.lanes * self.lane_width

    def set_many(
        self,
        worlds: np.ndarray,
        kappa: np.ndarray,
        samples: np.ndarray,
        lanes: np.ndarray,
        lane_width: np.ndarray,
    ) -> None:
        """Puts roads in ``worlds``: curvature rows ``(W, L)`` (padded past ``samples``)."""
        theta, x, y = integrate(kappa, self.ds)
        self.kappa[worlds], self.theta[worlds], self.x[worlds], self.y[worlds] = kappa, theta, x, y
        self.samples[worlds], self.lanes[worlds], self.lane_width[worlds] = (
            samples,
            lanes,
            lane_width,
        )
        for k in worlds.tolist():
            self._roads[k] = None

    def road(self, k: int) -> Road | None:
        """World ``k``'s road as a :class:`Road` (its own samples; ``None`` before a reset)."""
        n = int(self.samples[k])
        if n == 0:
            return None
        road = self._roads[k]
        if road is None:
            arrays = [a[k, :n].copy() for a in (self.kappa, self.theta, self.x, self.y)]
            for arr in arrays:
                arr.setflags(write=False)
            road = Road(int(self.lanes[k]), float(self.lane_width[k]), self.ds, *arrays)
            self._roads[k] = road
        return road

    def index(self, s: np.ndarray) -> np.ndarray:
        """Nearest-sample indices of arc lengths ``s`` (``(N, ...)``, clamped to the arrays)."""
        return clamp((s * (1.0 / self.ds) + 0.5).astype(np.intp), 0, self.kappa.shape[1] - 1)

    def _gather(self, arr: np.ndarray, i: np.ndarray, worlds: np.ndarray | slice) -> np.ndarray:
        """``arr[world, i]`` for each row of ``i`` (``(W, M)``), row ``j`` from ``worlds[j]``."""
        rows = np.arange(len(arr))[worlds]
        return arr.reshape(-1).take(rows[:, None] * arr.shape[1] + i)

    def curvature_at(self, s: np.ndarray, worlds: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Curvature at arc lengths ``s`` (``(W, M)``) of ``worlds`` (nearest sample)."""
        return self._gather(self.kappa, self.index(s), worlds)

    def pose_at(
        self, s: np.ndarray, worlds: np.ndarray | slice = slice(None)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centreline ``(x, y, theta)`` at arc lengths ``s`` (``(W, M)``) of ``worlds`` (linear)."""
        last = self.kappa.shape[1] - 1
        u = clamp(s * (1.0 / self.ds), 0.0, last - 1e-6)
        i = u.astype(np.intp)
        f = u - i
        out = []
        for arr in (self.x, self.y, self.theta):
            a0 = self._gather(arr, i, worlds)
            a1 = self._gather(arr, i + 1, worlds)
            out.append(a0 + f * (a1 - a0))
        x, y, theta = out
        # Beyond the ends, extend straight along the end heading.
        over = s - clamp(s, 0.0, last * self.ds)
        return x + over * np.cos(theta), y + over * np.sin(theta), theta
