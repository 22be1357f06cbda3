"""Actions: how an agent's action becomes a steering and acceleration command.

* ``continuous`` — ``Box(-1, 1, (2,))``: ``[steer, accel]``. ``steer`` commands a path
  curvature of ``steer * MAX_PATH_CURVATURE`` (turned into a front-wheel angle by the
  bicycle geometry), ``accel`` an acceleration of up to ``MAX_ACCEL`` forward or
  ``MAX_BRAKE`` braking.
* ``discrete`` — ``Discrete(5)`` meta-actions ``LANE_LEFT, IDLE, LANE_RIGHT, FASTER,
  SLOWER`` that move a target lane and a target speed; :func:`track` (a Frenet
  lane-tracking controller with curvature feed-forward) turns the targets into commands.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.driving.road import Road
from envs.driving.vehicle import MAX_ACCEL, MAX_BRAKE, WHEELBASE, EgoState

__all__ = [
    "ACTION_TYPES",
    "MAX_PATH_CURVATURE",
    "META_ACTIONS",
    "ContinuousActions",
    "DiscreteActions",
    "track",
]

ACTION_TYPES = ("continuous", "discrete")
MAX_PATH_CURVATURE = 0.06  # [1/m]
META_ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
SPEED_STEP = 4.0  # [m/s] per FASTER/SLOWER


def track(
    road: Road,
    ego: EgoState,
    target_d: float,
    target_speed: float,
    *,
    lateral_gain: float = 0.6,
    heading_gain: float = 2.5,
    speed_gain: float = 1.0,
) -> tuple[float, float]:
    """Lane-tracking controller: ``(steer [rad], accel [m/s^2])`` toward the targets.

    The desired heading closes the lateral error with time constant ``1/lateral_gain``;
    the path curvature is the road's curvature a short distance ahead plus a correction
    that closes the heading error with rate ``heading_gain``.
    """
    v = max(ego.v, 3.0)
    psi_des = math.atan2(lateral_gain * (target_d - ego.d), v)
    psi_des = min(max(psi_des, -0.25), 0.25)
    kappa_road = road.kappa_list[road.sample_index(ego.s + 0.2 * v)]
    path_kappa = kappa_road + heading_gain * (psi_des - ego.psi) / v
    steer = math.atan(WHEELBASE * path_kappa)
    accel = speed_gain * (target_speed - ego.v)
    return steer, accel


class ContinuousActions:
    """``[steer, accel]`` in ``[-1, 1]`` scaled to a curvature and an acceleration."""

    def __init__(self) -> None:
        self.space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, road: Road, ego: EgoState, speed_limit: float) -> None:
        """Nothing to remember between episodes."""

    def command(
        self, action: np.ndarray, road: Road, ego: EgoState, speed_limit: float
    ) -> tuple[float, float]:
        """``(steer [rad], accel [m/s^2])`` for a (validated) action."""
        steer = math.atan(WHEELBASE * MAX_PATH_CURVATURE * float(action[0]))
        a = float(action[1])
        return steer, a * (MAX_ACCEL if a > 0 else MAX_BRAKE)

    @staticmethod
    def encode(steer: float, accel: float) -> np.ndarray:
        """The action that asks for ``steer`` [rad] and ``accel`` [m/s^2] (clipped)."""
        a0 = math.tan(steer) / (WHEELBASE * MAX_PATH_CURVATURE)
        a1 = accel / (MAX_ACCEL if accel > 0 else MAX_BRAKE)
        return np.clip(np.asarray([a0, a1], dtype=np.float32), -1.0, 1.0)


class DiscreteActions:
    """Meta-actions over a target lane and target speed, executed by :func:`track`."""

    def __init__(self) -> None:
        self.space = spaces.Discrete(len(META_ACTIONS))
        self.target_lane = 0
        self.target_speed = 0.0

    def reset(self, road: Road, ego: EgoState, speed_limit: float) -> None:
        """Targets start at the ego's lane and speed."""
        self.target_lane = road.lane_of(ego.d)
        self.target_speed = round(ego.v / SPEED_STEP) * SPEED_STEP

    def command(
        self, action: int, road: Road, ego: EgoState, speed_limit: float
    ) -> tuple[float, float]:
        """Updates the targets with meta-action ``action``; returns the low-level command."""
        name = META_ACTIONS[int(action)]
        if name == "LANE_LEFT":
            self.target_lane = min(self.target_lane + 1, road.lanes - 1)
        elif name == "LANE_RIGHT":
            self.target_lane = max(self.target_lane - 1, 0)
        elif name == "FASTER":
            self.target_speed = min(self.target_speed + SPEED_STEP, speed_limit + SPEED_STEP)
        elif name == "SLOWER":
            self.target_speed = max(self.target_speed - SPEED_STEP, 0.0)
        return track(road, ego, float(road.lane_center(self.target_lane)), self.target_speed)
