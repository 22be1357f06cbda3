"""The simulator object: one PyBullet client per env, bodies addressed by name.

Why this file is long (about 580 lines): like panda-gym's ``pybullet.py`` it is the one
wrapper around PyBullet (client, bodies, motors, state snapshots, rendering, physics
settings), so that no other module calls ``pybullet`` directly.

:class:`Simulator` owns its own :class:`pybullet_utils.bullet_client.BulletClient`
(``DIRECT`` by default, ``GUI`` on request), so any number of envs can live in one
process or in vector-env workers without sharing physics state. ``close()`` disconnects
the client; it is idempotent. Hot-path calls (stepping, state reads) go to the
``pybullet`` module functions with this client's id, skipping ``BulletClient``'s
per-call ``functools.partial`` wrapper.

Physics settings live in :class:`PhysicsConfig` (frozen; unknown keys rejected). The
defaults match panda-gym 3 (timestep 0.002 s, 20 substeps per control step, so 25 Hz
control) except that the constraint solver stops iterating once its residual is below
``1e-4`` instead of PyBullet's ``1e-7`` (same 50-iteration cap), and the 20 substeps run
inside one ``stepSimulation`` call (``numSubSteps``) instead of 20 Python calls.

Copies: a simulator cannot be copied or pickled by itself (a copy would share the
PyBullet client, so stepping one would move the other's world). Whoever built the scene
copies it instead: it builds the same scene in a fresh simulator, then moves it to the
original's state with :meth:`Simulator.state` / :meth:`Simulator.set_state` (base poses
and velocities, joint positions and velocities, motor commands), which, unlike
PyBullet's ``saveState``, cross clients and processes. :class:`~envs.robot.env.RobotEnv`
does this for its ``copy.deepcopy`` and ``pickle`` support.

Example:
    >>> sim = Simulator()
    >>> uid = sim.create_box("cube", half_extents=(0.02,) * 3, mass=1.0, position=(0, 0, 0.5))
    >>> sim.step()
    >>> bool(sim.base_position("cube")[2] < 0.5)  # it fell for 0.04 s
    True
    >>> sim.close()
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data
from pybullet_utils import bullet_client

from envs.config import from_mapping

__all__ = ["RENDERERS", "Camera", "PhysicsConfig", "Simulator"]

RENDERERS = ("auto", "tiny", "egl")


@dataclass(frozen=True)
class PhysicsConfig:
    """Physics settings of one simulator.

    Attributes:
        timestep: Seconds per physics substep (panda-gym: 1/500).
        substeps: Physics substeps per control step (panda-gym: 20, so 25 Hz control).
        solver_iterations: Cap on constraint-solver iterations per substep (PyBullet: 50).
        solver_residual_threshold: The solver stops early below this residual
            (PyBullet's default is 1e-7; 1e-4 gives the same trajectories to ~1e-4 m at
            about half the cost; set 1e-7 to match panda-gym exactly).
        gravity: Vertical gravity in m/s^2.
    """

    timestep: float = 0.002
    substeps: int = 20
    solver_iterations: int = 50
    solver_residual_threshold: float = 1e-4
    gravity: float = -9.81

    def __post_init__(self) -> None:
        if not 0.0 < self.timestep <= 0.05:
            raise ValueError(f"timestep must be in (0, 0.05] s, got {self.timestep}")
        if int(self.substeps) != self.substeps or self.substeps < 1:
            raise ValueError(f"substeps must be a positive integer, got {self.substeps}")
        if int(self.solver_iterations) != self.solver_iterations or self.solver_iterations < 1:
            raise ValueError(
                f"solver_iterations must be a positive integer, got {self.solver_iterations}"
            )
        if not self.solver_residual_threshold > 0.0:
            raise ValueError(
                f"solver_residual_threshold must be > 0, got {self.solver_residual_threshold}"
            )

    @property
    def control_dt(self) -> float:
        """Seconds per control step (``timestep * substeps``)."""
        return self.timestep * self.substeps


@dataclass(frozen=True)
class Camera:
    """A camera looking at ``target`` from ``distance`` at ``yaw``/``pitch`` (degrees)."""

    target: tuple[float, float, float] = (-0.1, 0.0, 0.0)
    distance: float = 0.8
    yaw: float = 50.0
    pitch: float = -50.0
    fov: float = 55.0


class SimulatorClosedError(ValueError):
    """A closed simulator (or the env owning it) was used again."""


def check_display() -> None:
    """Raises ValueError when PyBullet's GUI cannot open a window (no X/Wayland display).

    PyBullet's GUI connect on a headless Linux machine aborts the whole process (no
    Python exception can catch it), so it is checked before connecting.
    """
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ValueError(
            "render_mode='human' needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is "
            "set (a headless machine); use render_mode='rgb_array' and save frames instead"
        )


class Simulator:
    """A PyBullet world with its own client; bodies are addressed by name.

    Args:
        physics: Physics settings (a :class:`PhysicsConfig` or its dict form).
        gui: Connect with a GUI window instead of ``DIRECT``.
        renderer: Camera backend: ``"tiny"`` (CPU TinyRenderer), ``"egl"`` (the EGL
            plugin, GPU) or ``"auto"`` (EGL when an NVIDIA device is present and the
            plugin loads, else TinyRenderer).
    """

    def __init__(
        self,
        physics: PhysicsConfig | Mapping[str, Any] | None = None,
        *,
        gui: bool = False,
        renderer: str = "auto",
    ) -> None:
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {list(RENDERERS)}, got {renderer!r}")
        if gui:
            check_display()
        self.physics = from_mapping(PhysicsConfig, physics, what="physics")
        with _quiet_stdout():  # connecting prints "argv[0]="
            self.client = bullet_client.BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        self._id: int = self.client._client
        self.bodies: dict[str, int] = {}
        #: Bumped by every call that moves things (step, teleports), so callers can cache
        #: state reads between changes.
        self.version = 0
        #: The last motor command per body (joints, targets, forces, gains), which PyBullet
        #: cannot report back: :meth:`set_state` re-issues them.
        self._motors: dict[str, tuple[Sequence[float], ...]] = {}
        self._egl_plugin = -1
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        cfg = self.physics
        # One stepSimulation call advances a whole control step in `substeps` substeps.
        self.client.setTimeStep(cfg.timestep * cfg.substeps)
        self.client.setPhysicsEngineParameter(
            numSubSteps=cfg.substeps,
            numSolverIterations=cfg.solver_iterations,
            solverResidualThreshold=cfg.solver_residual_threshold,
            deterministicOverlappingPairs=1,
        )
        self.client.setGravity(0.0, 0.0, cfg.gravity)
        if gui:
            self.client.configureDebugVisualizer(p.COV_ENABLE_GUI, 0)
        self.renderer = self._pick_renderer(renderer)

    # ------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (cheap: no PyBullet call)."""
        return self._id < 0

    def check_open(self) -> None:
        """Raises :class:`SimulatorClosedError` after :meth:`close`."""
        if self._id < 0:
            raise SimulatorClosedError("the simulator was closed; make a new env instead")

    @property
    def connected(self) -> bool:
        """Whether the client is still connected."""
        return self._id >= 0 and bool(p.isConnected(physicsClientId=self._id))

    def close(self) -> None:
        """Disconnects the client (safe to call twice)."""
        if self._id >= 0:
            if p.isConnected(physicsClientId=self._id):
                if self._egl_plugin >= 0:
                    p.unloadPlugin(self._egl_plugin, physicsClientId=self._id)
                p.disconnect(physicsClientId=self._id)
            self._id = -1
            self.client._client = -1
            self.bodies.clear()
            self._motors.clear()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> Simulator:
        raise TypeError(_NO_COPY)

    def __reduce__(self) -> Any:
        raise TypeError(_NO_COPY)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit pybullet may be gone
            self.close()

    def _pick_renderer(self, renderer: str) -> str:
        if renderer == "tiny":
            return "tiny"
        if renderer == "auto" and not os.path.exists("/dev/nvidiactl"):
            return "tiny"
        spec = importlib.util.find_spec("eglRenderer")
        if spec is not None and spec.origin:
            self._egl_plugin = p.loadPlugin(
                spec.origin, "_eglRendererPlugin", physicsClientId=self._id
            )
        if self._egl_plugin >= 0:
            return "egl"
        if renderer == "egl":
            raise RuntimeError("renderer='egl' requested but PyBullet's EGL plugin did not load")
        return "tiny"

    # --------------------------------------------------------------- bodies

    def body(self, name: str) -> int:
        """The PyBullet id of body ``name`` (ValueError naming the bodies otherwise)."""
        try:
            return self.bodies[name]
        except KeyError:
            raise ValueError(f"no body named {name!r}; bodies: {sorted(self.bodies)}") from None

    def _add(self, name: str, uid: int) -> None:
        if name in self.bodies:
            raise ValueError(f"a body named {name!r} already exists")
        self.bodies[name] = uid

    def load_urdf(
        self,
        name: str,
        file_name: str,
        position: Sequence[float],
        *,
        fixed_base: bool = True,
        merge_fixed_links: bool = False,
    ) -> int:
        """Loads a URDF (paths relative to ``pybullet_data`` or absolute) as body ``name``."""
        flags = p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
        if merge_fixed_links:
            flags |= p.URDF_MERGE_FIXED_LINKS
        with _quiet_stdout():  # the URDF importer prints every link it merges
            uid = self.client.loadURDF(
                file_name, basePosition=list(position), useFixedBase=fixed_base, flags=flags
            )
        self._add(name, uid)
        return uid

    def create_box(
        self,
        name: str,
        *,
        half_extents: Sequence[float],
        mass: float,
        position: Sequence[float],
        rgba: Sequence[float] = (0.8, 0.8, 0.8, 1.0),
        ghost: bool = False,
        maximal: bool = False,
        visible: bool = True,
    ) -> int:
        """Creates a box; ``ghost`` boxes are visual only (no collision).

        ``maximal`` simulates it as a plain rigid body (maximal coordinates), which is
        cheaper for a free object than a one-link multibody. ``visible=False`` boxes are
        collision only (never rendered).
        """
        visual = (
            self.client.createVisualShape(
                p.GEOM_BOX, halfExtents=list(half_extents), rgbaColor=list(rgba)
            )
            if visible
            else -1
        )
        collision = (
            -1
            if ghost
            else self.client.createCollisionShape(p.GEOM_BOX, halfExtents=list(half_extents))
        )
        uid = self.client.createMultiBody(
            baseMass=mass,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            basePosition=list(position),
            useMaximalCoordinates=maximal,
        )
        self._add(name, uid)
        return uid

    def create_sphere(
        self, name: str, *, radius: float, position: Sequence[float], rgba: Sequence[float]
    ) -> int:
        """Creates a visual-only (ghost) sphere, e.g. a target marker."""
        visual = self.client.createVisualShape(p.GEOM_SPHERE, radius=radius, rgbaColor=list(rgba))
        uid = self.client.createMultiBody(
            baseMass=0.0, baseVisualShapeIndex=visual, basePosition=list(position)
        )
        self._add(name, uid)
        return uid

    def remove_body(self, name: str) -> None:
        """Removes body ``name`` from the world."""
        self.client.removeBody(self.body(name))
        del self.bodies[name]
        self._motors.pop(name, None)

    # ---------------------------------------------------------------- state

    def step(self) -> None:
        """Advances one control step (``physics.substeps`` substeps)."""
        p.stepSimulation(physicsClientId=self._id)
        self.version += 1

    def state(self) -> dict[str, Any]:
        """The world's dynamic state, as plain Python data (picklable, client-free).

        Per body: base position, orientation, linear and angular velocity, and the
        position and velocity of every joint; the last motor command per body; the
        :attr:`version` counter. Not included (PyBullet cannot report them): contact
        manifolds and the solver's warm-starting caches, so a world restored from this
        state continues the original's trajectory up to floating-point rounding, not
        necessarily bit for bit (see :class:`~envs.robot.env.RobotEnv`).
        """
        bodies: dict[str, tuple[Any, ...]] = {}
        cid = self._id
        for name, uid in self.bodies.items():
            pos, orn = p.getBasePositionAndOrientation(uid, physicsClientId=cid)
            lin, ang = p.getBaseVelocity(uid, physicsClientId=cid)
            n = p.getNumJoints(uid, physicsClientId=cid)
            joints = p.getJointStates(uid, list(range(n)), physicsClientId=cid) if n else []
            q = tuple(float(j[0]) for j in joints)
            qd = tuple(float(j[1]) for j in joints)
            bodies[name] = (tuple(pos), tuple(orn), tuple(lin), tuple(ang), q, qd)
        motors = {name: tuple(list(part) for part in cmd) for name, cmd in self._motors.items()}
        return {"bodies": bodies, "motors": motors, "version": self.version}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Moves the world to ``state`` (from :meth:`state`, possibly of another client).

        The world must hold bodies of the same names and structure (build the same
        scene first).

        Raises:
            ValueError: The bodies differ from those in ``state``.
        """
        bodies = state["bodies"]
        if sorted(bodies) != sorted(self.bodies):
            raise ValueError(
                f"state has bodies {sorted(bodies)}, this world has {sorted(self.bodies)}; "
                "build the same scene before set_state"
            )
        cid = self._id
        for name, (pos, orn, lin, ang, q, qd) in bodies.items():
            uid = self.bodies[name]
            if p.getNumJoints(uid, physicsClientId=cid) != len(q):
                raise ValueError(f"body {name!r} has a different number of joints than in state")
            p.resetBasePositionAndOrientation(uid, list(pos), list(orn), physicsClientId=cid)
            p.resetBaseVelocity(uid, list(lin), list(ang), physicsClientId=cid)
            for joint, (value, speed) in enumerate(zip(q, qd, strict=True)):
                p.resetJointState(uid, joint, value, speed, physicsClientId=cid)
        self._motors.clear()
        for name, command in state["motors"].items():
            self.control_joints(name, *command)
        self.version = int(state["version"])

    def base_position(self, name: str) -> np.ndarray:
        """Base position (x, y, z) of body ``name``."""
        return np.array(
            p.getBasePositionAndOrientation(self.bodies[name], physicsClientId=self._id)[0]
        )

    def base_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Base position and quaternion (x, y, z, w) of body ``name``."""
        pos, orn = p.getBasePositionAndOrientation(self.bodies[name], physicsClientId=self._id)
        return np.array(pos), np.array(orn)

    def base_velocity(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Linear and angular velocity of body ``name``'s base."""
        lin, ang = p.getBaseVelocity(self.bodies[name], physicsClientId=self._id)
        return np.array(lin), np.array(ang)

    def euler(self, quaternion: Sequence[float] | np.ndarray) -> np.ndarray:
        """Euler angles (roll, pitch, yaw) of a quaternion."""
        return np.array(p.getEulerFromQuaternion(quaternion, physicsClientId=self._id))

    def set_base_pose(
        self,
        name: str,
        position: Sequence[float] | np.ndarray,
        orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0),
    ) -> None:
        """Teleports body ``name`` (velocity is kept)."""
        p.resetBasePositionAndOrientation(
            self.bodies[name], list(position), list(orientation), physicsClientId=self._id
        )
        self.version += 1

    def point_on_link(self, name: str, link: int, z_offset: float) -> tuple[np.ndarray, np.ndarray]:
        """World position and velocity of the point ``z_offset`` along ``link``'s z axis."""
        state = p.getLinkState(
            self.bodies[name], link, computeLinkVelocity=1, physicsClientId=self._id
        )
        x, y, z, w = state[5]
        # third column of the rotation matrix of quaternion (x, y, z, w)
        axis = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
        position = np.array(state[4]) + z_offset * axis
        arm = position - np.array(state[0])  # from the link's centre of mass
        wx, wy, wz = state[7]
        velocity = np.array(state[6]) + np.array(
            [wy * arm[2] - wz * arm[1], wz * arm[0] - wx * arm[2], wx * arm[1] - wy * arm[0]]
        )
        return position, velocity

    def joint_positions(self, name: str, joints: Sequence[int]) -> np.ndarray:
        """Angles (or prismatic positions) of ``joints`` of body ``name``."""
        states = p.getJointStates(self.bodies[name], list(joints), physicsClientId=self._id)
        return np.array([s[0] for s in states])

    def reset_joints(self, name: str, joints: Sequence[int], values: Sequence[float]) -> None:
        """Sets joint positions instantly, with zero velocity."""
        uid = self.bodies[name]
        for joint, value in zip(joints, values, strict=True):
            p.resetJointState(uid, joint, float(value), 0.0, physicsClientId=self._id)
        self.version += 1

    def control_joints(
        self,
        name: str,
        joints: Sequence[int],
        targets: Sequence[float],
        forces: Sequence[float],
        position_gains: Sequence[float],
        velocity_gains: Sequence[float],
    ) -> None:
        """Position control of ``joints`` toward ``targets`` with force limits and gains.

        The command is remembered (the last per body) so that :meth:`state` includes it.
        """
        self._motors[name] = (joints, targets, forces, position_gains, velocity_gains)
        p.setJointMotorControlArray(
            self.bodies[name],
            list(joints),
            p.POSITION_CONTROL,
            targetPositions=list(targets),
            forces=list(forces),
            positionGains=list(position_gains),
            velocityGains=list(velocity_gains),
            physicsClientId=self._id,
        )

    def inverse_kinematics(
        self,
        name: str,
        link: int,
        position: Sequence[float],
        orientation: Sequence[float],
        *,
        iterations: int = 20,
    ) -> np.ndarray:
        """Joint positions (all movable joints) that put ``link`` at the given pose."""
        return np.array(
            p.calculateInverseKinematics(
                self.bodies[name],
                link,
                list(position),
                list(orientation),
                maxNumIterations=iterations,
                physicsClientId=self._id,
            )
        )

    def set_dynamics(self, name: str, link: int = -1, **kwargs: float) -> None:
        """``changeDynamics`` of body ``name`` (mass, lateralFriction, jointDamping, ...)."""
        p.changeDynamics(self.body(name), link, physicsClientId=self._id, **kwargs)

    def dynamics(self, name: str, link: int = -1) -> tuple[Any, ...]:
        """``getDynamicsInfo`` of body ``name``: (mass, lateral friction, ...)."""
        return p.getDynamicsInfo(self.body(name), link, physicsClientId=self._id)

    def set_colour(self, name: str, rgba: Sequence[float], link: int = -1) -> None:
        """Changes the colour of body ``name`` (link ``-1`` is the base)."""
        p.changeVisualShape(self.body(name), link, rgbaColor=list(rgba), physicsClientId=self._id)

    def apply_force(self, name: str, force: Sequence[float]) -> None:
        """Applies a world-frame force at the base centre for the next substep."""
        pos = self.base_position(name)
        p.applyExternalForce(
            self.bodies[name],
            -1,
            list(force),
            pos.tolist(),
            p.WORLD_FRAME,
            physicsClientId=self._id,
        )

    # --------------------------------------------------------------- camera

    def camera_image(
        self,
        camera: Camera,
        *,
        width: int,
        height: int,
        light_direction: Sequence[float] = (1.0, 1.0, 1.0),
        shadow: bool = False,
    ) -> np.ndarray:
        """An RGB ``uint8`` image (height, width, 3) seen by ``camera``.

        TinyRenderer costs about 30 ms for a 64x64 frame on one CPU core (twice that with
        ``shadow``); the EGL renderer is far faster where a GPU is present.
        """
        if width < 1 or height < 1:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        view = p.computeViewMatrixFromYawPitchRoll(
            list(camera.target),
            camera.distance,
            camera.yaw,
            camera.pitch,
            0.0,
            2,
            physicsClientId=self._id,
        )
        proj = p.computeProjectionMatrixFOV(
            camera.fov, width / height, 0.05, 5.0, physicsClientId=self._id
        )
        kwargs: dict[str, Any] = {}
        if self.renderer == "egl":
            kwargs["renderer"] = p.ER_BULLET_HARDWARE_OPENGL
            p.configureDebugVisualizer(
                lightPosition=[5.0 * c for c in light_direction], physicsClientId=self._id
            )
        else:
            kwargs.update(
                renderer=p.ER_TINY_RENDERER,
                lightDirection=list(light_direction),
                shadow=int(shadow),
            )
        _, _, rgba, _, _ = p.getCameraImage(
            width,
            height,
            view,
            proj,
            flags=p.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self._id,
            **kwargs,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()


_NO_COPY = (
    "a Simulator cannot be copied or pickled: the copy would share its PyBullet client. "
    "Copy the env that owns it (RobotEnv supports copy.deepcopy and pickle), or build the "
    "same scene in a new Simulator and call set_state(sim.state())"
)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silences C-level writes to stdout (file descriptor 1) inside the block."""
    fd = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
