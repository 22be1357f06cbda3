"""Scripted IK experts for the robot envs (reach and push), used to normalise scores.

The expert reads privileged simulator state (true end-effector, cube and target
positions, the actions still queued by control latency) from ``env.unwrapped``, picks an
end-effector waypoint, and turns it into an action for the env's control mode: a
Cartesian displacement (``control="ee"``) or, through PyBullet's inverse kinematics,
joint displacements (``control="joints"``). Queued actions are accounted for, so
latency does not make it overshoot.

Example:
    >>> from envs.robot.env import RobotEnv
    >>> env = RobotEnv(task="reach")
    >>> expert = RobotExpert(env)
    >>> obs, info = env.reset(seed=1)
    >>> for _ in range(50):
    ...     action, _ = expert.predict(obs)
    ...     obs, reward, terminated, truncated, info = env.step(action)
    ...     if terminated or truncated:
    ...         break
    >>> info["is_success"]
    True
    >>> env.close()
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.robot.robot import EE_STEP, JOINT_STEP

__all__ = ["RobotExpert"]

CLEARANCE = 0.025  # m between the cube's face and the end effector before a push
LATERAL_TOLERANCE = 0.015  # m off the push line before the expert re-approaches
LIFT = 0.04  # m above the cube top when travelling around it
PUSH_STEP = 0.015  # m the cube is pushed per step at most (0.375 m/s)
PUSH_GAIN = 0.6  # fraction of the remaining distance pushed per step


class RobotExpert:
    """IK-based scripted policy for ``RobotEnv`` (both tasks, both control modes).

    Args:
        env: A ``RobotEnv``, possibly wrapped.
    """

    def __init__(self, env: Any) -> None:
        self.env = env

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """Returns the action for the current state (``observation`` is not needed)."""
        base = self.env.unwrapped
        robot = base.robot
        ee = robot.ee_position()
        pending = np.sum(list(robot._queue), axis=0) if robot._queue else 0.0
        # Where the queued actions will take the end effector (ee control only).
        predicted = ee + np.asarray(pending) * EE_STEP if robot.control == "ee" else ee
        if base.task_name == "reach":
            waypoint = np.asarray(base.task.goal, dtype=np.float64)
        else:
            waypoint = self._push_waypoint(base, predicted)
        if robot.control == "ee":
            action = (waypoint - predicted) / EE_STEP
        else:
            step = np.clip(waypoint - ee, -EE_STEP, EE_STEP)
            q_target = robot.ik(ee + step)
            predicted = robot.arm_angles() + np.asarray(pending) * JOINT_STEP
            action = (q_target - predicted) / JOINT_STEP
        return np.clip(action, -1.0, 1.0).astype(np.float32), state

    @staticmethod
    def _push_waypoint(base: Any, ee: np.ndarray) -> np.ndarray:
        task = base.task
        half = task.size / 2
        cube = task.achieved_goal()
        goal = np.asarray(task.goal, dtype=np.float64)
        offset = goal[:2] - cube[:2]
        dist = float(np.linalg.norm(offset))
        direction = offset / dist if dist > 1e-6 else np.array([1.0, 0.0])
        behind = cube[:2] - direction * (half + CLEARANCE)
        rel = ee[:2] - cube[:2]
        along = float(rel @ direction)
        lateral = float(np.linalg.norm(rel - along * direction))
        push_z = max(cube[2], 0.012)
        safe_z = cube[2] + half + LIFT
        in_line = along < -half + 0.005 and lateral < LATERAL_TOLERANCE
        if in_line and ee[2] < push_z + 0.02:  # low and behind the cube: push
            push = min(PUSH_GAIN * dist, PUSH_STEP)
            xy = cube[:2] - direction * (half + 0.01) + direction * push
            move = xy - ee[:2]
            norm = float(np.linalg.norm(move))
            if norm > PUSH_STEP:  # never hit the cube faster than PUSH_STEP per step
                xy = ee[:2] + move * (PUSH_STEP / norm)
            return np.array([xy[0], xy[1], push_z])
        near = float(np.linalg.norm(ee[:2] - behind)) < 0.01
        if in_line or near:  # above the push point: descend
            return np.array([behind[0], behind[1], push_z])
        if ee[2] < safe_z - 0.01 and float(np.linalg.norm(rel)) < half + 0.05:
            return np.array([ee[0], ee[1], safe_z])  # next to the cube: lift first
        return np.array([behind[0], behind[1], safe_z])
