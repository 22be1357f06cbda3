"""Actions: how an agent's action becomes a steering and acceleration command.

* ``continuous`` — ``Box(-1, 1, (2,))``: ``[steer, accel]``. ``steer`` commands a path
  curvature of ``steer * MAX_PATH_CURVATURE`` (turned into a front-wheel angle by the
  bicycle geometry), ``accel`` an acceleration of up to ``MAX_ACCEL`` forward or
  ``MAX_BRAKE`` braking.
* ``discrete`` — ``Discrete(5)`` meta-actions ``LANE_LEFT, IDLE, LANE_RIGHT, FASTER,
  SLOWER`` that move a target lane and a target speed; :func:`track` (a Frenet
  lane-tracking controller with curvature feed-forward) turns the targets into commands.

Everything works on N worlds at once (arrays with a leading world axis).
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces

from envs.driving.arrays import clamp
from envs.driving.road import Road
from envs.driving.vehicle import MAX_ACCEL, MAX_BRAKE, WHEELBASE, EgoState

__all__ = [
    "ACTION_TYPES",
    "MAX_PATH_CURVATURE",
    "META_ACTIONS",
    "DiscreteTargets",
    "action_space",
    "continuous_commands",
    "encode_continuous",
    "track",
    "track_commands",
]

ACTION_TYPES = ("continuous", "discrete")
MAX_PATH_CURVATURE = 0.06  # [1/m]
META_ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
SPEED_STEP = 4.0  # [m/s] per FASTER/SLOWER


def track_commands(
    kappa_ahead: np.ndarray,
    d: np.ndarray,
    psi: np.ndarray,
    v: np.ndarray,
    target_d: np.ndarray,
    target_speed: np.ndarray,
    *,
    lateral_gain: float = 0.6,
    heading_gain: float = 2.5,
    speed_gain: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lane-tracking controller, elementwise: ``(steer [rad], accel [m/s^2])``.

    The desired heading closes the lateral error with time constant ``1/lateral_gain``;
    the path curvature is the road's curvature ``kappa_ahead`` (taken ``0.2 * max(v, 3)``
    metres ahead) plus a correction that closes the heading error with rate
    ``heading_gain``.
    """
    v_min = np.maximum(v, 3.0)
    psi_des = clamp(np.arctan2(lateral_gain * (target_d - d), v_min), -0.25, 0.25)
    path_kappa = kappa_ahead + heading_gain * (psi_des - psi) / v_min
    return np.arctan(WHEELBASE * path_kappa), speed_gain * (target_speed - v)


def track(road: Road, ego: EgoState, target_d: float, target_speed: float) -> tuple[float, float]:
    """:func:`track_commands` for one ego on ``road``, as Python floats."""
    kappa = road.curvature_at(ego.s + 0.2 * max(ego.v, 3.0))
    steer, accel = track_commands(kappa, ego.d, ego.psi, ego.v, target_d, target_speed)
    return float(steer), float(accel)


def continuous_commands(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(steer [rad], accel [m/s^2])`` of ``(N, 2)`` validated ``[steer, accel]`` actions."""
    a = np.asarray(actions, dtype=np.float64)
    steer = np.arctan(WHEELBASE * MAX_PATH_CURVATURE * a[:, 0])
    return steer, a[:, 1] * np.where(a[:, 1] > 0, MAX_ACCEL, MAX_BRAKE)


def encode_continuous(steer: float, accel: float) -> np.ndarray:
    """The continuous action that asks for ``steer`` [rad] and ``accel`` [m/s^2] (clipped)."""
    a0 = math.tan(steer) / (WHEELBASE * MAX_PATH_CURVATURE)
    a1 = accel / (MAX_ACCEL if accel > 0 else MAX_BRAKE)
    return clamp(np.asarray([a0, a1], dtype=np.float32), -1.0, 1.0)


class DiscreteTargets:
    """Target lanes and speeds of N worlds, moved by meta-actions, tracked by the controller."""

    def __init__(self, num: int) -> None:
        self.lane = np.zeros(num, dtype=np.intp)
        self.speed = np.zeros(num)

    def reset(self, k: int, lane: int, speed: float) -> None:
        """World ``k``'s targets start at the ego's lane and (rounded) speed."""
        self.lane[k] = lane
        self.speed[k] = round(speed / SPEED_STEP) * SPEED_STEP

    def apply(self, actions: np.ndarray, lanes: np.ndarray, speed_limit: np.ndarray) -> None:
        """Moves every world's targets by its meta-action (``(N,)`` ints)."""
        self.lane = np.where(actions == 0, np.minimum(self.lane + 1, lanes - 1), self.lane)
        self.lane = np.where(actions == 2, np.maximum(self.lane - 1, 0), self.lane)
        faster = np.minimum(self.speed + SPEED_STEP, speed_limit + SPEED_STEP)
        self.speed = np.where(actions == 3, faster, self.speed)
        self.speed = np.where(actions == 4, np.maximum(self.speed - SPEED_STEP, 0.0), self.speed)


def action_space(action_type: str) -> spaces.Space:
    """The action space of ``action_type`` (``"continuous"`` or ``"discrete"``)."""
    if action_type == "continuous":
        return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    return spaces.Discrete(len(META_ACTIONS))
