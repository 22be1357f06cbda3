"""Typed configuration of the driving env: reward weights and simulation settings.

Both are frozen dataclasses; :func:`envs.config.from_mapping` builds them from plain dicts
(YAML, ``gym.make`` kwargs) and rejects unknown keys, naming the valid ones.

Example:
    >>> RewardWeights.for_task("full").collision
    -5.0
    >>> from_mapping(RewardWeights, {"colision": -1.0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown RewardWeights keys ['colision']; valid: ['progress', ...
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from envs.config import from_mapping  # re-exported: the driving env imports it from here

__all__ = ["DrivingConfig", "RewardWeights", "from_mapping"]


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the named reward terms (each term is reported in ``info["reward_terms"]``).

    Attributes:
        progress: Per step, times ``min(speed along the road / speed_limit, 1)``.
        centring: Per step, times ``1 - (lane offset / half lane width)^2`` (floored at 0).
        speeding: Per step, times ``max(speed / speed_limit - 1, 0)`` (use a negative).
        comfort: Per step, times the squared steering and acceleration changes as
            fractions of their per-step limits (use a negative).
        lane_change: Each time the ego's lane index changes (use a negative).
        collision: Once, on hitting a vehicle (use a negative).
        off_road: Once, on leaving the road or losing control (use a negative).
    """

    progress: float = 1.0
    centring: float = 0.3
    speeding: float = -1.0
    comfort: float = -0.05
    lane_change: float = -0.05
    collision: float = -5.0
    off_road: float = -5.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"reward weight {f.name!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"reward weight {f.name!r} must be finite, got {value}")

    @classmethod
    def for_task(cls, task: str) -> RewardWeights:
        """Default weights: ``highway`` rewards speed more and centring less."""
        if task == "highway":
            return cls(progress=1.2, centring=0.1, lane_change=-0.02)
        return cls()


@dataclass(frozen=True)
class DrivingConfig:
    """Simulation settings that are not scenario parameters.

    Attributes:
        policy_frequency: Agent decisions per second [Hz].
        substeps: Ego integration steps per decision (traffic: one vectorised step).
        horizon: Episode length [s]; reaching it without incident is a success when the
            mean speed is high enough.
        success_speed_ratio: Mean speed along the road, as a fraction of the speed limit,
            that a successful episode needs (standing still is not success).
        observed_vehicles: Neighbours in the kinematics observation.
        max_vehicles: Cap on background vehicles (density x window x lanes).
        birdseye_size: Height/width of the bird's-eye observation [px].
        birdseye_scale: Metres per pixel of the bird's-eye observation.
        render_size: Height/width of ``render()`` frames [px].
        render_scale: Metres per pixel of ``render()`` frames.
        lost_control_heading: Heading error [rad] beyond which the car is out of control.
    """

    policy_frequency: float = 5.0
    substeps: int = 2
    horizon: float = 30.0
    success_speed_ratio: float = 0.5
    observed_vehicles: int = 6
    max_vehicles: int = 40
    birdseye_size: int = 64
    birdseye_scale: float = 0.75
    render_size: int = 256
    render_scale: float = 0.35
    lost_control_heading: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "policy_frequency": self.policy_frequency > 0,
            "substeps": isinstance(self.substeps, int) and self.substeps >= 1,
            "horizon": self.horizon > 0,
            "success_speed_ratio": 0.0 <= self.success_speed_ratio <= 1.5,
            "observed_vehicles": isinstance(self.observed_vehicles, int)
            and self.observed_vehicles >= 0,
            "max_vehicles": isinstance(self.max_vehicles, int) and self.max_vehicles >= 0,
            "birdseye_size": isinstance(self.birdseye_size, int) and self.birdseye_size >= 8,
            "birdseye_scale": self.birdseye_scale > 0,
            "render_size": isinstance(self.render_size, int) and self.render_size >= 8,
            "render_scale": self.render_scale > 0,
            "lost_control_heading": 0 < self.lost_control_heading <= math.pi,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid DrivingConfig values for {bad}: {[getattr(self, b) for b in bad]}; "
                "see the DrivingConfig docstring for valid ranges"
            )

    @property
    def dt(self) -> float:
        """Seconds per agent step."""
        return 1.0 / self.policy_frequency

    @property
    def max_steps(self) -> int:
        """Agent steps per episode."""
        return max(1, round(self.horizon * self.policy_frequency))
