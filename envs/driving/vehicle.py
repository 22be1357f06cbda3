"""Vehicles: the ego's kinematic bicycle and vectorised IDM/MOBIL background traffic.

Both live in the road's Frenet frame (see :mod:`envs.driving.road`). The ego integrates
the kinematic bicycle model in Frenet form, with steering-rate and acceleration limits
and a friction limit on lateral acceleration: when the tyres cannot deliver the yaw rate
the steering asks for, the yaw rate saturates at ``mu * g / v`` and the car understeers
out of the curve.

Traffic advances every vehicle in one NumPy update per step: leaders come from an
all-pairs gap matrix (searched again only when lanes change), accelerations from the
Intelligent Driver Model (Treiber et al., 2000) toward a desired speed capped by the
curves ahead, and lane changes from MOBIL (Kesting et al., 2007) with per-driver
politeness, decided every ``MOBIL_PERIOD`` for every vehicle and both directions at
once.

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
from dataclasses import dataclass

import numpy as np

from envs.driving.arrays import filled, running_min_ahead
from envs.driving.road import Road

__all__ = [
    "VEHICLE_LENGTH",
    "VEHICLE_WIDTH",
    "EgoState",
    "G",
    "Traffic",
    "bicycle_step",
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
LEADER_GUARD = 5  # leaders are also searched afresh every this many MOBIL steps
RECYCLE_CLEARANCE = 30.0  # [m] a recycled vehicle keeps from others in its lane
# (s, v, d, v0, headway, a_max) of the two phantom slots: far behind, far ahead.
_PHANTOMS = np.array([[-1e9, 1e9], [0.0, 0.0], [0.0, 0.0], [20.0, 20.0], [1.5, 1.5], [1.5, 1.5]])
CURVE_LOOKAHEAD = 64.0  # [m] of road ahead whose curves a driver already slows for
_RECYCLE_OFFSETS = np.arange(-80.0, 1.0, 8.0)  # [m] candidate slots inside the window edge


@dataclass
class EgoState:
    """The ego car in Frenet coordinates.

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


def bicycle_step(
    ego: EgoState,
    steer_cmd: float,
    accel_cmd: float,
    dt: float,
    road: Road,
    friction: float,
    substeps: int = 1,
) -> float:
    """Advances ``ego`` in place by ``substeps`` steps of ``dt``; returns the distance along ``s``.

    ``steer_cmd`` [rad] and ``accel_cmd`` [m/s^2] are targets; the steering angle moves
    toward its target at most ``MAX_STEER_RATE`` and acceleration at most ``MAX_JERK``.
    The yaw rate is capped by the friction circle: ``|v * r| <= friction * g``.
    """
    # Plain floats and locals throughout: this runs at every simulation substep.
    steer_cmd = min(max(steer_cmd, -MAX_STEER), MAX_STEER)
    accel_cmd = min(max(accel_cmd, -MAX_BRAKE), MAX_ACCEL)
    rate, da = MAX_STEER_RATE * dt, MAX_JERK * dt
    grip = friction * G
    kappa_list, inv_ds = road.kappa_list, 1.0 / road.ds
    last = len(kappa_list) - 1
    steer, accel = ego.steer, ego.accel
    v, s, d, psi = ego.v, ego.s, ego.d, ego.psi
    start = s
    demand = 0.0
    for _ in range(substeps):
        steer += min(max(steer_cmd - steer, -rate), rate)
        accel += min(max(accel_cmd - accel, -da), da)
        yaw_rate = v * math.tan(steer) / WHEELBASE
        limit = grip / (v if v > 0.1 else 0.1)
        demand = abs(yaw_rate) / limit
        if demand > 1.0:
            yaw_rate = math.copysign(limit, yaw_rate)
        kappa = kappa_list[min(max(int(s * inv_ds + 0.5), 0), last)]
        denom = 1.0 - kappa * d
        s_dot = v * math.cos(psi) / (denom if denom > 0.1 else 0.1)
        d += v * math.sin(psi) * dt
        psi += (yaw_rate - kappa * s_dot) * dt
        psi = (psi + math.pi) % (2 * math.pi) - math.pi
        s += s_dot * dt
        v += accel * dt
        if v < 0.0:
            v = 0.0
    ego.s, ego.d, ego.psi, ego.v = s, d, psi, v
    ego.steer, ego.accel, ego.yaw_demand_ratio = steer, accel, demand
    return s - start


class Traffic:
    """Background vehicles as arrays (one entry per vehicle), advanced all at once.

    The arrays are views into buffers two longer than the vehicle count: slot ``count``
    holds the ego during :meth:`step` (so traffic follows and yields to it) and a
    phantom far behind otherwise; slot ``count + 1`` is a phantom far ahead, the leader
    of every vehicle with none in its lane. Use :meth:`spawn` to build one.

    Leaders (the nearest vehicle ahead sharing a lane) are found with an all-pairs gap
    matrix and then kept: within a lane nobody overtakes without colliding, so they only
    change when lanes do (a lane change, a recycled vehicle, the ego entering another
    lane). They are searched again then, and every ``LEADER_GUARD`` MOBIL decision
    steps as a guard (after a collision, which ends the episode, order can change).

    Attributes:
        s: Arc lengths [m].
        d: Lateral offsets [m].
        v: Speeds [m/s].
        lane: Target lane of each vehicle (its current lane unless changing).
        occ: Physical lane of each vehicle (from ``d``).
        bits: Lane bitmask of each vehicle: its physical and its target lane (call
            :meth:`update_lanes` after changing ``s``, ``d`` or ``lane`` from outside).
        v0: Desired speeds [m/s].
        headway: IDM time headways T [s].
        a_max: IDM maximum accelerations [m/s^2].
        politeness: MOBIL politeness factors p.
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
        n = len(s)
        self.count = n
        self.rng = rng
        self.road = road

        # Per-slot buffers, one row each: s, v, d, v0, headway, a_max, then the IDM
        # parameters as used: desired speed now (curves ahead) and 1 / (2 sqrt(a b)).
        # Slot n: the ego during a step, else a phantom far behind with no lane; slot
        # n + 1: a phantom far ahead, the leader of the leaderless. MOBIL gathers rows
        # for any set of slots with one indexing call.
        floats = np.empty((8, n + 2))
        floats[:6, :n] = (s, v, road.lane_center(np.asarray(lane)), v0, headway, a_max)
        floats[:6, n:] = _PHANTOMS
        floats[6] = floats[3]
        floats[7] = 0.5 / np.sqrt(floats[5] * IDM_B)
        self._floats = floats
        self._S, self._V, self._D, self._V0, self._T, self._A, self._V0_NOW, self._INV_ROOT = floats
        self._L = np.zeros(n + 2, dtype=np.intp)
        self._L[:n] = lane
        self._B = np.zeros(n + 2, dtype=np.intp)
        self.s, self.v, self.d, self.lane = self._S[:n], self._V[:n], self._D[:n], self._L[:n]
        self.bits = self._B[:n]
        self.v0, self.headway, self.a_max = self._V0[:n], self._T[:n], self._A[:n]
        self.politeness = np.asarray(politeness, dtype=float)
        self._lane_bit = 1 << np.arange(road.lanes + 2)
        # Traffic slows for curves so it uses at most half the available friction: a
        # driver's desired speed is capped by the curve speed anywhere on the next
        # CURVE_LOOKAHEAD of road, refreshed at every lane decision.
        self._v_curve_ahead: np.ndarray | None = None
        if np.any(road.kappa):
            v_curve = np.sqrt(0.5 * friction * G / np.maximum(np.abs(road.kappa), 1e-6))
            self._v_curve_ahead = running_min_ahead(v_curve, round(CURVE_LOOKAHEAD / road.ds))
        self._inv_ds = 1.0 / road.ds
        self._v0_now = self._V0_NOW[:n]
        self._update_desired_speeds()
        self._steps = 0
        self._movers: list[int] = []  # vehicles between lanes (d off their lane centre)
        # Each vehicle's leader (a slot index), valid while the lanes and the ego's lane
        # bit (_leaders_key) are unchanged.
        self._leaders = np.full(n, n + 1, dtype=np.intp)
        self._vehicle_ids = np.arange(n)
        self._dt, self._a_max_dt = 0.0, self.a_max
        # Flat index of row r's first column in a (2n, n + 1) matrix (MOBIL's rows).
        self._row_start = np.arange(2 * n, dtype=np.intp) * (n + 1)
        self._no_changes = np.zeros(n, dtype=bool)
        self._no_changes.flags.writeable = False
        self._leaders_key: int | None = None
        self.occ = np.zeros(n, dtype=np.intp)
        self.update_lanes()

    @staticmethod
    def driver_params(
        rng: np.random.Generator, n: int, speed_limit: float, aggressiveness: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Draws per-driver ``(v0, headway, a_max, politeness)``; aggressive = faster, closer."""
        agg = rng.uniform(aggressiveness - 0.1, aggressiveness + 0.1, n)
        np.minimum(np.maximum(agg, 0.0, out=agg), 1.0, out=agg)
        v0 = speed_limit * (rng.uniform(0.8, 1.0, n) + 0.2 * agg)
        return v0, 1.6 - 0.8 * agg, 1.0 + 1.5 * agg, 0.5 * (1.0 - agg)

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
        v0, headway, a_max, politeness = cls.driver_params(rng, count, speed_limit, aggressiveness)
        lanes = rng.integers(0, road.lanes, count).astype(np.intp)
        # Evenly spaced slots per lane across the window, each jittered within its slot.
        by_lane = np.argsort(lanes, kind="stable")
        per_lane = np.bincount(lanes, minlength=road.lanes)
        lane_sorted = lanes[by_lane]
        rank = np.arange(count) - (np.cumsum(per_lane) - per_lane)[lane_sorted]
        lo, hi = center_s - BEHIND * 0.8, center_s + AHEAD * 0.9
        spacing = (hi - lo) / np.maximum(per_lane, 1)[lane_sorted]
        s = np.empty(count)
        s[by_lane] = lo + (rank + rng.uniform(0.0, 0.3, count)) * spacing
        v = np.minimum(v0, speed_limit) * rng.uniform(0.85, 1.0, count)
        if keep_clear is not None:
            ego_s, ego_d = keep_clear
            near = (lanes == road.lane_of(ego_d)) & (np.abs(s - ego_s) < 25.0)
            s[near] = ego_s + 40.0 + 25.0 * np.arange(int(near.sum()))
        # Push vehicles forward in their lane until every gap lets IDM stop safely:
        # s'[j] = max(s[j], s'[j-1] + need[j-1]) along each lane, which is a running
        # maximum of s - cumsum(need); lanes are kept apart by a large per-lane offset.
        order = np.lexsort((s, lanes))
        need = (VEHICLE_LENGTH + IDM_S0) + v[order]
        before = np.cumsum(need) - need
        apart = lanes[order] * 1e7
        s[order] = np.maximum.accumulate(s[order] - before + apart) + before - apart
        return cls(
            road,
            s=s,
            v=v,
            lane=lanes,
            v0=v0,
            headway=headway,
            a_max=a_max,
            politeness=politeness,
            friction=friction,
            rng=rng,
        )

    # ------------------------------------------------------------------ queries

    def update_lanes(self) -> None:
        """Recomputes the physical lanes ``occ`` and lane bitmasks ``bits`` from ``d``.

        A vehicle occupies its physical lane and its target lane (both while changing).
        """
        road = self.road
        occ = (self.d * (1.0 / road.lane_width) + (0.5 * road.lanes + 1.0)).astype(np.intp) - 1
        np.minimum(np.maximum(occ, 0, out=occ), road.lanes - 1, out=occ)
        self.occ = occ
        lane_bit = self._lane_bit
        np.bitwise_or(lane_bit.take(occ), lane_bit.take(self.lane), out=self.bits)
        self._leaders_key = None

    def as_lists(self) -> tuple[list[float], list[float], list[float], list[int]]:
        """``(s, v, d, bits)`` as plain lists, for per-vehicle Python loops in observers."""
        s, v, d = self._floats[:3, : self.count].tolist()
        return s, v, d, self.bits.tolist()

    def min_gap(self) -> float:
        """Smallest bumper-to-bumper gap between two vehicles sharing a lane [m]."""
        if self.count < 2:
            return math.inf
        same = (self.bits[:, None] & self.bits[None, :]) != 0
        gap = np.abs(self.s[:, None] - self.s[None, :]) - VEHICLE_LENGTH
        np.fill_diagonal(gap, np.inf)
        return float(np.min(np.where(same, gap, np.inf)))

    # --------------------------------------------------------------- dynamics

    def step(self, dt: float, *, ego: EgoState | None = None, mobil_every: int = 5) -> np.ndarray:
        """Advances all vehicles by ``dt``; returns a (read-only) bool mask of lane changes begun.

        The ego (if given) takes part as a leader/follower but is not moved. MOBIL
        decisions are taken every ``mobil_every`` calls (drivers do not reconsider
        their lane at every control step; the env makes that ``MOBIL_PERIOD``).
        """
        n = self.count
        self._steps += 1
        if n == 0:
            return np.zeros(0, dtype=bool)
        road = self.road
        S, V, B = self._S, self._V, self._B
        ego_bit = 0
        if ego is not None:
            lane = int(ego.d / road.lane_width + 0.5 * road.lanes + 1.0) - 1
            ego_bit = 1 << min(max(lane, 0), road.lanes - 1)
            S[n], V[n], B[n] = ego.s, ego.v, ego_bit
        decide = self._steps % mobil_every == 0
        if self._leaders_key != ego_bit or self._steps % (LEADER_GUARD * mobil_every) == 0:
            self._find_leaders()
            self._leaders_key = ego_bit
        leader = self._leaders
        lead_gap = S.take(leader)
        lead_gap -= self.s
        lead_gap -= filled(VEHICLE_LENGTH, n)
        if decide:
            self._update_desired_speeds()
        v0 = self._v0_now
        if dt != self._dt:
            self._dt, self._a_max_dt = dt, self.a_max * dt
        # IDM with a_max scaled by dt: the speed change of this step.
        dv = _idm(
            self.v,
            v0,
            lead_gap,
            V.take(leader),
            self.headway,
            self._a_max_dt,
            self._INV_ROOT[:n],
            max_brake=IDM_MAX_BRAKE * dt,
        )

        started = self._mobil(dv * (1.0 / dt), v0, ego) if decide else None

        # --- integrate (semi-implicit Euler), in place so the views stay valid
        self.v += dv
        np.maximum(self.v, filled(0.0, n), out=self.v)
        self.s += self.v * dt
        if self._movers:
            self._move_sideways(dt)
        if ego is not None:
            S[n], B[n] = -1e9, 0
        return self._no_changes if started is None else started

    def _update_desired_speeds(self) -> None:
        """Caps every driver's desired speed by the curve speed on the road just ahead."""
        if self._v_curve_ahead is not None:
            k = (self.s * self._inv_ds).astype(np.intp)
            np.minimum(self.v0, self._v_curve_ahead.take(k, mode="clip"), out=self._v0_now)

    def _gaps_ahead(self) -> np.ndarray:
        """``ds[i, j]``: how far slot ``j`` (a vehicle or the ego) is ahead of vehicle ``i``."""
        return self._S[: self.count + 1] - self.s[:, None]

    def _find_leaders(self) -> None:
        """Searches every vehicle's leader: the nearest slot ahead sharing a lane bit.

        The far-ahead phantom (slot ``count + 1``) is in every lane here, so a vehicle
        with nobody ahead in its lanes gets it.
        """
        n = self.count
        ds = self._S - self.s[:, None]  # the diagonal is 0: never a leader
        self._B[n + 1] = -1  # every lane bit
        same_lane = (self._B & self.bits[:, None]) != 0
        self._B[n + 1] = 0
        self._leaders = np.where(same_lane & (ds > 0.0), ds, np.inf).argmin(axis=1)

    def _move_sideways(self, dt: float) -> None:
        """Moves the lane changers toward their target lane's centre, then their lanes.

        A few vehicles change lanes at a time, so plain floats over them beat full-array
        NumPy updates; the others' ``d``, ``occ`` and ``bits`` are unchanged.
        """
        road = self.road
        width, lanes = road.lane_width, road.lanes
        centre, offset = 0.5 * (lanes - 1), 0.5 * lanes + 1.0
        lat = width / LANE_CHANGE_TIME * dt
        inv_w = 1.0 / width
        d, lane, occ, bits = self.d, self.lane, self.occ, self.bits
        still = []
        for i in self._movers:
            target = int(lane[i])
            target_d = (target - centre) * width
            di = float(d[i])
            di += min(max(target_d - di, -lat), lat)
            d[i] = di
            if di != target_d:
                still.append(i)
            o = min(max(int(di * inv_w + offset) - 1, 0), lanes - 1)
            occ[i] = o
            new_bits = (1 << o) | (1 << target)
            if new_bits != bits[i]:
                bits[i] = new_bits
                self._leaders_key = None
        self._movers = still

    def _mobil(self, acc: np.ndarray, v0: np.ndarray, ego: EgoState | None) -> np.ndarray:
        """MOBIL decisions for every settled vehicle, left and right stacked in one pass.

        Gain = own acceleration gain + politeness x (new follower's gain + old
        follower's gain), above ``MOBIL_THRESHOLD`` (Kesting et al., 2007); safe when
        the new follower (and the changer) need not brake harder than ``MOBIL_B_SAFE``
        and both gaps exceed ``IDM_S0 + 1`` m. The old follower is the vehicle whose
        leader the changer is; the ego never counts as one (it is not modelled as
        yielding or gaining).
        """
        road, n = self.road, self.count
        S, V, B = self._S, self._V, self._B[: n + 1]
        follower = np.full(n + 2, n + 1, dtype=np.intp)  # n + 1: none
        follower[self._leaders] = self._vehicle_ids
        old_follower = follower[:n]
        has_old_follower = old_follower < n
        # Nobody gains more than its free-road acceleration over the current one, so
        # only a driver held back (or holding back its follower) can gain by changing.
        headroom = self.v / v0
        headroom *= headroom
        headroom *= headroom
        np.subtract(1.0, headroom, out=headroom)
        headroom *= self.a_max
        headroom -= acc
        held_back = np.where(has_old_follower, headroom.take(old_follower, mode="clip"), 0.0)
        held_back *= self.politeness
        held_back += headroom
        want = held_back > MOBIL_THRESHOLD
        if self._movers:
            want[self._movers] = False  # only drivers settled in their lane decide
        cand = want.nonzero()[0]
        if len(cand) == 0:
            return self._no_changes
        me = np.concatenate((cand, cand))
        lane = self.lane[cand]
        target = np.concatenate((lane + 1, lane - 1))
        valid = (target >= 0) & (target < road.lanes)
        tbit = self._lane_bit[np.maximum(target, 0)]
        ds2 = self._gaps_ahead()[me]
        in_t = (B & tbit[:, None]) != 0
        gaps = np.where(in_t, ds2, np.inf)
        ahead = np.where(gaps > 0.0, gaps, np.inf)
        # A vehicle level with us (ds == 0) counts as behind: it blocks the gap too. We
        # are never in our own target lane while settled, so the diagonal drops out.
        # The follower is the target-lane vehicle with the largest ds <= 0.
        behind = np.where(gaps <= 0.0, gaps, -np.inf)
        li, fi = ahead.argmin(axis=1), behind.argmax(axis=1)
        start = self._row_start[: len(me)]
        nl_gap = ahead.take(li + start)
        nl_gap -= VEHICLE_LENGTH
        np.minimum(nl_gap, NO_LEADER_GAP, out=nl_gap)
        f_raw = behind.take(fi + start)
        np.negative(f_raw, out=f_raw)
        has_f = f_raw < np.inf
        nf_gap = np.minimum(f_raw - VEHICLE_LENGTH, NO_LEADER_GAP)
        if ego is not None:
            self._V0_NOW[n] = max(ego.v, 1.0)
        # The old follower's new leader would be our current one.
        of = old_follower.take(me)
        our_leader = self._leaders.take(me)
        of_gap = S.take(our_leader) - S.take(of)
        of_gap -= VEHICLE_LENGTH
        # One IDM call for: new follower now (behind our new leader), new follower
        # after, me after, old follower after.
        who = np.concatenate((fi, fi, me, of))
        gap = np.concatenate((nf_gap + VEHICLE_LENGTH + nl_gap, nf_gap, nl_gap, of_gap))
        _, v_who, _, _, headway, a_max, v0_who, inv_root = self._floats[:, who]
        a4 = _idm(
            v_who,
            v0_who,
            np.maximum(gap, 0.1, out=gap),
            V.take(np.concatenate((li, me, li, our_leader))),
            headway,
            a_max,
            inv_root,
        )
        m = len(me)
        nf_now, nf_after, my_after = a4[:m], a4[m : 2 * m], a4[2 * m : 3 * m]
        of_gain = a4[3 * m :] - acc.take(of, mode="clip")
        of_gain *= has_old_follower.take(me)
        safe = (
            (nf_after > -MOBIL_B_SAFE)
            & (nf_gap > IDM_S0 + 1.0)
            & (nl_gap > IDM_S0 + 1.0)
            & (my_after > -MOBIL_B_SAFE)
        )
        if ego is not None:
            # The ego is not assumed to yield: never cut in close in front of it.
            safe &= (fi != n) | ~has_f | (nf_gap > 2.0 * ego.v + 10.0)
        gain = my_after - acc[me] + self.politeness[me] * (nf_after - nf_now + of_gain)
        gain = np.where(valid & safe, gain, -np.inf).reshape(2, len(cand))
        go_left = gain[0] >= gain[1]
        best = np.where(go_left, gain[0], gain[1])
        go = best > MOBIL_THRESHOLD
        if np.count_nonzero(go) > 1:
            # Two drivers must not move into the same gap from both sides: of any two
            # starters heading for the same lane within a safe distance, the one
            # behind waits.
            lane_to = np.where(go_left, lane + 1, lane - 1)
            s_c = self.s[cand]
            rel = s_c[None, :] - s_c[:, None]  # > 0: column ahead of row
            clash = (
                go[:, None]
                & go[None, :]
                & (lane_to[:, None] == lane_to[None, :])
                & (np.abs(rel) < 2 * VEHICLE_LENGTH + 20.0)
                & (rel > 0.0)
            )
            go &= ~clash.any(axis=1)
        if go.any():
            started = np.zeros(n, dtype=bool)
            started[cand] = go
            self.lane[cand] += np.where(go, np.where(go_left, 1, -1), 0)
            self._movers = sorted(set(self._movers).union(cand[go].tolist()))
            self.update_lanes()
            return started
        return self._no_changes

    # ------------------------------------------------------------- recycling

    def recycle(self, ego_s: float, speed_limit: float) -> int:
        """Moves vehicles that left the window around the ego to its far edges.

        A vehicle far behind reappears ahead, one far ahead reappears behind, each in a
        lane slot at least ``RECYCLE_CLEARANCE`` from any other vehicle (the clearest
        slot when none is) and at the speed of the nearest vehicle in that lane.
        Returns how many left the window.
        """
        if self.count == 0:
            return 0
        s_list = self.s.tolist()  # Python min/max: cheaper than two small reductions
        if min(s_list) >= ego_s - BEHIND and max(s_list) <= ego_s + AHEAD:
            return 0
        road = self.road
        rel = self.s - ego_s
        out = np.flatnonzero((rel < -BEHIND) | (rel > AHEAD)).tolist()
        lane_bits = self._lane_bit[: road.lanes, None]
        for i in out:
            # Candidate slots: every lane x positions inside the window's far edge.
            if rel[i] < 0:
                cand = (ego_s + AHEAD) + _RECYCLE_OFFSETS
            else:
                cand = (ego_s - BEHIND) - _RECYCLE_OFFSETS
            cand += self.rng.uniform(-3.0, 3.0, len(cand))
            others = (self.bits & lane_bits) != 0  # (lanes, n)
            others[:, i] = False
            dist = np.where(others[:, None, :], np.abs(self.s - cand[:, None]), np.inf)
            nearest = dist.argmin(axis=2)  # (lanes, candidates): nearest other vehicle
            clearance = dist.min(axis=2)
            free = np.flatnonzero(clearance > RECYCLE_CLEARANCE)
            if len(free):
                pick = int(free[int(self.rng.random() * len(free))])
            else:
                pick = int(clearance.argmax())
            lane, slot = divmod(pick, len(cand))
            speed = min(float(self.v0[i]), speed_limit)
            if clearance[lane, slot] < 120.0:
                # Match the nearest vehicle in the lane so nobody has to brake hard.
                speed = float(self.v[nearest[lane, slot]])
            s_new = float(cand[slot])
            self.s[i], self.lane[i], self.occ[i], self.v[i] = s_new, lane, lane, speed
            self.d[i] = road.lane_center(lane)
            self.bits[i] = 1 << lane
        self._leaders_key = None
        self._update_desired_speeds()
        return len(out)


def _idm(
    v: np.ndarray,
    v0: np.ndarray,
    gap: np.ndarray,
    lead_v: np.ndarray,
    headway: np.ndarray,
    a_max: np.ndarray,
    inv_root: np.ndarray,
    *,
    max_brake: float = IDM_MAX_BRAKE,
) -> np.ndarray:
    """IDM acceleration (vectorised); ``inv_root`` is ``1 / (2 * sqrt(a_max * b))``.

    ``gap`` (bumper to bumper) must be nonzero; it is negative only for an overlap,
    which brakes as hard as allowed (``max_brake``). Pass ``a_max * dt`` and
    ``max_brake * dt`` to get the speed change over ``dt`` instead.

    In-place on temporaries, with array (not scalar) constants: each small-array NumPy
    call costs more than its arithmetic, and a scalar operand adds half as much again.
    """
    n = len(v)
    s_star = v - lead_v
    s_star *= inv_root
    s_star += headway
    s_star *= v  # v * T + v * dv / (2 sqrt(a b))
    s_star += filled(IDM_S0, n)
    np.maximum(s_star, filled(IDM_S0, n), out=s_star)
    s_star /= gap
    s_star *= s_star
    r = v / v0
    r *= r
    r *= r
    r += s_star
    np.subtract(filled(1.0, n), r, out=r)
    r *= a_max
    return np.maximum(r, filled(-max_brake, n), out=r)
