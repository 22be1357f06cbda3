"""Scenario spaces of the robot envs: one shared parameter list, one space per task.

Both tasks share the arm, sensing and visual parameters; push adds the cube's. Splits:

* ``train``: the practice distribution;
* ``heldout-far``: targets farther from the workspace centre than train ever puts them;
* ``heldout-dynamics``: a more damped, weaker-gained arm and (push) heavier, slipperier cubes;
* ``heldout-noise``: observation noise and control latency beyond train;
* ``heldout-visual``: light from the other side, unseen colours, larger camera jitter.

Example:
    >>> space = scenario_space("push")
    >>> space.heldout_axes("heldout-dynamics")
    ('motor_damping', 'actuator_gain', 'object_mass', 'lateral_friction')
    >>> "object_mass" in scenario_space("reach").param_names
    False
"""

from __future__ import annotations

from typing import Any

from envs.scenarios import Categorical, Continuous, Integer, Param, ScenarioSpace

__all__ = ["COLOURS", "SPACES", "TASK_NAMES", "scenario_space"]

TASK_NAMES = ("reach", "push")

COLOURS: dict[str, tuple[float, float, float, float]] = {
    # table
    "grey": (0.55, 0.55, 0.55, 1.0),
    "wood": (0.62, 0.45, 0.28, 1.0),
    "white": (0.93, 0.93, 0.93, 1.0),
    "dark": (0.18, 0.18, 0.22, 1.0),
    # object
    "red": (0.85, 0.12, 0.1, 1.0),
    "yellow": (0.92, 0.85, 0.1, 1.0),
    "blue": (0.12, 0.25, 0.9, 1.0),
    "purple": (0.55, 0.15, 0.75, 1.0),
    # target
    "green": (0.1, 0.85, 0.1, 0.45),
    "cyan": (0.1, 0.8, 0.85, 0.45),
    "orange": (1.0, 0.55, 0.05, 0.45),
    "magenta": (0.95, 0.1, 0.75, 0.45),
}

_COMMON: tuple[Param, ...] = (
    Continuous(
        "target_distance",
        0.0,
        0.25,
        unit="m",
        description="horizontal distance of the target from the workspace centre",
    ),
    Continuous(
        "motor_damping",
        0.5,
        1.7,
        description="velocity (damping) gain of the joint position motors; 1 is PyBullet's",
        easy=None,
    ),
    Continuous(
        "actuator_gain",
        0.3,
        1.5,
        description="multiplier on the joint motors' position gain",
        easy="high",
    ),
    Integer("control_latency", 0, 3, unit="steps", description="steps before an action acts"),
    Continuous(
        "obs_noise",
        0.0,
        0.02,
        unit="m",
        description="std of Gaussian noise on the observation vector",
    ),
    Continuous(
        "light_azimuth",
        0.0,
        360.0,
        unit="deg",
        description="direction the light comes from, around the vertical",
        easy=None,
    ),
    Categorical("table_colour", ("grey", "wood", "white", "dark"), description="table colour"),
    Categorical(
        "target_colour", ("green", "cyan", "orange", "magenta"), description="target colour"
    ),
    Continuous(
        "camera_jitter",
        0.0,
        0.1,
        description="scale of the per-episode random camera pose offset (m, 100*deg)",
    ),
)
_PUSH: tuple[Param, ...] = (
    Continuous("object_mass", 0.1, 5.0, unit="kg", description="cube mass"),
    Continuous(
        "lateral_friction",
        0.05,
        1.5,
        description="cube sliding friction coefficient",
        easy="high",
    ),
    Continuous(
        "spinning_friction",
        0.0,
        0.01,
        unit="m",
        description="cube torsional friction",
        easy=None,
    ),
    Continuous("object_size", 0.03, 0.06, unit="m", description="cube edge", easy="high"),
    Categorical("object_colour", ("red", "yellow", "blue", "purple"), description="cube colour"),
)

_TRAIN = {
    "target_distance": (0.0, 0.15),
    "motor_damping": (0.8, 1.2),
    "actuator_gain": (0.8, 1.25),
    "control_latency": (0, 1),
    "obs_noise": (0.0, 0.002),
    "light_azimuth": (0.0, 180.0),
    "table_colour": ["grey", "wood"],
    "target_colour": ["green", "cyan"],
    "camera_jitter": (0.0, 0.02),
    "object_mass": (0.2, 1.0),
    "lateral_friction": (0.5, 1.0),
    "spinning_friction": (0.0005, 0.003),
    "object_size": (0.035, 0.05),
    "object_colour": ["red", "yellow"],
}
_HELDOUT = {
    "heldout-far": {"target_distance": (0.2, 0.25)},
    "heldout-dynamics": {
        "motor_damping": (1.4, 1.6),
        "actuator_gain": (0.4, 0.6),
        "object_mass": (2.0, 4.0),
        "lateral_friction": (0.15, 0.3),
    },
    "heldout-noise": {"obs_noise": (0.005, 0.01), "control_latency": (2, 3)},
    "heldout-visual": {
        "light_azimuth": (200.0, 340.0),
        "table_colour": ["white", "dark"],
        "target_colour": ["orange", "magenta"],
        "object_colour": ["blue", "purple"],
        "camera_jitter": (0.04, 0.08),
    },
}


def scenario_space(task: str) -> ScenarioSpace:
    """The scenario space of ``task`` (``"reach"`` or ``"push"``)."""
    if task not in TASK_NAMES:
        raise ValueError(f"task must be one of {list(TASK_NAMES)}, got {task!r}")
    params = _COMMON + (_PUSH if task == "push" else ())
    names = {p.name for p in params}

    def keep(spec: Any) -> dict:
        return {k: v for k, v in spec.items() if k in names}

    splits = {"train": keep(_TRAIN), **{name: keep(spec) for name, spec in _HELDOUT.items()}}
    return ScenarioSpace(params=params, splits=splits)


SPACES: dict[str, ScenarioSpace] = {task: scenario_space(task) for task in TASK_NAMES}
