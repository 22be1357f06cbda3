"""Vehicles of N driving worlds at once: the ego's kinematic bicycle and IDM/MOBIL traffic.

Everything here is structure of arrays with a leading world axis: the egos are arrays of
shape ``(N,)`` (:class:`Egos`), the background vehicles arrays of shape ``(N, V)``
(:class:`TrafficBatch`, ``V`` the largest vehicle count of any world; absent slots are
parked far behind with no lane). One NumPy update advances every world; a world's result
depends only on its own rows, never on ``N``, on ``V`` or on its neighbours (reductions
over vehicles are min/max/argmin only, and all randomness is drawn per world at reset),
so world ``k`` of a batch evolves bit for bit like a batch of one.

Both live in the road's Frenet frame (see :mod:`envs.driving.road`). The ego integrates
the kinematic bicycle model in Frenet form, with steering-rate and acceleration limits
and a friction limit on lateral acceleration: when the tyres cannot deliver the yaw rate
the steering asks for, the yaw rate saturates at ``mu * g / v`` and the car understeers
out of the curve.

Traffic follows the Intelligent Driver Model (Treiber et al., 2000) toward a desired
speed capped by the curves ahead, behind the nearest vehicle sharing a lane (an
all-pairs gap search per world); lane changes follow MOBIL (Kesting et al., 2007) with
per-driver politeness, decided every ``MOBIL_PERIOD`` for every vehicle and both
directions at once. Vehicles that leave the window around the ego are recycled to its
far edges.

:class:`Traffic` and :func:`bicycle_step` are the single-world views (a batch of one) used
by tests and tools.

Example:
    >>> import numpy as np
    >>> from envs.driving.road import Road
    >>> road = Road.generate(np.random.default_rng(0), lanes=3, lane_width=3.5,
    ...                      curvature_max=0.0, length=2000.0)
    >>> traffic = Traffic.spawn(np.random.default_rng(0), road, count=20, center_s=500.0,
    ...                         speed_limit=25.0, aggressiveness=0.2, friction=1.0)
    >>> for _ in range(100):
    ...     _ = traffic.step(0.1)
    >>> bool(traffic.min_gap() > 0.0)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envs.driving.arrays import clamp, running_min_ahead
from envs.driving.road import Road

__all__ = [
    "MAX_LANES",
    "VEHICLE_LENGTH",
    "VEHICLE_WIDTH",
    "EgoState",
    "Egos",
    "G",
    "Traffic",
    "TrafficBatch",
    "TrafficDraws",
    "advance_egos",
    "bicycle_step",
    "curve_speeds_ahead",
    "spawn",
]

G = 9.81
VEHICLE_LENGTH = 4.5
VEHICLE_WIDTH = 1.9
WHEELBASE = 2.7
MAX_STEER = 0.5  # rad
MAX_STEER_RATE = 1.0  # rad/s
MAX_ACCEL = 3.0  # m/s^2
MAX_BRAKE = 7.0  # m/s^2
MAX_JERK = 30.0  # m/s^3 (acceleration-rate limit)
MAX_LANES = 4

# Spawning window around the ego and IDM/MOBIL constants.
BEHIND = 120.0
AHEAD = 200.0
IDM_S0 = 2.0  # jam distance [m]
IDM_B = 2.0  # comfortable deceleration [m/s^2]
IDM_DELTA = 4.0
IDM_MAX_BRAKE = 9.0  # physical deceleration limit of traffic [m/s^2]
MOBIL_B_SAFE = 3.0  # a new follower must not need to brake harder than this [m/s^2]
MOBIL_THRESHOLD = 0.2  # [m/s^2]
MOBIL_PERIOD = 2.0  # [s] between a driver's lane-change decisions
LANE_CHANGE_TIME = 3.0  # [s] to move one lane width
NO_LEADER_GAP = 1e4
RECYCLE_CLEARANCE = 30.0  # [m] a recycled vehicle keeps from others in its lane
CURVE_LOOKAHEAD = 64.0  # [m] of road ahead whose curves a driver already slows for
_RECYCLE_OFFSETS = np.arange(-80.0, 1.0, 8.0)  # [m] candidate slots inside the window edge
RECYCLE_BANK = 64  # random draws per world for recycling, drawn at reset, reused cyclically
PARKED_S = -1e9  # where absent vehicles wait (no lane, never a leader)
PHANTOM_S = 1e9  # the far-ahead phantom: the leader of every vehicle with none in its lanes
# IDM parameters of the two extra slots MOBIL may look at: the ego and the phantom.
_EXTRA_HEADWAY, _EXTRA_A_MAX = 1.5, 1.5


# ----------------------------------------------------------------------------- ego


@dataclass
class EgoState:
    """One ego car in Frenet coordinates (the single-world view of :class:`Egos`).

    Attributes:
        s: Arc length along the centreline [m].
        d: Lateral offset from the centreline, positive left [m].
        psi: Heading relative to the centreline tangent [rad].
        v: Speed [m/s].
        steer: Front-wheel steering angle [rad].
        accel: Current longitudinal acceleration [m/s^2].
        yaw_demand_ratio: Asked-for over available lateral acceleration last step.
    """

    s: float
    d: float
    psi: float
    v: float
    steer: float = 0.0
    accel: float = 0.0
    yaw_demand_ratio: float = 0.0


class Egos:
    """The egos of N worlds: one float64 array of shape ``(N,)`` per :class:`EgoState` field."""

    FIELDS = ("s", "d", "psi", "v", "steer", "accel", "yaw_demand_ratio")

    def __init__(self, num: int) -> None:
        self.s, self.d, self.psi, self.v, self.steer, self.accel, self.yaw_demand_ratio = (
            np.zeros(num) for _ in self.FIELDS
        )

    def set(self, k: int, ego: EgoState) -> None:
        """Writes world ``k``'s ego."""
        for name in self.FIELDS:
            getattr(self, name)[k] = getattr(ego, name)

    def get(self, k: int) -> EgoState:
        """World ``k``'s ego as an :class:`EgoState` (a copy)."""
        return EgoState(*(float(getattr(self, name)[k]) for name in self.FIELDS))


def advance_egos(
    egos: Egos,
    steer_cmd: np.ndarray,
    accel_cmd: np.ndarray,
    dt: float,
    kappa: np.ndarray,
    ds: float,
    friction: np.ndarray,
    substeps: int = 1,
) -> np.ndarray:
    """Advances every ego in place by ``substeps`` steps of ``dt``; returns distances along ``s``.

    ``steer_cmd`` [rad] and ``accel_cmd`` [m/s^2] (shape ``(N,)``) are targets; the
    steering angle moves toward its target at most ``MAX_STEER_RATE`` and acceleration
    at most ``MAX_JERK``. The yaw rate is capped by the friction circle:
    ``|v * r| <= friction * g``. ``kappa`` is ``(N, L)`` road curvature sampled every ``ds``.
    """
    steer_cmd = clamp(steer_cmd, -MAX_STEER, MAX_STEER)
    accel_cmd = clamp(accel_cmd, -MAX_BRAKE, MAX_ACCEL)
    rate, da = MAX_STEER_RATE * dt, MAX_JERK * dt
    grip = friction * G
    rows = np.arange(len(kappa))
    last = kappa.shape[1] - 1
    steer, accel, v, s, d, psi = egos.steer, egos.accel, egos.v, egos.s, egos.d, egos.psi
    start = s.copy()
    demand = np.zeros_like(s)
    for _ in range(substeps):
        steer = steer + clamp(steer_cmd - steer, -rate, rate)
        accel = accel + clamp(accel_cmd - accel, -da, da)
        yaw_rate = v * np.tan(steer) / WHEELBASE
        limit = grip / np.maximum(v, 0.1)
        demand = np.abs(yaw_rate) / limit
        yaw_rate = np.where(demand > 1.0, np.copysign(limit, yaw_rate), yaw_rate)
        k = kappa[rows, clamp((s * (1.0 / ds) + 0.5).astype(np.intp), 0, last)]
        s_dot = v * np.cos(psi) / np.maximum(1.0 - k * d, 0.1)
        d = d + v * np.sin(psi) * dt
        psi = psi + (yaw_rate - k * s_dot) * dt
        psi = np.mod(psi + math.pi, 2 * math.pi) - math.pi
        s = s + s_dot * dt
        v = np.maximum(v + accel * dt, 0.0)
    egos.s, egos.d, egos.psi, egos.v = s, d, psi, v
    egos.steer, egos.accel, egos.yaw_demand_ratio = steer, accel, demand
    return s - start


def bicycle_step(
    ego: EgoState,
    steer_cmd: float,
    accel_cmd: float,
    dt: float,
    road: Road,
    friction: float,
    substeps: int = 1,
) -> float:
    """Single-world :func:`advance_egos`: advances ``ego`` in place; returns the distance."""
    egos = Egos(1)
    egos.set(0, ego)
    travelled = advance_egos(
        egos,
        np.array([steer_cmd]),
        np.array([accel_cmd]),
        dt,
        road.kappa[None, :],
        road.ds,
        np.array([friction]),
        substeps,
    )
    for name in Egos.FIELDS:
        setattr(ego, name, float(getattr(egos, name)[0]))
    return float(travelled[0])


# ------------------------------------------------------------------------ traffic


@dataclass
class TrafficDraws:
    """The random numbers a world's traffic is built from, ``(W, C)`` each (``C`` >= counts).

    Attributes:
        count: Vehicles per world ``(W,)``; columns past a world's count are unused.
        aggressiveness: Per-driver aggressiveness draws (before clipping to [0, 1]).
        speed_factor: Desired speed over the limit, before the aggressiveness bonus.
        lane: Start lanes.
        jitter: Position jitter within each vehicle's slot (fraction of the slot).
        start_speed: Start speed over the desired one.
    """

    count: np.ndarray
    aggressiveness: np.ndarray
    speed_factor: np.ndarray
    lane: np.ndarray
    jitter: np.ndarray
    start_speed: np.ndarray

    @classmethod
    def empty(cls, count: np.ndarray) -> TrafficDraws:
        """Zeroed draws for worlds with ``count`` vehicles (fill rows with :meth:`draw`)."""
        shape = (len(count), max(int(count.max(initial=0)), 1))
        z = np.zeros(shape)
        return cls(count, z.copy(), z.copy(), np.zeros(shape, np.intp), z.copy(), z.copy())

    def draw(self, j: int, rng: np.random.Generator, lanes: int, aggressiveness: float) -> None:
        """Draws row ``j`` (one world's traffic) from ``rng``."""
        c = int(self.count[j])
        self.aggressiveness[j, :c] = rng.uniform(aggressiveness - 0.1, aggressiveness + 0.1, c)
        self.speed_factor[j, :c] = rng.uniform(0.8, 1.0, c)
        self.lane[j, :c] = rng.integers(0, lanes, c)
        self.jitter[j, :c] = rng.uniform(0.0, 0.3, c)
        self.start_speed[j, :c] = rng.uniform(0.85, 1.0, c)


def spawn(
    draws: TrafficDraws,
    *,
    lanes: np.ndarray,
    speed_limit: np.ndarray,
    center_s: np.ndarray,
    ego_s: np.ndarray | None = None,
    ego_lane: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Vehicles of W worlds in the windows around ``center_s`` with safe gaps, all at once.

    Drivers: aggressive = faster, closer, less polite. Positions: evenly spaced slots per
    lane across the window, each jittered within its slot; none within 25 m of the ego in
    its lane (``ego_s``/``ego_lane``); then pushed forward in their lane until every gap
    lets IDM stop safely. Returns ``(W, C)`` arrays ``s, v, lane, v0, headway, a_max,
    politeness`` (columns past a world's count are meaningless). Rows are independent.
    """
    num, cap = draws.lane.shape
    cols = np.arange(cap)
    rows = np.arange(num)[:, None]
    valid = cols < draws.count[:, None]
    agg = clamp(draws.aggressiveness, 0.0, 1.0)
    limit = speed_limit[:, None]
    v0 = limit * (draws.speed_factor + 0.2 * agg)
    lane = np.where(valid, draws.lane, MAX_LANES)  # unused columns sort last
    by_lane = np.argsort(lane, axis=1, kind="stable")
    lane_sorted = lane[rows, by_lane]
    per_lane = (lane[:, :, None] == np.arange(MAX_LANES + 1)).sum(axis=1)
    first = np.cumsum(per_lane, axis=1) - per_lane
    rank = cols - first[rows, lane_sorted]
    lo, hi = center_s - BEHIND * 0.8, center_s + AHEAD * 0.9
    spacing = (hi - lo)[:, None] / np.maximum(per_lane[rows, lane_sorted], 1)
    s = np.empty((num, cap))
    s[rows, by_lane] = lo[:, None] + (rank + draws.jitter) * spacing
    v = np.minimum(v0, limit) * draws.start_speed
    if ego_s is not None and ego_lane is not None:
        near = (lane == ego_lane[:, None]) & (np.abs(s - ego_s[:, None]) < 25.0)
        behind = np.cumsum(near, axis=1) - 1
        s = np.where(near, ego_s[:, None] + 40.0 + 25.0 * behind, s)
    # Push forward: s'[j] = max(s[j], s'[j-1] + need[j-1]) along each lane, a running
    # maximum of s - cumsum(need); lanes are kept apart by a large per-lane offset.
    order = np.lexsort((s, lane), axis=1)
    need = (VEHICLE_LENGTH + IDM_S0) + v[rows, order]
    before = np.cumsum(need, axis=1) - need
    apart = lane[rows, order] * 1e7
    pushed = np.maximum.accumulate(s[rows, order] - before + apart, axis=1) + before - apart
    s[rows, order] = pushed
    return {
        "s": s,
        "v": v,
        "lane": np.where(valid, draws.lane, 0),
        "v0": v0,
        "headway": 1.6 - 0.8 * agg,
        "a_max": 1.0 + 1.5 * agg,
        "politeness": 0.5 * (1.0 - agg),
    }


def curve_speeds_ahead(kappa: np.ndarray, friction: np.ndarray, ds: float) -> np.ndarray:
    """Per world and road sample ``(W, L)``: the lowest curve speed on the road just ahead.

    Traffic slows for curves so it uses at most half the available friction, anywhere on
    the next ``CURVE_LOOKAHEAD``; a straight road gives ``inf`` everywhere.
    """
    v_curve = np.sqrt(0.5 * friction[:, None] * G / np.maximum(np.abs(kappa), 1e-6))
    ahead = running_min_ahead(v_curve, round(CURVE_LOOKAHEAD / ds))
    straight = ~np.any(kappa, axis=1)
    ahead[straight] = np.inf
    return ahead


def idm(
    v: np.ndarray,
    v0: np.ndarray,
    gap: np.ndarray,
    lead_v: np.ndarray,
    headway: np.ndarray,
    a_max: np.ndarray,
    inv_root: np.ndarray,
    max_brake: float = IDM_MAX_BRAKE,
) -> np.ndarray:
    """IDM acceleration, elementwise; ``inv_root`` is ``1 / (2 * sqrt(a_max * b))``.

    ``gap`` (bumper to bumper) must be positive except for an overlap, which brakes as
    hard as allowed (``max_brake``). Pass ``a_max * dt`` and ``max_brake * dt`` to get the
    speed change over ``dt`` instead.
    """
    s_star = np.maximum(v * (headway + (v - lead_v) * inv_root) + IDM_S0, IDM_S0)
    with np.errstate(divide="ignore"):
        ratio = s_star / np.where(gap > 0.0, gap, 0.0)
    r = v / v0
    r *= r
    r *= r
    return np.maximum(a_max * (1.0 - r - ratio * ratio), -max_brake)


class TrafficBatch:
    """Background vehicles of N worlds as ``(N, V)`` arrays, advanced all at once.

    Slot ``i`` of world ``k`` is a vehicle when ``present[k, i]``; absent slots are
    parked at ``PARKED_S`` with no lane bit and zero acceleration, so they never lead,
    follow, collide or show. :meth:`place` fills a world; capacity ``V`` grows as needed.

    Attributes:
        s, v, d: Arc lengths [m], speeds [m/s], lateral offsets [m].
        lane: Target lane of each vehicle (its current lane unless changing).
        occ: Physical lane of each vehicle (from ``d``).
        bits: Lane bitmask: its physical and its target lane.
        v0, headway, a_max, politeness: Driver parameters (IDM, MOBIL).
        v0_now: Desired speed now (``v0`` capped by the curves ahead).
        lanes, lane_width: Per-world road layout ``(N,)``.
        steps: Per-world traffic steps since the world was placed.
    """

    FLOATS = ("s", "v", "d", "v0", "headway", "a_max", "politeness", "v0_now", "inv_root")
    INTS = ("lane", "occ", "bits")

    def __init__(self, num: int, ds: float, road_samples: int) -> None:
        self.num, self.capacity, self.ds = num, 0, float(ds)
        for name in self.FLOATS:
            setattr(self, name, np.zeros((num, 0)))
        for name in self.INTS:
            setattr(self, name, np.zeros((num, 0), dtype=np.intp))
        self.present = np.zeros((num, 0), dtype=bool)
        self.count = np.zeros(num, dtype=np.intp)
        self.lanes = np.ones(num, dtype=np.intp)
        self.lane_width = np.full(num, 3.5)
        self.steps = np.zeros(num, dtype=np.intp)
        self.curve_speed = np.full((num, road_samples), np.inf)
        self.recycle_jitter = np.zeros((num, RECYCLE_BANK, len(_RECYCLE_OFFSETS)))
        self.recycle_pick = np.zeros((num, RECYCLE_BANK))
        self.recycled = np.zeros(num, dtype=np.intp)
        self._rows = np.arange(num)[:, None]

    # ------------------------------------------------------------------ building

    def _grow(self, capacity: int) -> None:
        extra = capacity - self.capacity
        if extra <= 0:
            return
        for name in (*self.FLOATS, *self.INTS):
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.zeros((self.num, extra), old.dtype)], 1))
        self.present = np.concatenate([self.present, np.zeros((self.num, extra), bool)], 1)
        self.capacity = capacity
        self._park(slice(None), slice(capacity - extra, capacity))

    def _park(self, worlds: np.ndarray | slice, slots: slice) -> None:
        """Makes slots of ``worlds`` absent."""
        self.present[worlds, slots] = False
        self.s[worlds, slots], self.v[worlds, slots], self.d[worlds, slots] = PARKED_S, 0.0, 0.0
        self.v0[worlds, slots] = self.v0_now[worlds, slots] = 1.0
        self.headway[worlds, slots] = 1.5
        self.a_max[worlds, slots] = self.politeness[worlds, slots] = 0.0
        self.inv_root[worlds, slots] = 0.0
        self.lane[worlds, slots] = self.occ[worlds, slots] = self.bits[worlds, slots] = 0

    def place_many(
        self,
        worlds: np.ndarray,
        vehicles: Mapping[str, np.ndarray],
        count: np.ndarray,
        *,
        lanes: np.ndarray,
        lane_width: np.ndarray,
        curve_speed: np.ndarray,
        recycle_jitter: np.ndarray,
        recycle_pick: np.ndarray,
    ) -> None:
        """Puts the vehicles of ``worlds`` in place, resetting their whole traffic state.

        Args:
            worlds: Which worlds ``(W,)``.
            vehicles: ``(W, C)`` arrays ``s, v, lane, v0, headway, a_max, politeness``
                (from :func:`spawn`); columns past a world's ``count`` are ignored.
            count: Vehicles per world.
            lanes: Lanes of each world's road.
            lane_width: Lane width of each world's road [m].
            curve_speed: ``(W, L)`` curve speeds ahead (:func:`curve_speeds_ahead`).
            recycle_jitter: ``(W, RECYCLE_BANK, 11)`` uniform(-3, 3) draws for recycling.
            recycle_pick: ``(W, RECYCLE_BANK)`` uniform(0, 1) draws for recycling.

        Call :meth:`finish_placing` once for the worlds placed before stepping.
        """
        cap = vehicles["s"].shape[1]
        self._grow(cap)
        valid = np.arange(cap) < count[:, None]
        rows = worlds[:, None]
        cols = np.arange(cap)[None, :]
        self._park(worlds, slice(0, self.capacity))
        self.present[rows, cols] = valid
        self.lanes[worlds], self.lane_width[worlds] = lanes, lane_width
        lane = vehicles["lane"].astype(np.intp)
        centre = (lane - 0.5 * (lanes[:, None] - 1)) * lane_width[:, None]
        for name, value in (
            ("s", vehicles["s"]),
            ("v", vehicles["v"]),
            ("d", centre),
            ("v0", vehicles["v0"]),
            ("headway", vehicles["headway"]),
            ("a_max", vehicles["a_max"]),
            ("politeness", vehicles["politeness"]),
            ("inv_root", 0.5 / np.sqrt(vehicles["a_max"] * IDM_B)),
            ("lane", lane),
        ):
            target = getattr(self, name)
            target[rows, cols] = np.where(valid, value, target[rows, cols])
        self.count[worlds] = count
        self.steps[worlds] = 0
        self.curve_speed[worlds] = curve_speed
        self.recycle_jitter[worlds] = recycle_jitter
        self.recycle_pick[worlds] = recycle_pick
        self.recycled[worlds] = 0

    def finish_placing(self, worlds: np.ndarray) -> None:
        """Derives lanes and desired speeds of freshly placed ``worlds`` (after :meth:`place`)."""
        self.update_lanes(worlds)
        self._update_desired_speeds(worlds)

    # ------------------------------------------------------------------- queries

    def update_lanes(self, worlds: np.ndarray | slice = slice(None)) -> None:
        """Recomputes the physical lanes ``occ`` and lane bits from ``d`` and ``lane``."""
        lanes = self.lanes[worlds, None]
        occ = self.d[worlds] / self.lane_width[worlds, None] + (0.5 * lanes + 1.0)
        occ = clamp(occ.astype(np.intp) - 1, 0, lanes - 1)
        self.occ[worlds] = occ
        bits = (1 << occ) | (1 << self.lane[worlds])
        self.bits[worlds] = np.where(self.present[worlds], bits, 0)

    def lane_centre(self, lane: np.ndarray) -> np.ndarray:
        """``d`` of the centre of ``lane`` (``(N, ...)``) in each world."""
        shape = (-1,) + (1,) * (lane.ndim - 1)
        lanes, width = self.lanes.reshape(shape), self.lane_width.reshape(shape)
        return (lane - 0.5 * (lanes - 1)) * width

    def settled(self) -> np.ndarray:
        """``(N, V)``: vehicles at their target lane's centre (not changing lanes)."""
        return self.d == self.lane_centre(self.lane)

    # ------------------------------------------------------------------ dynamics

    def step(
        self,
        dt: float,
        ego_s: np.ndarray,
        ego_v: np.ndarray,
        ego_lane: np.ndarray | None,
        *,
        mobil_every: int,
    ) -> np.ndarray:
        """Advances every world's traffic by ``dt``; returns the ``(N, V)`` mask of lane changes.

        The egos (``ego_lane`` their physical lanes, ``None`` for no ego) take part as
        leaders/followers but are not moved. MOBIL decisions are taken in a world when its
        step count is a multiple of ``mobil_every``.
        """
        self.steps += 1
        started = np.zeros(self.s.shape, dtype=bool)
        if self.capacity == 0:
            return started
        ego_bit = np.zeros(self.num, np.intp) if ego_lane is None else 1 << ego_lane
        slots_s, slots_v, slots_b = self._slots(ego_s, ego_v, ego_bit)
        leader = self._leaders(slots_s, slots_b)
        rows = self._rows
        lead_gap = slots_s[rows, leader] - self.s - VEHICLE_LENGTH
        decide = np.flatnonzero(self.steps % mobil_every == 0)
        if len(decide):
            self._update_desired_speeds(decide)
        with np.errstate(invalid="ignore"):
            dv = idm(
                self.v,
                self.v0_now,
                lead_gap,
                slots_v[rows, leader],
                self.headway,
                self.a_max * dt,
                self.inv_root,
                IDM_MAX_BRAKE * dt,
            )
        dv = np.where(self.present, dv, 0.0)  # parked slots stay parked
        if len(decide):
            go, direction = self._mobil(
                decide, dv * (1.0 / dt), slots_s, slots_v, slots_b, leader, ego_v, ego_lane
            )
            self.lane[decide] += direction
            started[decide] = go
        # Integrate (semi-implicit Euler), then move lane changers sideways.
        self.v = np.maximum(self.v + dv, 0.0)
        self.s = self.s + self.v * dt
        target = self.lane_centre(self.lane)
        lat = self.lane_width[:, None] * (dt / LANE_CHANGE_TIME)
        gap = target - self.d
        self.d = np.where(np.abs(gap) <= lat, target, self.d + np.copysign(lat, gap))
        self.update_lanes()
        return started

    def _slots(
        self, ego_s: np.ndarray, ego_v: np.ndarray, ego_bit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(s, v, bits)`` of every vehicle, then the ego (slot ``V``), then the phantom."""
        num = self.num
        s = np.concatenate([self.s, ego_s[:, None], np.full((num, 1), PHANTOM_S)], axis=1)
        v = np.concatenate([self.v, ego_v[:, None], np.zeros((num, 1))], axis=1)
        b = np.concatenate([self.bits, ego_bit[:, None], np.full((num, 1), -1)], axis=1)
        return s, v, b

    def _leaders(self, slots_s: np.ndarray, slots_b: np.ndarray) -> np.ndarray:
        """``(N, V)`` slot of each vehicle's leader: the nearest slot ahead sharing a lane bit.

        The phantom (slot ``V + 1``) is in every lane, so everybody has a leader.
        """
        ahead = slots_s[:, None, :] - self.s[:, :, None]
        same = (slots_b[:, None, :] & self.bits[:, :, None]) != 0
        return np.where(same & (ahead > 0.0), ahead, np.inf).argmin(axis=2)

    def _update_desired_speeds(self, worlds: np.ndarray) -> None:
        """Caps the desired speeds in ``worlds`` by the curve speed on the road just ahead."""
        last = self.curve_speed.shape[1] - 1
        k = clamp((self.s[worlds] * (1.0 / self.ds)).astype(np.intp), 0, last)
        ahead = np.take_along_axis(self.curve_speed[worlds], k, axis=1)
        self.v0_now[worlds] = np.minimum(self.v0[worlds], ahead)

    def _mobil(
        self,
        worlds: np.ndarray,
        acc: np.ndarray,
        slots_s: np.ndarray,
        slots_v: np.ndarray,
        slots_b: np.ndarray,
        leader: np.ndarray,
        ego_v: np.ndarray,
        ego_lane: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """MOBIL decisions in ``worlds``: ``(go, lane step)``, each ``(W, V)``.

        Gain = own acceleration gain + politeness x (new follower's gain + old
        follower's gain), above ``MOBIL_THRESHOLD`` (Kesting et al., 2007); safe when
        the new follower (and the changer) need not brake harder than ``MOBIL_B_SAFE``
        and both gaps exceed ``IDM_S0 + 1`` m. Only drivers settled in their lane decide,
        and only those held back (or holding back their follower) can gain, so the full
        evaluation runs on those candidates alone. The ego never counts as an old
        follower (it is not modelled as yielding or gaining) and nobody cuts in close in
        front of it. Of two starters into the same lane within a safe distance, the one
        behind waits.
        """
        cap = self.capacity
        ids = np.arange(cap)
        v, v0 = self.v[worlds], self.v0_now[worlds]
        a_max, pol, acc_w = self.a_max[worlds], self.politeness[worlds], acc[worlds]
        lead = leader[worlds]
        # Old follower: the vehicle whose leader I am (the last such, if several).
        is_follower = lead[:, None, :] == ids[None, :, None]  # (W, me, j)
        old_f = np.where(is_follower, ids[None, None, :], -1).max(axis=2)
        has_old_f = old_f >= 0
        old_f = np.where(has_old_f, old_f, cap + 1)  # the phantom stands in for none
        # Nobody gains more than its free-road acceleration over the current one.
        r = v / v0
        r *= r
        headroom = a_max * (1.0 - r * r) - acc_w
        rows = np.arange(len(worlds))[:, None]
        held_back = headroom + pol * np.where(
            has_old_f, headroom[rows, np.minimum(old_f, cap - 1)], 0.0
        )
        want = (held_back > MOBIL_THRESHOLD) & self.settled()[worlds] & self.present[worlds]
        go = np.zeros(want.shape, dtype=bool)
        step = np.zeros(want.shape, dtype=np.intp)
        wi, me = np.nonzero(want)  # the candidates: (world row, vehicle)
        if len(wi) == 0:
            return go, step
        k = worlds[wi]
        # The slots of each candidate's world: (M, V + 2).
        cand_s, cand_v, cand_bits = slots_s[k], slots_v[k], slots_b[k]
        s_me, lane = self.s[k, me], self.lane[k, me]
        # Per-slot IDM parameters: vehicles, then the ego (desired speed: its own), then
        # the phantom.
        m = len(k)
        extra = np.full((m, 2), _EXTRA_HEADWAY)
        p_headway = np.concatenate([self.headway[k], extra], axis=1)
        p_amax = np.concatenate([self.a_max[k], np.full((m, 2), _EXTRA_A_MAX)], axis=1)
        ego_v0 = np.maximum(ego_v[k], 1.0)[:, None]
        p_v0 = np.concatenate([self.v0_now[k], ego_v0, np.full((m, 1), 20.0)], axis=1)
        root = 0.5 / math.sqrt(_EXTRA_A_MAX * IDM_B)
        p_root = np.concatenate([self.inv_root[k], np.full((m, 2), root)], axis=1)
        # Both directions: axis 1 is (left, right).
        target = lane[:, None] + np.array([1, -1])
        valid = (target >= 0) & (target < self.lanes[k][:, None])
        tbit = 1 << clamp(target, 0, MAX_LANES - 1)
        in_target = (cand_bits[:, None, : cap + 1] & tbit[..., None]) != 0  # (M, 2, V + 1)
        rel = cand_s[:, None, : cap + 1] - s_me[:, None, None]
        gaps = np.where(in_target, rel, np.inf)
        ahead = np.where(gaps > 0.0, gaps, np.inf)
        # A vehicle level with us (rel == 0) counts as behind: it blocks the gap too.
        behind = np.where(gaps <= 0.0, gaps, -np.inf)
        new_l, new_f = ahead.argmin(axis=2), behind.argmax(axis=2)
        nl_gap = np.minimum(ahead.min(axis=2) - VEHICLE_LENGTH, NO_LEADER_GAP)
        f_raw = -behind.max(axis=2)
        has_f = f_raw < np.inf
        nf_gap = np.minimum(f_raw - VEHICLE_LENGTH, NO_LEADER_GAP)
        cand = np.arange(m)[:, None]
        our_lead, of = lead[wi, me], old_f[wi, me]
        # The old follower's new leader would be our current one.
        of_gap = cand_s[cand[:, 0], our_lead] - cand_s[cand[:, 0], of] - VEHICLE_LENGTH
        me2 = np.broadcast_to(me[:, None], target.shape)
        of2 = np.broadcast_to(of[:, None], target.shape)
        lead2 = np.broadcast_to(our_lead[:, None], target.shape)
        # One IDM call for: new follower now (behind our new leader), new follower after,
        # me after, old follower after.
        who = np.stack([new_f, new_f, me2, of2])
        front = np.stack([new_l, me2, new_l, lead2])
        of_gap2 = np.broadcast_to(of_gap[:, None], target.shape)
        gap = np.stack([nf_gap + VEHICLE_LENGTH + nl_gap, nf_gap, nl_gap, of_gap2])
        nf_now, nf_after, my_after, of_after = idm(
            cand_v[cand, who],
            p_v0[cand, who],
            np.maximum(gap, 0.1),
            cand_v[cand, front],
            p_headway[cand, who],
            p_amax[cand, who],
            p_root[cand, who],
        )
        acc_me = acc[k, me][:, None]
        acc_of = acc[k, np.minimum(of, cap - 1)][:, None]
        of_gain = np.where(has_old_f[wi, me][:, None], of_after - acc_of, 0.0)
        safe = (
            (nf_after > -MOBIL_B_SAFE)
            & (nf_gap > IDM_S0 + 1.0)
            & (nl_gap > IDM_S0 + 1.0)
            & (my_after > -MOBIL_B_SAFE)
        )
        if ego_lane is not None:
            close_ego = (new_f == cap) & has_f & (nf_gap <= 2.0 * ego_v[k][:, None] + 10.0)
            safe &= ~close_ego
        politeness = self.politeness[k, me][:, None]
        gain = my_after - acc_me + politeness * (nf_after - nf_now + of_gain)
        gain = np.where(valid & safe, gain, -np.inf)
        go_left = gain[:, 0] >= gain[:, 1]
        starts = np.where(go_left, gain[:, 0], gain[:, 1]) > MOBIL_THRESHOLD
        # Of two starters of one world into the same lane, close together, the one
        # behind waits (pairs among the starters only: they are few).
        lane_to = np.where(go_left, lane + 1, lane - 1)
        first = np.flatnonzero(starts)
        if len(first) > 1:
            w_f, lane_f, s_f = wi[first], lane_to[first], s_me[first]
            ahead_of_me = s_f[None, :] - s_f[:, None]  # > 0: column ahead of row
            clash = (
                (w_f[:, None] == w_f[None, :])
                & (lane_f[:, None] == lane_f[None, :])
                & (np.abs(ahead_of_me) < 2 * VEHICLE_LENGTH + 20.0)
                & (ahead_of_me > 0.0)
            )
            starts[first] = ~clash.any(axis=1)
        go[wi, me] = starts
        step[wi, me] = np.where(starts, np.where(go_left, 1, -1), 0)
        return go, step

    # ------------------------------------------------------------------ recycling

    def recycle(self, ego_s: np.ndarray, speed_limit: np.ndarray, worlds: np.ndarray) -> int:
        """Moves vehicles of ``worlds`` that left the window around the ego to its far edges.

        A vehicle far behind reappears ahead, one far ahead reappears behind, each in a
        lane slot at least ``RECYCLE_CLEARANCE`` from any other vehicle (a random one of
        those; the clearest slot when none is) and at the speed of the nearest vehicle in
        that lane. Vehicles of a world are placed one at a time; worlds in parallel.
        Returns how many vehicles were recycled.
        """
        if self.capacity == 0 or len(worlds) == 0:
            return 0
        rel = self.s[worlds] - ego_s[worlds, None]
        out = self.present[worlds] & ((rel < -BEHIND) | (rel > AHEAD))
        total = int(out.sum())
        if total == 0:
            return 0
        moved_worlds = worlds[out.any(axis=1)]
        lane_ids = np.arange(MAX_LANES)
        n_cand = len(_RECYCLE_OFFSETS)
        while out.any():
            has = out.any(axis=1)
            sub = np.flatnonzero(has)
            k = worlds[sub]
            i = out[sub].argmax(axis=1)
            out[sub, i] = False
            behind = rel[sub, i] < 0
            edge = np.where(behind, ego_s[k] + AHEAD, ego_s[k] - BEHIND)
            cand = edge[:, None] + np.where(behind[:, None], _RECYCLE_OFFSETS, -_RECYCLE_OFFSETS)
            draw = self.recycled[k] % RECYCLE_BANK
            cand = cand + self.recycle_jitter[k, draw]
            self.recycled[k] += 1
            bits = self.bits[k]
            others = (bits[:, None, :] & (1 << lane_ids)[None, :, None]) != 0  # (W, lanes, V)
            others[np.arange(len(k)), :, i] = False
            dist = np.where(
                others[:, :, None, :],
                np.abs(self.s[k][:, None, None, :] - cand[:, None, :, None]),
                np.inf,
            )  # (W, lanes, candidates, V)
            nearest = dist.argmin(axis=3)
            clearance = dist.min(axis=3)
            exists = lane_ids[None, :] < self.lanes[k][:, None]
            clearance = np.where(exists[:, :, None], clearance, -np.inf).reshape(len(k), -1)
            free = clearance > RECYCLE_CLEARANCE
            n_free = free.sum(axis=1)
            nth = (self.recycle_pick[k, draw] * n_free).astype(np.intp)
            pick_free = (np.cumsum(free, axis=1) > nth[:, None]).argmax(axis=1)
            pick = np.where(n_free > 0, pick_free, clearance.argmax(axis=1))
            lane, slot = np.divmod(pick, n_cand)
            clear = clearance[np.arange(len(k)), pick]
            near = nearest.reshape(len(k), -1)[np.arange(len(k)), pick]
            speed = np.where(
                clear < 120.0, self.v[k, near], np.minimum(self.v0[k, i], speed_limit[k])
            )
            self.s[k, i] = cand[np.arange(len(k)), slot]
            self.v[k, i] = speed
            self.lane[k, i] = self.occ[k, i] = lane
            self.d[k, i] = (lane - 0.5 * (self.lanes[k] - 1)) * self.lane_width[k]
            self.bits[k, i] = 1 << lane
        self._update_desired_speeds(moved_worlds)
        return total


class Traffic:
    """The traffic of one world of a :class:`TrafficBatch`, with single-world accessors.

    ``Traffic(road, s=..., ...)`` and :meth:`spawn` build a batch of one;
    :meth:`view` looks at world ``k`` of an existing batch. Arrays (``s``, ``v``, ``d``,
    ``lane``, ``occ``, ``bits``, ``v0``, ...) are the world's present vehicles (copies
    for a view of a larger batch); treat them as read-only.
    """

    def __init__(
        self,
        road: Road,
        *,
        s: np.ndarray,
        v: np.ndarray,
        lane: np.ndarray,
        v0: np.ndarray,
        headway: np.ndarray,
        a_max: np.ndarray,
        politeness: np.ndarray,
        friction: float,
        rng: np.random.Generator,
    ) -> None:
        self.road = road
        self.batch = TrafficBatch(1, road.ds, len(road.kappa))
        self.world = 0
        vehicles = {
            "s": s,
            "v": v,
            "lane": lane,
            "v0": v0,
            "headway": headway,
            "a_max": a_max,
            "politeness": politeness,
        }
        bank = self.batch.recycle_jitter.shape[1:]
        one = np.array([0])
        self.batch.place_many(
            one,
            {key: np.asarray(value, dtype=float)[None] for key, value in vehicles.items()},
            np.array([len(s)]),
            lanes=np.array([road.lanes]),
            lane_width=np.array([road.lane_width]),
            curve_speed=curve_speeds_ahead(road.kappa[None], np.array([friction]), road.ds),
            recycle_jitter=rng.uniform(-3.0, 3.0, (1, *bank)),
            recycle_pick=rng.random((1, RECYCLE_BANK)),
        )
        self.batch.finish_placing(one)

    @classmethod
    def view(cls, batch: TrafficBatch, world: int, road: Road) -> Traffic:
        """World ``world`` of ``batch`` (on ``road``) as a :class:`Traffic`."""
        traffic = cls.__new__(cls)
        traffic.road, traffic.batch, traffic.world = road, batch, world
        return traffic

    @property
    def count(self) -> int:
        """Number of vehicles."""
        return int(self.batch.count[self.world])

    @classmethod
    def spawn(
        cls,
        rng: np.random.Generator,
        road: Road,
        *,
        count: int,
        center_s: float,
        speed_limit: float,
        aggressiveness: float,
        friction: float,
        keep_clear: tuple[float, float] | None = None,
    ) -> Traffic:
        """Places ``count`` vehicles in the window around ``center_s`` with safe gaps.

        Args:
            rng: Generator for positions, driver parameters and later decisions.
            road: The road.
            count: Number of vehicles.
            center_s: Where the window is centred (the ego's ``s``).
            speed_limit: Posted limit; desired speeds scatter around it.
            aggressiveness: 0 (calm) to 1 (aggressive) drivers.
            friction: Tyre-road friction (traffic slows for curves accordingly).
            keep_clear: ``(s, d)`` of a point (the ego) no vehicle may start near.
        """
        draws = TrafficDraws.empty(np.array([count]))
        draws.draw(0, rng, road.lanes, aggressiveness)
        ego_s = ego_lane = None
        if keep_clear is not None:
            ego_s, ego_lane = np.array([keep_clear[0]]), np.array([road.lane_of(keep_clear[1])])
        vehicles = spawn(
            draws,
            lanes=np.array([road.lanes]),
            speed_limit=np.array([speed_limit]),
            center_s=np.array([center_s]),
            ego_s=ego_s,
            ego_lane=ego_lane,
        )
        return cls(
            road,
            **{key: value[0, :count] for key, value in vehicles.items()},
            friction=friction,
            rng=rng,
        )

    def __getattr__(self, name: str) -> np.ndarray:
        if name in TrafficBatch.FLOATS or name in TrafficBatch.INTS:
            batch, world = self.__dict__["batch"], self.__dict__["world"]
            return getattr(batch, name)[world, : batch.count[world]]
        raise AttributeError(name)

    @property
    def movers(self) -> np.ndarray:
        """Indices of the vehicles changing lanes (off their target lane's centre)."""
        return np.flatnonzero(~self.batch.settled()[self.world, : self.count])

    def step(self, dt: float, *, ego: EgoState | None = None, mobil_every: int = 5) -> np.ndarray:
        """Advances the traffic by ``dt``; returns the bool mask of lane changes begun."""
        if ego is None:
            ego_s, ego_v, ego_lane = np.array([PARKED_S]), np.zeros(1), None
        else:
            ego_s, ego_v = np.array([ego.s]), np.array([ego.v])
            ego_lane = np.array([self.road.lane_of(ego.d)])
        started = self.batch.step(dt, ego_s, ego_v, ego_lane, mobil_every=mobil_every)
        return started[0, : self.count]

    def recycle(self, ego_s: float, speed_limit: float) -> int:
        """Recycles vehicles that left the window around ``ego_s``; returns how many."""
        return self.batch.recycle(np.array([ego_s]), np.array([speed_limit]), np.array([0]))

    def update_lanes(self) -> None:
        """Recomputes ``occ`` and ``bits`` from ``d`` and ``lane``."""
        self.batch.update_lanes()

    def min_gap(self) -> float:
        """Smallest bumper-to-bumper gap between two vehicles sharing a lane [m]."""
        if self.count < 2:
            return math.inf
        bits, s = self.bits, self.s
        same = (bits[:, None] & bits[None, :]) != 0
        gap = np.abs(s[:, None] - s[None, :]) - VEHICLE_LENGTH
        np.fill_diagonal(gap, np.inf)
        return float(np.min(np.where(same, gap, np.inf)))
