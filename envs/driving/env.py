"""The driving env: a curvy multi-lane road with IDM/MOBIL traffic (one class, three tasks)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from envs.core import ScenarioEnv
from envs.driving.actions import ACTION_TYPES, ContinuousActions, DiscreteActions
from envs.driving.config import DrivingConfig, RewardWeights, from_mapping
from envs.driving.observations import (
    LABEL_UNITS,
    BirdseyeRenderer,
    Palette,
    Surroundings,
    kinematics,
    kinematics_size,
    surroundings,
)
from envs.driving.road import Road
from envs.driving.scenarios import TASKS, scenario_space
from envs.driving.vehicle import (
    AHEAD,
    BEHIND,
    MAX_JERK,
    MAX_STEER_RATE,
    MOBIL_PERIOD,
    EgoState,
    Traffic,
    bicycle_step,
)

__all__ = ["OBS_TYPES", "DrivingEnv"]

OBS_TYPES = ("kinematics", "birdseye")
START_S = 200.0  # where the ego starts on the road [m]
ROAD_SPACING = 2.0  # [m] between centreline samples (curvature varies over >= 15 m)
RECYCLE_PERIOD = 1.0  # [s] between checks for vehicles that left the window around the ego
CURVATURE_LOOKAHEAD = 20.0  # [m] of the ``curvature_ahead`` perception label


class DrivingEnv(ScenarioEnv):
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

    ## Version History
    * v0: first version.

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
        if task not in TASKS:
            raise ValueError(f"unknown driving task {task!r}; valid: {list(TASKS)}")
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")
        if action_type not in ACTION_TYPES:
            raise ValueError(
                f"action_type must be one of {list(ACTION_TYPES)}, got {action_type!r}"
            )
        super().__init__(
            scenario_space(task), split=split, context=context, render_mode=render_mode
        )
        self.task = task
        self.obs_type = obs_type
        self.action_type = action_type
        self.weights = from_mapping(RewardWeights, reward, **vars(RewardWeights.for_task(task)))
        self.config = from_mapping(DrivingConfig, config)
        self._actions = ContinuousActions() if action_type == "continuous" else DiscreteActions()
        self.action_space = self._actions.space
        cfg = self.config
        self._birdseye = BirdseyeRenderer(cfg.birdseye_size, cfg.birdseye_scale)
        if obs_type == "kinematics":
            n = kinematics_size(cfg.observed_vehicles)
            world_space: spaces.Space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        else:
            size = cfg.birdseye_size
            world_space = spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
        self._declare_observation_space(world_space)
        # Per-step constants, computed once (the config is frozen).
        dt = cfg.dt
        self._timing = (
            dt,
            dt / cfg.substeps,
            cfg.substeps,
            cfg.max_steps,
            max(1, round(MOBIL_PERIOD * cfg.policy_frequency)),
            max(1, round(RECYCLE_PERIOD * cfg.policy_frequency)),
        )
        self._lost_heading = cfg.lost_control_heading
        self._observed = cfg.observed_vehicles
        self._kinematics = obs_type == "kinematics"
        w = self.weights
        self._w = (
            w.progress,
            w.centring,
            w.speeding,
            w.comfort,
            w.lane_change,
            w.collision,
            w.off_road,
        )
        self._view: BirdseyeRenderer | None = None
        self._figure: Any = None
        # World state (built by reset).
        self.road: Road | None = None
        self.ego = EgoState(0.0, 0.0, 0.0, 0.0)
        self.traffic: Traffic | None = None
        self._around: Surroundings | None = None
        self._look: tuple[Palette, np.random.Generator] | None = None
        self._pixel_seed = 0
        self._last_frame: np.ndarray | None = None

    # ------------------------------------------------------------------ world

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        rng = self.np_random
        cfg = self.config
        limit = scenario["speed_limit"]
        length = START_S + cfg.horizon * limit * 1.6 + AHEAD + 100.0
        self.road = road = Road.generate(
            rng,
            lanes=scenario["lanes"],
            lane_width=scenario["lane_width"],
            curvature_max=scenario["curvature"],
            length=length,
            ds=ROAD_SPACING,
            lead_in=START_S + 40.0,
        )
        lane = int(rng.integers(road.lanes))
        speed = limit * float(rng.uniform(0.7, 0.9))
        self.ego = EgoState(s=START_S, d=float(road.lane_center(lane)), psi=0.0, v=speed)
        window = (AHEAD + BEHIND) / 1000.0
        count = min(cfg.max_vehicles, round(scenario["traffic_density"] * road.lanes * window))
        self.traffic = Traffic.spawn(
            rng,
            road,
            count=count,
            center_s=START_S,
            speed_limit=limit,
            aggressiveness=scenario["aggressiveness"],
            friction=scenario["friction"],
            keep_clear=(self.ego.s, self.ego.d),
        )
        # Traffic and actuation noise draw from np_random; pixel noise from its own
        # generator (made on the first frame) so rendering never changes the dynamics.
        self._pixel_seed = int(rng.integers(2**63))
        self._look = None
        self._actions.reset(road, self.ego, limit)
        # Actuation noise for the whole episode, drawn at once: [steer rad, accel m/s^2].
        self._noise: list[list[float]] = []
        if scenario["actuation_noise"] > 0.0:
            scale = scenario["actuation_noise"] * np.array([0.16, 3.0])
            self._noise = (rng.standard_normal((cfg.max_steps, 2)) * scale).tolist()
        self._queue: deque[tuple[float, float]] = deque(
            [(0.0, 0.0)] * scenario["latency"], maxlen=scenario["latency"] + 1
        )
        self._steps = 0
        self._distance = 0.0
        self._abs_offset_sum = 0.0
        self._last_frame = None
        self._around = surroundings(road, self.ego, self.traffic, self._observed)
        self._lane = self._around.lane
        info = self._info(False, False, False)
        return self._observe(), info

    def _step_world(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        road, ego, traffic = self.road, self.ego, self.traffic
        assert road is not None and traffic is not None
        sc = self.scenario
        limit = sc["speed_limit"]
        dt, sub, substeps, max_steps, mobil_every, recycle_every = self._timing
        steer, accel = self._actions.command(action, road, ego, limit)
        if self._noise:
            n0, n1 = self._noise[self._steps % len(self._noise)]
            steer += n0
            accel += n1
        if sc["latency"]:
            self._queue.append((steer, accel))
            steer, accel = self._queue.popleft()
        prev_steer, prev_accel = ego.steer, ego.accel
        travelled = bicycle_step(ego, steer, accel, sub, road, sc["friction"], substeps)
        traffic.step(dt, ego=ego, mobil_every=mobil_every)
        if self._steps % recycle_every == 0:
            traffic.recycle(ego.s, limit)
        self._steps += 1
        self._distance += travelled

        self._around = around = surroundings(road, ego, traffic, self._observed)
        crashed = around.collided
        off_road = abs(ego.d) > road.half_width
        lost = abs(ego.psi) > self._lost_heading
        lane_offset = around.lane_offset
        self._abs_offset_sum += abs(lane_offset)

        w_progress, w_centring, w_speeding, w_comfort, w_lane, w_collision, w_off = self._w
        half_lane = 0.5 * road.lane_width
        steer_change = (ego.steer - prev_steer) / (MAX_STEER_RATE * dt)
        accel_change = (ego.accel - prev_accel) / (MAX_JERK * dt)
        centring = 1.0 - (lane_offset / half_lane) ** 2
        terms = {
            "progress": w_progress * min(travelled / (dt * limit), 1.0),
            "centring": w_centring * (centring if centring > 0.0 else 0.0),
            "speeding": w_speeding * max(ego.v / limit - 1.0, 0.0),
            "comfort": w_comfort * 0.5 * (steer_change**2 + accel_change**2),
            "lane_change": w_lane * float(around.lane != self._lane),
            "collision": w_collision * float(crashed),
            "off_road": w_off * float(off_road or lost),
        }
        self._lane = around.lane
        terminated = crashed or off_road or lost
        truncated = not terminated and self._steps >= max_steps
        info = {
            "is_success": False,
            "crashed": crashed,
            "off_road": off_road,
            "lost_control": lost,
            "lane_deviation": self._abs_offset_sum / self._steps,
            "speed": ego.v,
            "distance": self._distance,
            "reward_terms": terms,
        }
        if truncated:
            needed = self.config.success_speed_ratio * limit * self._steps * dt
            info["is_success"] = self._distance >= needed
        if self._kinematics:
            obs = kinematics(road, ego, limit, self._observed, around)
        else:
            obs = self._observe()
        return obs, sum(terms.values()), terminated, truncated, info

    def _info(self, crashed: bool, off_road: bool, lost: bool) -> dict[str, Any]:
        return {
            "is_success": False,
            "crashed": crashed,
            "off_road": off_road,
            "lost_control": lost,
            "lane_deviation": self._abs_offset_sum / max(self._steps, 1),
            "speed": self.ego.v,
            "distance": self._distance,
        }

    def _observe(self) -> np.ndarray:
        assert self.road is not None and self.traffic is not None and self._around is not None
        if self.obs_type == "kinematics":
            return kinematics(
                self.road,
                self.ego,
                self.scenario["speed_limit"],
                self.config.observed_vehicles,
                self._around,
            )
        frame = self._birdseye.render(self.road, self.ego, self.traffic, *self._appearance())
        self._last_frame = frame
        return frame

    def _appearance(self) -> tuple[Palette, np.random.Generator]:
        """The episode's palette and pixel-noise generator, built on first use."""
        if self._look is None:
            palette = Palette.from_scenario(self.scenario)
            self._look = (palette, np.random.default_rng(self._pixel_seed))
        return self._look

    # ------------------------------------------------------------- perception

    def perception_frame(self) -> np.ndarray:
        """The bird's-eye raster of the current state (uint8 HxWx3, visual params applied).

        With ``obs_type="birdseye"`` it is the last observation itself.
        """
        if self.road is None or self.traffic is None:
            raise RuntimeError("call reset() before perception_frame()")
        if self._last_frame is not None:
            return self._last_frame.copy()
        return self._birdseye.render(self.road, self.ego, self.traffic, *self._appearance())

    def perception_labels(self) -> dict[str, float]:
        """Privileged labels of the current state (units: ``perception_label_units``).

        ``lateral_offset`` is from the current lane's centre (positive left);
        ``curvature_ahead`` is the road curvature 20 m ahead. The lead vehicle is what
        the bird's-eye frame can show: ``lead_gap`` is capped at the frame's visible
        range ahead (``BirdseyeRenderer.visible_gap``, 33.75 m at the default 64 px and
        0.75 m/px) and ``lead_rel_speed`` is 0 when no lead is within it. A missing
        adjacent lane counts as occupied.
        """
        if self.road is None or self.traffic is None or self._around is None:
            raise RuntimeError("call reset() before perception_labels()")
        a = self._around
        visible = self._birdseye.visible_gap
        lead_in_view = a.lead_gap < visible
        return {
            "lateral_offset": a.lane_offset,
            "heading_error": self.ego.psi,
            "curvature_ahead": self.road.curvature_at(self.ego.s + CURVATURE_LOOKAHEAD),
            "lead_gap": a.lead_gap if lead_in_view else visible,
            "lead_rel_speed": a.lead_rel_speed if lead_in_view else 0.0,
            "left_lane_occupied": float(a.left_occupied),
            "right_lane_occupied": float(a.right_occupied),
        }

    # -------------------------------------------------------------- rendering

    def render(self) -> np.ndarray | None:
        """A 256x256 bird's-eye frame (``rgb_array``) or a matplotlib window (``human``)."""
        if self.render_mode is None or self.road is None or self.traffic is None:
            return None
        if self._view is None:
            self._view = BirdseyeRenderer(self.config.render_size, self.config.render_scale)
        palette = Palette(self._appearance()[0].colours)
        frame = self._view.render(self.road, self.ego, self.traffic, palette)
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
