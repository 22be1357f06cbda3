"""Tasks composed with the robot over a shared :class:`Simulator` (panda-gym pattern).

A task builds its part of the scene (table, target, objects), places things for a
scenario, and says what was achieved. It never holds the robot: it reads the
end-effector position through an injected callable, so any robot works with any task.

Geometry: the table top is the plane z = 0 (x from -0.85 to 0.25 m, y from -0.35 to
0.35 m); the arm's base sits on it at (-0.6, 0, 0); targets lie at ``target_distance``
from the workspace centre :data:`CENTRE` in a random horizontal direction.

Example:
    >>> from envs.robot.scenarios import SPACES
    >>> from envs.robot.sim import Simulator
    >>> sim = Simulator()
    >>> task = make_task("reach", sim, ee_position=lambda: np.zeros(3))
    >>> rng = np.random.default_rng(0)
    >>> task.reset(SPACES["reach"].sample(rng), rng)
    >>> task.goal.shape, task.achieved_goal().tolist()
    ((3,), [0.0, 0.0, 0.0])
    >>> sim.close()
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from envs.robot.scenarios import COLOURS
from envs.robot.sim import Simulator

__all__ = ["CENTRE", "SUCCESS_DISTANCE", "TASKS", "Push", "Reach", "Task", "make_task"]

CENTRE = np.array([-0.1, 0.0, 0.0])  # workspace centre on the table top
SUCCESS_DISTANCE = 0.05  # m (panda-gym)
TABLE_HALF = (0.55, 0.35, 0.2)
TABLE_X = -0.3
FLOOR_CENTRE = (0.0, 0.0, -0.41)  # a 2 cm slab whose top is the floor, 0.4 m below the table
# Under the visible floor, an invisible 40 x 40 m box 2 m thick with the same top: cubes
# launched off the table passed through the thin slab or flew past its 2 m edge (training
# data of 2026-12-02 held cube positions 4.7 m away and 7.4 m below the table).
CATCH_HALF = (20.0, 20.0, 1.0)
PUSH_START_RADIUS = 0.1  # cube starts within this distance of CENTRE
REACH_HEIGHT = (0.05, 0.3)  # target height range for reach


class Task(abc.ABC):
    """What the robot must achieve; owns the table and the target marker.

    Args:
        sim: The shared simulator.
        ee_position: Callable returning the robot's end-effector position.
    """

    name: str = ""
    #: Length of :meth:`observation`.
    obs_size: int = 0

    def __init__(self, sim: Simulator, ee_position: Callable[[], np.ndarray]) -> None:
        self.sim = sim
        self.ee_position = ee_position
        self.goal = np.zeros(3)
        # A cube pushed off the table lands here (a ghost floor let it fall forever:
        # positions of -10 m in observations and perception labels).
        sim.create_box(
            "floor",
            half_extents=(2.0, 2.0, 0.01),
            mass=0.0,
            position=FLOOR_CENTRE,
            rgba=(0.32, 0.34, 0.38, 1.0),
        )
        floor_top = FLOOR_CENTRE[2] + 0.01
        sim.create_box(
            "floor-catch",
            half_extents=CATCH_HALF,
            mass=0.0,
            position=(0.0, 0.0, floor_top - CATCH_HALF[2]),
            visible=False,
        )
        sim.create_box(
            "table",
            half_extents=TABLE_HALF,
            mass=0.0,
            position=(TABLE_X, 0.0, -TABLE_HALF[2]),
            rgba=COLOURS["grey"],
        )
        sim.set_dynamics("table", lateralFriction=0.6)

    def _place_target(self, scenario: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        r = scenario["target_distance"]
        return CENTRE + np.array([r * np.cos(angle), r * np.sin(angle), 0.0])

    def reset(self, scenario: Mapping[str, Any], rng: np.random.Generator) -> None:
        """Places the target (and objects) for ``scenario``; all randomness from ``rng``."""
        self.build(scenario)
        self.goal = self._place(scenario, rng)
        self.sim.set_base_pose("target", self.goal)

    def build(self, scenario: Mapping[str, Any]) -> None:
        """Builds the scene of ``scenario`` (colours, objects, their dynamics), unplaced.

        Draws no randomness, so a copy of the env can rebuild the original's scene before
        it restores the poses (:meth:`Simulator.set_state`).
        """
        self.sim.set_colour("table", COLOURS[scenario["table_colour"]])
        self._build(scenario)
        self.sim.set_colour("target", COLOURS[scenario["target_colour"]])

    @abc.abstractmethod
    def _build(self, scenario: Mapping[str, Any]) -> None:
        """Builds the task's own objects for ``scenario`` (deterministic)."""

    @abc.abstractmethod
    def _place(self, scenario: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Places the task's objects; returns the goal position."""

    def get_state(self) -> dict[str, Any]:
        """The task's Python-side state (goal and caches), for env copies."""
        return {"goal": self.goal.copy()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`get_state`'s result (the scene must be built already)."""
        self.goal = np.array(state["goal"], dtype=np.float64)

    @abc.abstractmethod
    def achieved_goal(self) -> np.ndarray:
        """The position that must reach :attr:`goal`."""

    @abc.abstractmethod
    def observation(self) -> np.ndarray:
        """Task part of the observation (:attr:`obs_size` floats)."""

    def object_position(self) -> np.ndarray:
        """Position of the thing being moved (the end effector for reach)."""
        return self.achieved_goal()


class Reach(Task):
    """Move the end effector to a target in the air above the table (a ghost sphere)."""

    name = "reach"
    obs_size = 0

    def __init__(self, sim: Simulator, ee_position: Callable[[], np.ndarray]) -> None:
        super().__init__(sim, ee_position)
        sim.create_sphere(
            "target", radius=SUCCESS_DISTANCE / 2, position=(0, 0, 0.1), rgba=COLOURS["green"]
        )

    def _build(self, scenario: Mapping[str, Any]) -> None:
        """Nothing to build: the target sphere is permanent."""

    def _place(self, scenario: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        goal = self._place_target(scenario, rng)
        goal[2] = rng.uniform(*REACH_HEIGHT)
        return goal

    def achieved_goal(self) -> np.ndarray:
        """End-effector position."""
        return np.asarray(self.ee_position(), dtype=np.float64)

    def observation(self) -> np.ndarray:
        """Nothing beyond the robot's own state."""
        return np.zeros(0)


class Push(Task):
    """Push a cube across the table to a target (a ghost box) without grasping."""

    name = "push"
    obs_size = 12

    def __init__(self, sim: Simulator, ee_position: Callable[[], np.ndarray]) -> None:
        super().__init__(sim, ee_position)
        self.size = 0.04
        self._cache: tuple[int, np.ndarray] = (-1, np.zeros(12))
        self._make_cube(self.size)
        self._make_target(self.size)

    def _make_cube(self, size: float) -> None:
        half = (size / 2,) * 3
        self.sim.create_box(
            "object",
            half_extents=half,
            mass=1.0,
            position=(0, 0, size / 2),
            rgba=COLOURS["red"],
            maximal=True,
        )

    def _make_target(self, size: float) -> None:
        half = (size / 2,) * 3
        self.sim.create_box(
            "target",
            half_extents=half,
            mass=0.0,
            position=(0, 0, size / 2),
            rgba=COLOURS["green"],
            ghost=True,
        )

    def _build(self, scenario: Mapping[str, Any]) -> None:
        # A new cube every episode: any size, and no contact cache from past episodes.
        for body in ("object", "target"):
            self.sim.remove_body(body)
        self.size = scenario["object_size"]
        self._make_cube(self.size)
        self._make_target(self.size)
        self.sim.set_dynamics(
            "object",
            mass=scenario["object_mass"],
            lateralFriction=scenario["lateral_friction"],
            spinningFriction=scenario["spinning_friction"],
        )
        self.sim.set_colour("object", COLOURS[scenario["object_colour"]])
        self._cache = (-1, self._cache[1])

    def _place(self, scenario: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        radius = PUSH_START_RADIUS * np.sqrt(rng.uniform())
        start = CENTRE + np.array([radius * np.cos(angle), radius * np.sin(angle), 0.0])
        start[2] = self.size / 2
        yaw = rng.uniform(-np.pi / 4, np.pi / 4)
        self.sim.set_base_pose("object", start, (0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)))
        goal = self._place_target(scenario, rng)
        goal[2] = self.size / 2
        return goal

    def get_state(self) -> dict[str, Any]:
        """Goal and the cached cube state (keyed by the simulator's version)."""
        version, cached = self._cache
        return {**super().get_state(), "cache": (version, cached.copy())}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`get_state`'s result (the scene must be built already)."""
        super().set_state(state)
        version, cached = state["cache"]
        cached = np.array(cached, dtype=np.float64)
        cached.flags.writeable = False
        self._cache = (int(version), cached)

    def _cube_state(self) -> np.ndarray:
        """Position, Euler angles, linear and angular velocity (12), cached per change."""
        if self._cache[0] != self.sim.version:
            pos, orn = self.sim.base_pose("object")
            lin, ang = self.sim.base_velocity("object")
            state = np.concatenate([pos, self.sim.euler(orn), lin, ang])
            state.flags.writeable = False
            self._cache = (self.sim.version, state)
        return self._cache[1]

    def achieved_goal(self) -> np.ndarray:
        """Cube centre."""
        return self._cube_state()[:3]

    def observation(self) -> np.ndarray:
        """Cube position, Euler angles, linear and angular velocity: 12 floats."""
        return self._cube_state()


TASKS: dict[str, type[Task]] = {"reach": Reach, "push": Push}


def make_task(name: str, sim: Simulator, ee_position: Callable[[], np.ndarray]) -> Task:
    """Builds task ``name`` (``"reach"`` or ``"push"``) in ``sim``."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {name!r}")
    return TASKS[name](sim, ee_position)
