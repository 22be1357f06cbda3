"""Scenario spaces of the driving tasks (``full``, ``lane-keep``, ``highway``).

All three share the same parameters — road geometry, traffic, tyre friction, actuation
imperfections and the look of the bird's-eye view — and the same split names; they
differ in the ranges. Every held-out split leaves ``train`` on at least one axis:

* ``heldout-curves``: sharper curvature than train ever shows (needs slowing down);
* ``heldout-traffic``: denser traffic of more aggressive drivers;
* ``heldout-friction``: wet or icy roads;
* ``heldout-visual``: marking/road/verge colours, brightness, noise and blur train never
  shows (dynamics as in train).
"""

from __future__ import annotations

from typing import Any

from envs.scenarios import Categorical, Continuous, Integer, ScenarioSpace

__all__ = ["TASKS", "scenario_space"]

TASKS = ("full", "lane-keep", "highway")

PARAMS = (
    Integer("lanes", 1, 4, description="number of lanes", easy=None),
    Continuous("lane_width", 3.0, 4.5, unit="m", description="lane width", easy="high"),
    Continuous("curvature", 0.0, 0.04, unit="1/m", description="largest arc curvature"),
    Continuous("speed_limit", 10.0, 40.0, unit="m/s", description="posted speed limit"),
    Continuous("traffic_density", 0.0, 50.0, unit="veh/km/lane", description="background traffic"),
    Continuous("aggressiveness", 0.0, 1.0, description="drivers: short headways, impolite"),
    Continuous("friction", 0.1, 1.2, unit="mu", description="tyre-road friction", easy="high"),
    Continuous("actuation_noise", 0.0, 0.3, description="command noise (fraction of range)"),
    Integer("latency", 0, 3, unit="steps", description="actuation delay"),
    Categorical(
        "marking_colour",
        ("white", "yellow", "blue", "red"),
        description="lane markings",
        easy="white",
    ),
    Continuous("marking_contrast", 0.1, 1.0, description="marking vs road contrast", easy="high"),
    Categorical("road_colour", ("asphalt", "concrete", "brick"), easy="asphalt"),
    Categorical("verge_colour", ("grass", "sand", "snow"), easy="grass"),
    Continuous("brightness", 0.3, 1.6, description="image brightness factor", easy=None),
    Continuous("pixel_noise", 0.0, 0.3, description="pixel noise std (fraction of 255)"),
    Continuous("blur", 0.0, 2.0, unit="px", description="Gaussian blur sigma"),
)

_VISUAL_TRAIN: dict[str, Any] = {
    "marking_colour": ["white", "yellow"],
    "marking_contrast": (0.6, 1.0),
    "road_colour": ["asphalt", "concrete"],
    "verge_colour": ["grass", "sand"],
    "brightness": (0.8, 1.2),
    "pixel_noise": (0.0, 0.04),
    "blur": (0.0, 0.6),
}
_VISUAL_HELDOUT: dict[str, Any] = {
    "marking_colour": ["blue", "red"],
    "marking_contrast": (0.25, 0.5),
    "road_colour": "brick",
    "verge_colour": "snow",
    "brightness": (0.5, 0.7),
    "pixel_noise": (0.08, 0.15),
    "blur": (0.8, 1.5),
}
_IMPERFECTIONS: dict[str, Any] = {"actuation_noise": (0.0, 0.05), "latency": (0, 1)}

_SPLITS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "train": {
            "lanes": (2, 3),
            "lane_width": (3.25, 4.0),
            "curvature": (0.0, 0.012),
            "speed_limit": (20.0, 28.0),
            "traffic_density": (4.0, 14.0),
            "aggressiveness": (0.0, 0.5),
            "friction": (0.7, 1.0),
            **_IMPERFECTIONS,
            **_VISUAL_TRAIN,
        },
        "heldout-curves": {"curvature": (0.018, 0.03)},
        "heldout-traffic": {"traffic_density": (20.0, 30.0), "aggressiveness": (0.7, 1.0)},
        "heldout-friction": {"friction": (0.25, 0.45)},
        "heldout-visual": _VISUAL_HELDOUT,
    },
    "lane-keep": {
        "train": {
            "lanes": (1, 3),
            "lane_width": (3.25, 4.0),
            "curvature": (0.0, 0.015),
            "speed_limit": (15.0, 28.0),
            "traffic_density": (0.0, 2.0),
            "aggressiveness": (0.0, 0.5),
            "friction": (0.7, 1.0),
            **_IMPERFECTIONS,
            **_VISUAL_TRAIN,
        },
        "heldout-curves": {"curvature": (0.022, 0.035)},
        "heldout-traffic": {"traffic_density": (8.0, 15.0), "aggressiveness": (0.7, 1.0)},
        "heldout-friction": {"friction": (0.25, 0.45)},
        "heldout-visual": _VISUAL_HELDOUT,
    },
    "highway": {
        "train": {
            "lanes": (3, 4),
            "lane_width": (3.5, 4.0),
            "curvature": (0.0, 0.004),
            "speed_limit": (25.0, 33.0),
            "traffic_density": (10.0, 20.0),
            "aggressiveness": (0.0, 0.5),
            "friction": (0.7, 1.0),
            **_IMPERFECTIONS,
            **_VISUAL_TRAIN,
        },
        "heldout-curves": {"curvature": (0.01, 0.02)},
        "heldout-traffic": {"traffic_density": (25.0, 35.0), "aggressiveness": (0.7, 1.0)},
        "heldout-friction": {"friction": (0.25, 0.45)},
        "heldout-visual": _VISUAL_HELDOUT,
    },
}

_SPACES = {task: ScenarioSpace(params=PARAMS, splits=splits) for task, splits in _SPLITS.items()}


def scenario_space(task: str) -> ScenarioSpace:
    """The scenario space of ``task`` (one of :data:`TASKS`)."""
    if task not in _SPACES:
        raise ValueError(f"unknown driving task {task!r}; valid: {list(TASKS)}")
    return _SPACES[task]
