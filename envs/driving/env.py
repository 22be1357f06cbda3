"""The driving env: a curvy multi-lane road with IDM/MOBIL traffic (one class, three tasks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.core import ScenarioEnv
from envs.driving.actions import ACTION_TYPES
from envs.driving.config import DrivingConfig, RewardWeights, from_mapping
from envs.driving.observations import LABEL_UNITS, BirdseyeRenderer
from envs.driving.scenarios import TASKS, scenario_space
from envs.driving.worlds import OBS_TYPES, DrivingWorlds, WorldState

__all__ = ["OBS_TYPES", "DrivingEnv", "check_driving_args"]

_ONE = np.zeros(1, dtype=np.intp)


def check_driving_args(task: str, obs_type: str, action_type: str) -> None:
    """Raises ``ValueError`` naming the valid values when an argument is unknown."""
    if task not in TASKS:
        raise ValueError(f"unknown driving task {task!r}; valid: {list(TASKS)}")
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")
    if action_type not in ACTION_TYPES:
        raise ValueError(f"action_type must be one of {list(ACTION_TYPES)}, got {action_type!r}")


class DrivingEnv(WorldState, ScenarioEnv):
    """Drive a car along a procedurally generated curvy road among IDM/MOBIL traffic.

    ## Description
    The road is a multi-lane centreline of straights and arcs joined by clothoid
    transitions, drawn from the episode seed and the scenario's ``curvature``. The ego is
    a kinematic bicycle with steering-rate and jerk limits whose yaw rate is capped by
    tyre friction (``|v * yaw_rate| <= friction * g``): too fast into a curve and it
    understeers off the road. Background vehicles follow the Intelligent Driver Model and
    change lanes with MOBIL, all advanced in one vectorised NumPy update per step and
    recycled around the ego so density stays constant. Tasks: ``full`` (curvy road with
    traffic; the ``driving`` short name), ``lane-keep`` (curvy, little traffic) and
    ``highway`` (gentle curves, dense traffic, speed rewarded).

    ## Action Space
    ``action_type="continuous"`` (default): ``Box(-1, 1, (2,), float32)``

    | Num | Action | Scaling                                                    |
    |-----|--------|------------------------------------------------------------|
    | 0   | steer  | path curvature ``steer * 0.06`` 1/m (positive = left)      |
    | 1   | accel  | ``accel * 3`` m/s^2 when positive, ``accel * 7`` when negative |

    ``action_type="discrete"``: ``Discrete(5)`` meta-actions ``0 LANE_LEFT, 1 IDLE,
    2 LANE_RIGHT, 3 FASTER, 4 SLOWER`` (target speed steps of 4 m/s), executed by a
    lane-tracking controller.

    ## Observation Space
    ``obs_type="kinematics"`` (default): ``Box(-1, 1, (11 + 5 + 4 * K,), float32)`` with
    ``K = config.observed_vehicles`` (6), every entry normalised and clipped:

    | Num       | Observation                                | Scaling            |
    |-----------|--------------------------------------------|--------------------|
    | 0         | offset from the current lane's centre      | / (lane width / 2) |
    | 1         | offset from the road centreline            | / (road width / 2) |
    | 2         | heading error to the road tangent          | / (pi / 4)         |
    | 3         | speed relative to the speed limit          | v / limit - 1      |
    | 4         | speed limit                                | / 40 m/s           |
    | 5         | steering angle                             | / 0.5 rad          |
    | 6         | acceleration                               | / 7 m/s^2          |
    | 7, 8      | distance to the left / right road edge     | / 10 m             |
    | 9         | gap to the lead vehicle in the ego lane    | / 50 m - 1 (100 m cap) |
    | 10        | lead speed minus ego speed                 | / 20 m/s           |
    | 11-15     | road curvature 5, 15, 30, 50, 75 m ahead   | / 0.04 1/m         |
    | 16 + 4k.. | vehicle k: present, rel s, rel d, rel speed | 1, / 80 m, / 2 lanes, / 20 m/s |

    ``obs_type="birdseye"``: ``Box(0, 255, (64, 64, 3), uint8)``, an ego-centred,
    heading-up view (0.75 m/px, 36 m ahead, 12 m behind) drawn with NumPy, coloured by
    the scenario's visual parameters (marking colour/contrast, road and verge colours,
    brightness, blur, pixel noise). With ``context="visible"`` the normalised scenario is
    appended (kinematics) or added under ``"context"`` (birdseye, a ``Dict`` space).

    ## Rewards
    A sum of named terms, each in ``info["reward_terms"]``, weighted by
    :class:`~envs.driving.config.RewardWeights`: ``progress`` (speed along the road over
    the speed limit, capped at 1), ``centring`` (lane-centre keeping), ``speeding``,
    ``comfort`` (steering/acceleration changes), ``lane_change``, and the one-off
    ``collision`` and ``off_road`` (also losing control) penalties.

    ## Starting State
    The ego starts on a straight lead-in, centred in a random lane at 70-90% of the
    speed limit; background vehicles are spread over 120 m behind to 200 m ahead with
    safe gaps (none within 25 m in the ego's lane).

    ## Episode End
    Terminated on a collision (``info["crashed"]``), leaving the road
    (``info["off_road"]``) or a heading error over 1 rad (``info["lost_control"]``).
    Truncated at ``config.horizon`` (30 s = 150 steps at 5 Hz). ``info["is_success"]``
    is true at the horizon with no incident and a mean speed of at least half the speed
    limit. Every step also reports ``lane_deviation`` (mean absolute lane offset so
    far), ``speed`` and ``distance``.

    ## Arguments
    * ``task``: ``"full"`` (default), ``"lane-keep"`` or ``"highway"``.
    * ``split``: ``"train"``, ``"heldout-curves"``, ``"heldout-traffic"``,
      ``"heldout-friction"``, ``"heldout-visual"`` or a distribution.
    * ``context``: ``"hidden"`` or ``"visible"``.
    * ``render_mode``: ``"rgb_array"`` (256x256 view) or ``"human"`` (matplotlib).
    * ``obs_type``: ``"kinematics"`` or ``"birdseye"``.
    * ``action_type``: ``"continuous"`` or ``"discrete"``.
    * ``reward``: :class:`~envs.driving.config.RewardWeights` or a dict of its fields.
    * ``config``: :class:`~envs.driving.config.DrivingConfig` or a dict of its fields.

    Perception hooks: :meth:`perception_frame` (the bird's-eye raster) and
    :meth:`perception_labels` (units in ``perception_label_units``).

    The simulation is :class:`~envs.driving.worlds.DrivingWorlds`, the same core that
    :class:`~envs.driving.vector.DrivingVectorEnv` runs for N worlds at once: this env is
    the batch of one, and world ``k`` of a vector env seeded with ``seed + k`` follows
    this env seeded with ``seed + k`` bit for bit under the same actions.

    ## Version History
    * v0: first version (batched core: traffic recycling and pixel noise draw their
      randomness at reset).

    Example:
        >>> env = DrivingEnv(task="full", split="train")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_space
        ((40,), Box(-1.0, 1.0, (2,), float32))
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> sorted(info["reward_terms"])
        ['centring', 'collision', 'comfort', 'lane_change', 'off_road', 'progress', 'speeding']
        >>> env.perception_frame().shape, list(env.perception_labels())[:2]
        ((64, 64, 3), ['lateral_offset', 'heading_error'])
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 5}
    episode_info_keys = ("crashed", "off_road", "lost_control", "lane_deviation", "speed")
    perception_label_units: ClassVar[dict[str, str]] = dict(LABEL_UNITS)

    def __init__(
        self,
        task: str = "full",
        split: str = "train",
        context: str = "hidden",
        render_mode: str | None = None,
        obs_type: str = "kinematics",
        action_type: str = "continuous",
        reward: RewardWeights | Mapping[str, float] | None = None,
        config: DrivingConfig | Mapping[str, Any] | None = None,
    ) -> None:
        check_driving_args(task, obs_type, action_type)
        super().__init__(
            scenario_space(task), split=split, context=context, render_mode=render_mode
        )
        self.task = task
        self.obs_type = obs_type
        self.action_type = action_type
        self.weights = from_mapping(RewardWeights, reward, **vars(RewardWeights.for_task(task)))
        self.config = from_mapping(DrivingConfig, config)
        self.max_episode_steps = self.config.max_steps  # EnvSpec contract: the episode limit
        self.worlds = DrivingWorlds(
            1,
            space=self.scenario_space,
            obs_type=obs_type,
            action_type=action_type,
            weights=self.weights,
            config=self.config,
        )
        self.action_space = self.worlds.action_space
        self._declare_observation_space(self.worlds.observation_space)
        self._view: BirdseyeRenderer | None = None
        self._figure: Any = None
        self._discrete = action_type == "discrete"
        self.world_index = 0

    # ------------------------------------------------------------------ world

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self.worlds.reset_worlds(_ONE, [scenario], [self.np_random])
        info = {key: value.item() for key, value in self.worlds.reset_info(_ONE).items()}
        return self.worlds.observe(_ONE)[0], info

    def _step_world(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        batch = np.array([action]) if self._discrete else action[None]
        reward, terminated, truncated, info = self.worlds.step(batch)
        terms = {name: float(value[0]) for name, value in info.pop("reward_terms").items()}
        info = {key: value[0].item() for key, value in info.items()}
        info["reward_terms"] = terms
        obs = self.worlds.observe()[0]
        return obs, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    # ------------------------------------------------------------- perception

    def perception_frame(self) -> np.ndarray:
        """The bird's-eye raster of the current state (uint8 HxWx3, visual params applied)."""
        if self.road is None:
            raise RuntimeError("call reset() before perception_frame()")
        return self.worlds.frames(_ONE)[0]

    def perception_labels(self) -> dict[str, float]:
        """Privileged labels of the current state (units: ``perception_label_units``).

        ``lateral_offset`` is from the current lane's centre (positive left);
        ``curvature_ahead`` is the road curvature 20 m ahead. The lead vehicle is what
        the bird's-eye frame can show: ``lead_gap`` is capped at the frame's visible
        range ahead (``BirdseyeRenderer.visible_gap``, 33.75 m at the default 64 px and
        0.75 m/px) and ``lead_rel_speed`` is 0 when no lead is within it. A missing
        adjacent lane counts as occupied.
        """
        if self.road is None:
            raise RuntimeError("call reset() before perception_labels()")
        return {key: float(value[0]) for key, value in self.worlds.labels(_ONE).items()}

    # -------------------------------------------------------------- rendering

    def render(self) -> np.ndarray | None:
        """A 256x256 bird's-eye frame (``rgb_array``) or a matplotlib window (``human``)."""
        if self.render_mode is None or self.road is None:
            return None
        if self._view is None:
            self._view = BirdseyeRenderer(self.config.render_size, self.config.render_scale)
        w = self.worlds
        frame = self._view.render(w.roads, w.egos, w.traffic, w.colours[:1], _ONE)[0]
        if self.render_mode == "rgb_array":
            return frame
        import matplotlib.pyplot as plt  # lazy: only for human rendering

        if self._figure is None:
            self._figure = plt.figure("practicegym driving")
            self._image = plt.imshow(frame)
            plt.axis("off")
        else:
            self._image.set_data(frame)
        plt.pause(1.0 / self.metadata["render_fps"])
        return None

    def close(self) -> None:
        """Closes the human-render window, if any."""
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = None
