"""The Franka Panda arm (``pybullet_data/franka_panda/panda.urdf``) on a :class:`Simulator`.

Two control modes, both position-controlled through PyBullet's joint motors:

* ``"ee"`` (default): the action is an end-effector displacement (dx, dy, dz) in
  [-1, 1], scaled by :data:`EE_STEP` metres, turned into joint targets by PyBullet's
  inverse kinematics with the gripper pointing down;
* ``"joints"``: the action is a displacement of the 7 arm joints in [-1, 1], scaled by
  :data:`JOINT_STEP` radians.

The gripper is held closed, as in panda-gym's Reach and Push, and here that is built
into the model: the URDF is loaded with its two finger joints made fixed and fixed links
merged (``URDF_MERGE_FIXED_LINKS``), so the hand and fingers are one rigid body with
link 7. Same meshes, masses and kinematics, 7 instead of 12 links and no finger motors,
which is most of why our physics step is cheaper than panda-gym's. The end effector is
the grasp point 0.212 m along link 7's axis (panda-gym's ``panda_grasptarget``).

The robot also carries three scenario knobs: motor damping (the motors' velocity gain;
PyBullet's ``jointDamping`` has no measurable effect under stiff position control), an
actuator gain (scales the motors' position gain) and a control latency of ``k`` steps
(actions take effect ``k`` control steps after they are given).

Example:
    >>> from envs.robot.sim import Simulator
    >>> sim = Simulator()
    >>> robot = Panda(sim)
    >>> robot.reset()
    >>> start = robot.ee_position()
    >>> for _ in range(5):
    ...     robot.set_action(np.array([0.0, 1.0, 0.0]))  # 5 cm per step along +y
    ...     sim.step()
    >>> bool(robot.ee_position()[1] - start[1] > 0.15)
    True
    >>> sim.close()
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data
from gymnasium import spaces

from envs.fileio import atomic_write
from envs.robot.sim import Simulator

__all__ = ["CONTROL_MODES", "EE_STEP", "JOINT_STEP", "Panda", "closed_gripper_urdf"]

CONTROL_MODES = ("ee", "joints")
EE_STEP = 0.05  # m per control step at |action| = 1 (panda-gym)
JOINT_STEP = 0.05  # rad per control step at |action| = 1 (panda-gym)
BASE_POSITION = (-0.6, 0.0, 0.0)
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
HAND_LINK = 6  # link 7 merged with hand and fingers
EE_OFFSET = 0.212  # grasp point along the hand link's z axis (0.107 + 0.105 in the URDF)
NEUTRAL = (0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79)  # ee at about (0, 0, 0.2)
FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0)  # panda-gym's arm forces
DOWN = (1.0, 0.0, 0.0, 0.0)  # grasp frame pointing down (quaternion x, y, z, w)
# Link-7 orientation that puts the grasp frame at DOWN (the hand is turned -45 deg).
HAND_DOWN = tuple(
    p.multiplyTransforms((0, 0, 0), DOWN, (0, 0, 0), p.getQuaternionFromEuler((0, 0, np.pi / 4)))[1]
)
BASE_POSITION_GAIN = 0.1  # PyBullet's default position gain
ARM_LOWER = np.array([-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671])
ARM_UPPER = np.array([2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671])


@functools.cache
def closed_gripper_urdf() -> str:
    """Path of ``franka_panda/panda.urdf`` with fixed finger joints (written once)."""
    data = pybullet_data.getDataPath()
    with open(os.path.join(data, "franka_panda", "panda.urdf")) as f:
        text = f.read()
    meshes = os.path.join(data, "franka_panda", "meshes") + os.sep
    text = text.replace('filename="package://meshes/', f'filename="{meshes}')
    for finger in ("panda_finger_joint1", "panda_finger_joint2"):
        text = text.replace(
            f'<joint name="{finger}" type="prismatic">', f'<joint name="{finger}" type="fixed">'
        )
    folder = os.path.join(tempfile.gettempdir(), "practicegym")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"panda_closed_{hashlib.sha1(text.encode()).hexdigest()[:12]}.urdf")
    if not os.path.exists(path):
        atomic_write(path, text)
    return path


class Panda:
    """Franka Panda arm with a closed gripper, loaded into ``sim`` as body ``"panda"``.

    Args:
        sim: The simulator the robot lives in.
        control: ``"ee"`` (Cartesian end-effector deltas through IK) or ``"joints"``.
    """

    name = "panda"

    def __init__(self, sim: Simulator, control: str = "ee") -> None:
        if control not in CONTROL_MODES:
            raise ValueError(f"control must be one of {list(CONTROL_MODES)}, got {control!r}")
        self.sim = sim
        self.control = control
        sim.load_urdf(self.name, closed_gripper_urdf(), BASE_POSITION, merge_fixed_links=True)
        sim.set_dynamics(self.name, HAND_LINK, lateralFriction=1.0, spinningFriction=0.001)
        size = 3 if control == "ee" else len(ARM_JOINTS)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(size,), dtype=np.float32)
        self._gains = [BASE_POSITION_GAIN] * len(ARM_JOINTS)
        self._damping = [1.0] * len(ARM_JOINTS)
        self._queue: deque[np.ndarray] = deque()
        self._latency = 0
        self._idle = np.zeros(size, dtype=np.float32)
        self._ee_cache: tuple[int, np.ndarray, np.ndarray] = (-1, np.zeros(3), np.zeros(3))

    # ----------------------------------------------------------------- reset

    def reset(
        self, *, motor_damping: float = 1.0, actuator_gain: float = 1.0, latency: int = 0
    ) -> None:
        """Puts the arm in its neutral pose, holding it, with the given dynamics."""
        if actuator_gain <= 0 or motor_damping <= 0:
            raise ValueError(
                f"actuator_gain and motor_damping must be > 0, got {actuator_gain}, {motor_damping}"
            )
        if latency < 0:
            raise ValueError(f"latency must be >= 0 steps, got {latency}")
        self.sim.reset_joints(self.name, ARM_JOINTS, NEUTRAL)
        self._gains = [BASE_POSITION_GAIN * actuator_gain] * len(ARM_JOINTS)
        self._damping = [float(motor_damping)] * len(ARM_JOINTS)
        self._latency = int(latency)
        self._queue = deque([self._idle] * self._latency)
        self._command(np.asarray(NEUTRAL))

    def get_state(self) -> dict[str, Any]:
        """The arm's Python-side state (dynamics knobs, latency queue, cache), for copies.

        Joint angles, velocities and motor targets live in the simulator
        (:meth:`Simulator.state`).
        """
        version, pos, vel = self._ee_cache
        return {
            "gains": list(self._gains),
            "damping": list(self._damping),
            "latency": self._latency,
            "queue": [np.array(a, dtype=np.float32) for a in self._queue],
            "ee_cache": (version, pos.copy(), vel.copy()),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`get_state`'s result."""
        self._gains = [float(g) for g in state["gains"]]
        self._damping = [float(d) for d in state["damping"]]
        self._latency = int(state["latency"])
        self._queue = deque(np.array(a, dtype=np.float32) for a in state["queue"])
        version, pos, vel = state["ee_cache"]
        pos, vel = np.array(pos, dtype=np.float64), np.array(vel, dtype=np.float64)
        pos.flags.writeable = False
        vel.flags.writeable = False
        self._ee_cache = (int(version), pos, vel)

    # ---------------------------------------------------------------- acting

    def set_action(self, action: np.ndarray) -> None:
        """Queues ``action`` and applies the one due now (``latency`` steps old)."""
        self._queue.append(np.asarray(action, dtype=np.float32))
        due = _clip(self._queue.popleft(), -1.0, 1.0)
        if self.control == "ee":
            target = self.ee_position() + due * EE_STEP
            target[2] = max(target[2], 0.0)  # as panda-gym: never aim below the table top
            angles = self.ik(target)
        else:
            angles = self.arm_angles() + due * JOINT_STEP
        self._command(_clip(angles, ARM_LOWER, ARM_UPPER))

    def _command(self, arm_angles: np.ndarray) -> None:
        self.sim.control_joints(
            self.name, ARM_JOINTS, arm_angles.tolist(), FORCES, self._gains, self._damping
        )

    def ik(self, position: np.ndarray) -> np.ndarray:
        """The 7 arm joint angles that put the end effector at ``position``, pointing down."""
        hand = (position[0], position[1], position[2] + EE_OFFSET)
        return self.sim.inverse_kinematics(self.name, HAND_LINK, hand, HAND_DOWN)

    # --------------------------------------------------------------- sensing

    def ee_position(self) -> np.ndarray:
        """End-effector (grasp point) position in metres (read-only array)."""
        return self.ee_state()[0]

    def ee_state(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position (m) and linear velocity (m/s), read-only arrays.

        Read once per simulator change (``sim.version``) and cached.
        """
        version, pos, vel = self._ee_cache
        if version != self.sim.version:
            pos, vel = self.sim.point_on_link(self.name, HAND_LINK, EE_OFFSET)
            pos.flags.writeable = False
            vel.flags.writeable = False
            self._ee_cache = (self.sim.version, pos, vel)
        return pos, vel

    def arm_angles(self) -> np.ndarray:
        """The 7 arm joint angles in radians."""
        return self.sim.joint_positions(self.name, ARM_JOINTS)

    def observation(self) -> np.ndarray:
        """End-effector position and velocity: 6 floats."""
        pos, vel = self.ee_state()
        return np.concatenate([pos, vel])


def _clip(x: np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> np.ndarray:
    """``np.clip`` without its Python-level dispatch (a few microseconds per call)."""
    return np.minimum(np.maximum(x, low), high)
