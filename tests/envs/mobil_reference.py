"""A slow, readable MOBIL: one driver and one direction at a time, in plain Python.

It states what ``TrafficBatch._mobil`` computes with arrays (Kesting et al., 2007, with
this simulator's rules) so a test can check the fast version against it decision by
decision. It is a test helper, not used by the env.

Slots of a world: its ``V`` vehicles, then the ego (slot ``V``), then the far-ahead
phantom (slot ``V + 1``). A slot is in a lane when its lane bits contain that lane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.driving.vehicle import (
    _EXTRA_A_MAX,
    _EXTRA_HEADWAY,
    IDM_B,
    IDM_MAX_BRAKE,
    IDM_S0,
    MAX_LANES,
    MOBIL_B_SAFE,
    MOBIL_THRESHOLD,
    NO_LEADER_GAP,
    VEHICLE_LENGTH,
    TrafficBatch,
)


def idm_scalar(
    v: float, v0: float, gap: float, lead_v: float, headway: float, a_max: float, root: float
) -> float:
    """IDM acceleration of one driver, in the same operation order as ``vehicle.idm``."""
    s_star = max(v * (headway + (v - lead_v) * root) + IDM_S0, IDM_S0)
    ratio = s_star / gap if gap > 0.0 else math.inf
    r = v / v0
    r4 = (r * r) * (r * r)
    return max(a_max * (1.0 - r4 - ratio * ratio), -IDM_MAX_BRAKE)


@dataclass
class Slot:
    """What IDM needs of one slot."""

    s: float
    v: float
    bits: int
    v0: float
    headway: float
    a_max: float
    root: float


def world_slots(
    traffic: TrafficBatch, k: int, slots_s: np.ndarray, slots_v: np.ndarray,
    slots_b: np.ndarray, ego_v: float,
) -> list[Slot]:  # fmt: skip
    """The ``V + 2`` slots of world ``k``: vehicles, the ego, the phantom."""
    cap = traffic.capacity
    root = 0.5 / math.sqrt(_EXTRA_A_MAX * IDM_B)
    out = []
    for j in range(cap + 2):
        if j < cap:
            params = (
                traffic.v0_now[k, j],
                traffic.headway[k, j],
                traffic.a_max[k, j],
                traffic.inv_root[k, j],
            )
        elif j == cap:  # the ego: its own speed is its desired speed
            params = (max(ego_v, 1.0), _EXTRA_HEADWAY, _EXTRA_A_MAX, root)
        else:  # the phantom
            params = (20.0, _EXTRA_HEADWAY, _EXTRA_A_MAX, root)
        out.append(Slot(float(slots_s[k, j]), float(slots_v[k, j]), int(slots_b[k, j]), *params))
    return out


def accel(who: Slot, front: Slot, gap: float) -> float:
    """IDM acceleration of ``who`` behind ``front`` at bumper gap ``gap`` (at least 0.1 m)."""
    return idm_scalar(who.v, who.v0, max(gap, 0.1), front.v, who.headway, who.a_max, who.root)


def mobil_reference(
    traffic: TrafficBatch,
    worlds: np.ndarray,
    acc: np.ndarray,
    slots_s: np.ndarray,
    slots_v: np.ndarray,
    slots_b: np.ndarray,
    leader: np.ndarray,
    ego_v: np.ndarray,
    ego_lane: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """MOBIL decisions in ``worlds``: ``(go, lane step)``, each ``(W, V)``, driver by driver."""
    cap = traffic.capacity
    go = np.zeros((len(worlds), cap), dtype=bool)
    step = np.zeros((len(worlds), cap), dtype=np.intp)
    for row, k in enumerate(worlds.tolist()):
        slots = world_slots(traffic, k, slots_s, slots_v, slots_b, float(ego_v[k]))
        settled = traffic.settled()[k]

        def headroom(i: int, k: int = k) -> float:
            """How much more than its current acceleration driver ``i`` could accelerate."""
            r = traffic.v[k, i] / traffic.v0_now[k, i]
            return traffic.a_max[k, i] * (1.0 - (r * r) * (r * r)) - acc[k, i]

        starters: list[tuple[int, int, float]] = []  # (driver, lane it moves to, its s)
        for me in range(cap):
            # My old follower: the last vehicle whose leader I am (the ego never counts).
            followers = [j for j in range(cap) if leader[k, j] == me]
            old_f = followers[-1] if followers else None
            held_back = headroom(me) + traffic.politeness[k, me] * (
                headroom(old_f) if old_f is not None else 0.0
            )
            if not (held_back > MOBIL_THRESHOLD and settled[me] and traffic.present[k, me]):
                continue  # only drivers held back (or holding back) and settled decide
            lane, s_me = int(traffic.lane[k, me]), float(traffic.s[k, me])
            gains = []
            for target in (lane + 1, lane - 1):  # left, then right
                our_lead = int(leader[k, me])
                gains.append(
                    _gain(traffic, k, me, target, old_f, our_lead, slots, acc, s_me, ego_v,
                          ego_lane)
                )  # fmt: skip
            go_left = gains[0] >= gains[1]
            best = gains[0] if go_left else gains[1]
            if best > MOBIL_THRESHOLD:
                starters.append((me, lane + 1 if go_left else lane - 1, s_me))
        # Of two starters into the same lane within a safe distance, the one behind waits.
        for me, lane_to, s_me in starters:
            waits = any(
                other_lane == lane_to and 0.0 < other_s - s_me < 2 * VEHICLE_LENGTH + 20.0
                for other, other_lane, other_s in starters
                if other != me
            )
            if not waits:
                go[row, me] = True
                step[row, me] = 1 if lane_to > int(traffic.lane[k, me]) else -1
    return go, step


def _gain(
    traffic: TrafficBatch, k: int, me: int, target: int, old_f: int | None, our_lead: int,
    slots: list[Slot], acc: np.ndarray, s_me: float, ego_v: np.ndarray,
    ego_lane: np.ndarray | None,
) -> float:  # fmt: skip
    """MOBIL gain of driver ``me`` moving to lane ``target`` (``-inf``: invalid or unsafe)."""
    cap = traffic.capacity
    bit = 1 << min(max(target, 0), MAX_LANES - 1)
    in_target = [j for j in range(cap + 1) if slots[j].bits & bit]  # vehicles and the ego
    ahead = [(slots[j].s - s_me, j) for j in in_target if slots[j].s - s_me > 0.0]
    behind = [(slots[j].s - s_me, j) for j in in_target if slots[j].s - s_me <= 0.0]
    # New leader: the nearest ahead (the first slot on a tie; slot 0 when there is none,
    # whose speed then meets a gap of NO_LEADER_GAP and does not matter).
    nearest_ahead, new_l = min(ahead, key=lambda t: t[0]) if ahead else (math.inf, 0)
    nl_gap = min(nearest_ahead - VEHICLE_LENGTH, NO_LEADER_GAP)
    # New follower: the nearest at or behind my position (level counts as behind).
    nearest_behind, new_f = max(behind, key=lambda t: t[0]) if behind else (-math.inf, 0)
    has_f = bool(behind)
    nf_gap = min(-nearest_behind - VEHICLE_LENGTH, NO_LEADER_GAP)
    me_slot, nl, nf = slots[me], slots[new_l], slots[new_f]
    nf_now = accel(nf, nl, nf_gap + VEHICLE_LENGTH + nl_gap)
    nf_after = accel(nf, me_slot, nf_gap)
    my_after = accel(me_slot, nl, nl_gap)
    of_gain = 0.0
    if old_f is not None:
        of_gap = slots[our_lead].s - slots[old_f].s - VEHICLE_LENGTH
        of_gain = accel(slots[old_f], slots[our_lead], of_gap) - acc[k, old_f]
    valid = 0 <= target < traffic.lanes[k]
    safe = (
        nf_after > -MOBIL_B_SAFE
        and nf_gap > IDM_S0 + 1.0
        and nl_gap > IDM_S0 + 1.0
        and my_after > -MOBIL_B_SAFE
    )
    if ego_lane is not None and new_f == cap and has_f and nf_gap <= 2.0 * ego_v[k] + 10.0:
        safe = False  # nobody cuts in close in front of the ego
    if not (valid and safe):
        return -math.inf
    politeness = traffic.politeness[k, me]
    return my_after - acc[k, me] + politeness * (nf_after - nf_now + of_gain)
