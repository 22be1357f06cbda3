"""Scripted expert for the driving env: lane keeping + IDM speed control + cautious MOBIL.

It reads privileged state from ``env.unwrapped`` (road, ego, traffic, scenario): it
plans a speed that respects the speed limit and the friction limit of the curves ahead
(braking for them in time), follows the lead vehicle with IDM, changes lanes only
around a slow leader into a clearly free gap, and steers with the lane-tracking
controller of :mod:`envs.driving.actions`.

Example:
    >>> from envs.driving.env import DrivingEnv
    >>> env = DrivingEnv()
    >>> expert = DrivingExpert(env)
    >>> obs, _ = env.reset(seed=3)
    >>> action, _ = expert.predict(obs)
    >>> env.action_space.contains(action)
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envs.driving.actions import META_ACTIONS, encode_continuous, track
from envs.driving.arrays import running_min_ahead
from envs.driving.vehicle import VEHICLE_LENGTH, G

__all__ = ["DrivingExpert"]

SPEED_LOOKAHEAD = 150.0  # [m] of road whose curves the speed plan brakes for
FRICTION_USE = 0.6  # fraction of the friction limit the expert plans to use in curves
COMFORT_BRAKE = 2.5  # [m/s^2] used to slow down for curves ahead
IDM_T, IDM_S0, IDM_A, IDM_B = 1.3, 4.0, 2.0, 3.0


class DrivingExpert:
    """Privileged rule-based driver usable as an SB3-style policy.

    Args:
        env: A driving env (possibly wrapped); the expert reads ``env.unwrapped``.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self._target_lane = 0
        self._plan_for: tuple[Any, float] | None = None  # (road, friction) of the plan
        self._speed_plan: list[float] = []
        self._cooldown = 0

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[Any, Any]:
        """Returns the action for the env's current state (``observation`` is unused)."""
        env = self.env.unwrapped
        road, ego, traffic, sc = env.road, env.ego, env.traffic, env.scenario
        if road is None:
            raise RuntimeError("reset the env before asking the expert for an action")
        lane = road.lane_of(ego.d)
        if env.elapsed_steps == 0 or (episode_start is not None and bool(np.any(episode_start))):
            self._target_lane, self._cooldown = lane, 0
        limit = sc["speed_limit"]

        # Speed plan: the limit, and every curve ahead reachable by comfortable braking.
        if self._plan_for is None or self._plan_for[0] is not road:
            self._speed_plan = _speed_plan(road, sc["friction"])
            self._plan_for = (road, sc["friction"])
        plan = self._speed_plan
        v_des = min(limit, plan[road.sample_index(ego.s)])

        # Plain lists: a few passes over ~20 vehicles beat small-array NumPy calls.
        # A vehicle is in lane k when k is its physical or its target lane (its bits).
        ego_s = ego.s
        others = [
            (s - ego_s, bits, v)
            for s, bits, v in zip(
                traffic.s.tolist(), traffic.bits.tolist(), traffic.v.tolist(), strict=True
            )
        ]

        def lead_in(k: int) -> tuple[float, float]:
            bit = 1 << k
            ahead = [(r, v) for r, bits, v in others if r > 0.0 and bits & bit]
            if not ahead:
                return 1e4, v_des
            r, v = min(ahead)
            return r - VEHICLE_LENGTH, v

        def follower_gap(k: int) -> tuple[float, float]:
            bit = 1 << k
            behind = [(r, v) for r, bits, v in others if r <= 0.0 and bits & bit]
            if not behind:
                return 1e4, 0.0
            r, v = max(behind)
            return -r - VEHICLE_LENGTH, v

        # Lane choice: leave a slow leader for a clearly free adjacent lane.
        self._cooldown = max(self._cooldown - 1, 0)
        settled = abs(ego.d - road.lane_center(self._target_lane)) < 0.3
        gap, lead_v = lead_in(self._target_lane)
        if settled and self._cooldown == 0 and gap < 60.0 and lead_v < v_des - 3.0:
            best = gap
            for k in (self._target_lane + 1, self._target_lane - 1):
                if not 0 <= k < road.lanes:
                    continue
                g_ahead, v_ahead = lead_in(k)
                g_behind, v_behind = follower_gap(k)
                closing = max(v_behind - ego.v, 0.0)
                if (
                    g_ahead > best + 15.0
                    and v_ahead > lead_v + 2.0
                    and g_ahead > 20.0 + ego.v
                    and g_behind > 15.0 + 3.0 * closing + 0.5 * ego.v
                ):
                    self._target_lane, best = k, g_ahead
            if self._target_lane != lane:
                self._cooldown = 25

        # IDM toward v_des behind the nearest leader in the current or target lane.
        g1, v1 = lead_in(lane)
        g2, v2 = lead_in(self._target_lane)
        gap, lead_v = (g1, v1) if g1 <= g2 else (g2, v2)
        v = ego.v
        s_star = IDM_S0 + max(v * IDM_T + v * (v - lead_v) / (2 * math.sqrt(IDM_A * IDM_B)), 0)
        accel = IDM_A * (1 - (v / max(v_des, 0.1)) ** 4 - (s_star / max(gap, 0.1)) ** 2)

        target_d = float(road.lane_center(self._target_lane))
        steer, _ = track(road, ego, target_d, v_des)
        if env.action_type == "continuous":
            return encode_continuous(steer, accel), state
        if self._target_lane > env.target_lane:
            name = "LANE_LEFT"
        elif self._target_lane < env.target_lane:
            name = "LANE_RIGHT"
        else:
            want = max(0.0, v + accel * 1.0)
            if want > env.target_speed + 2.0:
                name = "FASTER"
            elif want < env.target_speed - 2.0:
                name = "SLOWER"
            else:
                name = "IDLE"
        return META_ACTIONS.index(name), state


def _speed_plan(road: Any, friction: float) -> list[float]:
    """Per road sample, the top speed [m/s] that can still brake for every curve ahead.

    Curves within ``SPEED_LOOKAHEAD`` count, braking at ``COMFORT_BRAKE``:
    ``v(s)^2 = min over s' in [s, s + lookahead] of (v_curve(s')^2 + 2 b (s' - s))``:
    a running minimum of ``v_curve^2 + 2 b s'`` ahead, minus ``2 b s``.
    """
    s = np.arange(len(road.kappa)) * road.ds
    v_curve_sq = FRICTION_USE * friction * G / np.maximum(np.abs(road.kappa), 1e-6)
    window = round(SPEED_LOOKAHEAD / road.ds) + 1
    reach_sq = running_min_ahead(v_curve_sq + 2.0 * COMFORT_BRAKE * s, window)
    reach_sq -= 2.0 * COMFORT_BRAKE * s
    return np.sqrt(reach_sq).tolist()
