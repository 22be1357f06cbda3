"""The driving simulation of N worlds: one core shared by the env and the vector env.

:class:`DrivingWorlds` keeps every world's road, ego, traffic, actuation state, episode
counters and look as arrays with a leading world axis, and advances all of them with one
set of NumPy operations per step (no per-world Python loop on the step path). A world
is (re)built by :meth:`DrivingWorlds.reset_worlds` from its scenario and its own
generator, which is the only randomness it ever uses: traffic recycling, actuation
noise and pixel noise are drawn from it at reset. So a world's trajectory depends only
on its seed, its scenario and its actions, never on how many worlds share the batch.

:class:`~envs.driving.env.DrivingEnv` is the batch of one;
:class:`~envs.driving.vector.DrivingVectorEnv` the batch of N.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.driving.actions import (
    DiscreteTargets,
    action_space,
    continuous_commands,
    track_commands,
)
from envs.driving.arrays import clamp
from envs.driving.config import DrivingConfig, RewardWeights
from envs.driving.observations import (
    NOISE_MARGIN,
    BirdseyeRenderer,
    Palette,
    Surroundings,
    kinematics,
    kinematics_size,
    surroundings,
)
from envs.driving.road import Road, RoadBatch
from envs.driving.vehicle import (
    AHEAD,
    BEHIND,
    MAX_JERK,
    MAX_STEER_RATE,
    MOBIL_PERIOD,
    Egos,
    EgoState,
    Traffic,
    TrafficBatch,
    advance_egos,
    driver_params,
    spawn_positions,
)
from envs.scenarios import ScenarioSpace

__all__ = ["OBS_TYPES", "REWARD_TERMS", "DrivingWorlds", "WorldState", "WorldView"]

OBS_TYPES = ("kinematics", "birdseye")
START_S = 200.0  # where the ego starts on the road [m]
ROAD_SPACING = 2.0  # [m] between centreline samples (curvature varies over >= 15 m)
RECYCLE_PERIOD = 1.0  # [s] between checks for vehicles that left the window around the ego
CURVATURE_LOOKAHEAD = 20.0  # [m] of the ``curvature_ahead`` perception label
REWARD_TERMS = (
    "progress",
    "centring",
    "speeding",
    "comfort",
    "lane_change",
    "collision",
    "off_road",
)
_NOISE_SCALE = np.array([0.16, 3.0])  # actuation noise [steer rad, accel m/s^2] per unit


def road_length(speed_limit: float, horizon: float) -> float:
    """Road length [m] an episode at ``speed_limit`` needs (with margin for speeding)."""
    return START_S + horizon * speed_limit * 1.6 + AHEAD + 100.0


class DrivingWorlds:
    """N driving worlds as structure of arrays (see the module docstring).

    Args:
        num: Number of worlds.
        space: The task's scenario space (bounds the road length and latency).
        obs_type: ``"kinematics"`` or ``"birdseye"``.
        action_type: ``"continuous"`` or ``"discrete"``.
        weights: Reward weights.
        config: Simulation settings.
    """

    def __init__(
        self,
        num: int,
        *,
        space: ScenarioSpace,
        obs_type: str,
        action_type: str,
        weights: RewardWeights,
        config: DrivingConfig,
    ) -> None:
        self.num = num
        self.obs_type, self.action_type = obs_type, action_type
        self.weights, self.config = weights, config
        cfg = config
        self.action_space = action_space(action_type)
        if obs_type == "kinematics":
            size = kinematics_size(cfg.observed_vehicles)
            self.observation_space: spaces.Box = spaces.Box(-1.0, 1.0, (size,), np.float32)
        else:
            px = cfg.birdseye_size
            self.observation_space = spaces.Box(0, 255, (px, px, 3), np.uint8)
        limit_max = space.param("speed_limit").high
        samples = math.ceil(road_length(limit_max, cfg.horizon) / ROAD_SPACING) + 1
        self.dt = cfg.dt
        self.max_steps = cfg.max_steps
        self.mobil_every = max(1, round(MOBIL_PERIOD * cfg.policy_frequency))
        self.recycle_every = max(1, round(RECYCLE_PERIOD * cfg.policy_frequency))
        latency_max = int(space.param("latency").high)

        self.roads = RoadBatch(num, samples, ROAD_SPACING)
        self.egos = Egos(num)
        self.traffic = TrafficBatch(num, ROAD_SPACING, samples)
        self.targets = DiscreteTargets(num)
        self.birdseye = BirdseyeRenderer(cfg.birdseye_size, cfg.birdseye_scale)
        self.scenarios: list[dict[str, Any]] = [{} for _ in range(num)]
        self.speed_limit = np.full(num, 20.0)
        self.friction = np.ones(num)
        self.latency = np.zeros(num, dtype=np.intp)
        self.actuation_noise = np.zeros((num, self.max_steps, 2))
        self.commands = np.zeros((num, latency_max + 1, 2))  # newest first
        self.steps = np.zeros(num, dtype=np.intp)
        self.distance = np.zeros(num)
        self.abs_offset_sum = np.zeros(num)
        self.lane = np.zeros(num, dtype=np.intp)
        self.colours = np.zeros((num, 5, 3), dtype=np.float32)
        self.blur = np.zeros(num)
        self.pixel_noise = np.zeros(num)
        self.pixel_offsets = np.zeros((num, self.max_steps + 1, 2), dtype=np.intp)
        nearest = cfg.observed_vehicles
        self.around = Surroundings(
            np.zeros(num, np.intp),
            *np.zeros((3, num)),
            *np.zeros((3, num), bool),
            np.zeros((num, nearest, 3)),
            np.zeros(num, np.intp),
        )
        w = weights
        self._w = {
            "progress": w.progress,
            "centring": w.centring,
            "speeding": w.speeding,
            "comfort": w.comfort,
            "lane_change": w.lane_change,
            "collision": w.collision,
            "off_road": w.off_road,
        }

    # ------------------------------------------------------------------ reset

    def reset_worlds(
        self,
        worlds: np.ndarray,
        scenarios: list[dict[str, Any]],
        rngs: list[np.random.Generator],
    ) -> None:
        """Builds each of ``worlds`` for its scenario, drawing everything from its generator.

        The random draws and road/traffic placement go world by world; what follows from
        them is computed for all of ``worlds`` at once.
        """
        for k, scenario, rng in zip(worlds.tolist(), scenarios, rngs, strict=True):
            self._build_world(k, scenario, rng)
        self.traffic.finish_placing(worlds)
        self.around.assign(worlds, self._surroundings(worlds))
        self.lane[worlds] = self.around.lane[worlds]

    def _build_world(self, k: int, scenario: dict[str, Any], rng: np.random.Generator) -> None:
        cfg = self.config
        limit = float(scenario["speed_limit"])
        road = Road.generate(
            rng,
            lanes=scenario["lanes"],
            lane_width=scenario["lane_width"],
            curvature_max=scenario["curvature"],
            length=road_length(limit, cfg.horizon),
            ds=ROAD_SPACING,
            lead_in=START_S + 40.0,
        )
        self.roads.set(k, road)
        lane = int(rng.integers(road.lanes))
        speed = limit * float(rng.uniform(0.7, 0.9))
        ego = EgoState(s=START_S, d=float(road.lane_center(lane)), psi=0.0, v=speed)
        self.egos.set(k, ego)
        window = (AHEAD + BEHIND) / 1000.0
        count = min(cfg.max_vehicles, round(scenario["traffic_density"] * road.lanes * window))
        v0, headway, a_max, politeness = driver_params(
            rng, count, limit, scenario["aggressiveness"]
        )
        s, v, lanes = spawn_positions(
            rng, road, v0, center_s=START_S, speed_limit=limit, keep_clear=(ego.s, ego.d)
        )
        self.traffic.place(
            k,
            road,
            s=s,
            v=v,
            lane=lanes,
            v0=v0,
            headway=headway,
            a_max=a_max,
            politeness=politeness,
            friction=scenario["friction"],
            rng=rng,
        )
        # Pixel noise from its own generator, so rendering never changes the dynamics:
        # one crop offset per step, drawn now.
        pixel_rng = np.random.default_rng(int(rng.integers(2**63)))
        self.pixel_offsets[k] = (pixel_rng.random((self.max_steps + 1, 2)) * NOISE_MARGIN).astype(
            np.intp
        )
        # Actuation noise for the whole episode, drawn at once: [steer rad, accel m/s^2].
        self.actuation_noise[k] = 0.0
        if scenario["actuation_noise"] > 0.0:
            draws = rng.standard_normal((self.max_steps, 2))
            self.actuation_noise[k] = draws * (scenario["actuation_noise"] * _NOISE_SCALE)
        self.scenarios[k] = dict(scenario)
        self.speed_limit[k] = limit
        self.friction[k] = scenario["friction"]
        self.latency[k] = scenario["latency"]
        self.commands[k] = 0.0
        self.targets.reset(k, road.lane_of(ego.d), ego.v)
        self.steps[k] = 0
        self.distance[k] = 0.0
        self.abs_offset_sum[k] = 0.0
        palette = Palette.from_scenario(scenario)
        self.colours[k] = palette.colours
        self.blur[k], self.pixel_noise[k] = palette.blur, palette.noise

    # ------------------------------------------------------------------- step

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advances every world by one validated action each (``(N, ...)``).

        Returns:
            ``(reward, terminated, truncated, info)``: ``(N,)`` arrays and a dict of
            ``(N,)`` arrays (``reward_terms`` a dict of them). Call :meth:`observe` for
            the observations.
        """
        egos, roads, traffic = self.egos, self.roads, self.traffic
        dt, limit = self.dt, self.speed_limit
        if self.action_type == "continuous":
            steer, accel = continuous_commands(actions)
        else:
            self.targets.apply(np.asarray(actions), roads.lanes, limit)
            ahead = (egos.s + 0.2 * np.maximum(egos.v, 3.0))[:, None]
            target_d = (self.targets.lane - 0.5 * (roads.lanes - 1)) * roads.lane_width
            steer, accel = track_commands(
                roads.curvature_at(ahead)[:, 0],
                egos.d,
                egos.psi,
                egos.v,
                target_d,
                self.targets.speed,
            )
        rows = np.arange(self.num)
        noise = self.actuation_noise[rows, self.steps % self.max_steps]
        self.commands = np.roll(self.commands, 1, axis=1)
        self.commands[:, 0, 0], self.commands[:, 0, 1] = steer + noise[:, 0], accel + noise[:, 1]
        steer, accel = self.commands[rows, self.latency].T
        prev_steer, prev_accel = egos.steer, egos.accel
        travelled = advance_egos(
            egos, steer, accel, dt / self.config.substeps, roads.kappa, roads.ds,
            self.friction, self.config.substeps,
        )  # fmt: skip
        width, lanes = roads.lane_width, roads.lanes
        ego_lane = clamp((egos.d / width + 0.5 * lanes + 1.0).astype(np.intp) - 1, 0, lanes - 1)
        traffic.step(dt, egos.s, egos.v, ego_lane, mobil_every=self.mobil_every)
        recycle = np.flatnonzero(self.steps % self.recycle_every == 0)
        traffic.recycle(egos.s, limit, recycle)
        self.steps += 1
        self.distance += travelled

        around = self.around = self._surroundings(None)
        crashed = around.collided
        off_road = np.abs(egos.d) > roads.half_width
        lost = np.abs(egos.psi) > self.config.lost_control_heading
        self.abs_offset_sum += np.abs(around.lane_offset)
        w = self._w
        steer_change = (egos.steer - prev_steer) / (MAX_STEER_RATE * dt)
        accel_change = (egos.accel - prev_accel) / (MAX_JERK * dt)
        centring = 1.0 - (around.lane_offset / (0.5 * width)) ** 2
        terms = {
            "progress": w["progress"] * np.minimum(travelled / (dt * limit), 1.0),
            "centring": w["centring"] * np.maximum(centring, 0.0),
            "speeding": w["speeding"] * np.maximum(egos.v / limit - 1.0, 0.0),
            "comfort": w["comfort"] * 0.5 * (steer_change**2 + accel_change**2),
            "lane_change": w["lane_change"] * (around.lane != self.lane),
            "collision": w["collision"] * crashed,
            "off_road": w["off_road"] * (off_road | lost),
        }
        self.lane = around.lane.copy()
        reward = sum(terms.values())
        terminated = crashed | off_road | lost
        truncated = ~terminated & (self.steps >= self.max_steps)
        needed = self.config.success_speed_ratio * limit * self.steps * dt
        info = {
            "is_success": truncated & (self.distance >= needed),
            "crashed": crashed,
            "off_road": off_road,
            "lost_control": lost,
            "lane_deviation": self.abs_offset_sum / self.steps,
            "speed": egos.v.copy(),
            "distance": self.distance.copy(),
            "reward_terms": terms,
        }
        return reward, terminated, truncated, info

    def reset_info(self, worlds: np.ndarray) -> dict[str, np.ndarray]:
        """The info of freshly reset ``worlds`` (dict of ``(W,)`` arrays)."""
        false = np.zeros(len(worlds), dtype=bool)
        return {
            "is_success": false,
            "crashed": false.copy(),
            "off_road": false.copy(),
            "lost_control": false.copy(),
            "lane_deviation": np.zeros(len(worlds)),
            "speed": self.egos.v[worlds].copy(),
            "distance": np.zeros(len(worlds)),
        }

    def _surroundings(self, worlds: np.ndarray | None) -> Surroundings:
        return surroundings(
            self.roads, self.egos, self.traffic, self.config.observed_vehicles, worlds
        )

    # ------------------------------------------------------------ observation

    def observe(self, worlds: np.ndarray | None = None) -> np.ndarray:
        """Observations of ``worlds`` (default all), stacked along the first axis."""
        if self.obs_type == "kinematics":
            return kinematics(self.roads, self.egos, self.speed_limit, self.around, worlds)
        return self.frames(worlds)

    def frames(self, worlds: np.ndarray | None = None) -> np.ndarray:
        """Bird's-eye rasters of ``worlds`` with their scenario's look (``(W, H, H, 3)``)."""
        worlds = np.arange(self.num) if worlds is None else worlds
        step = np.minimum(self.steps[worlds], self.max_steps)
        return self.birdseye.render(
            self.roads,
            self.egos,
            self.traffic,
            self.colours[worlds],
            worlds,
            blur=self.blur[worlds],
            noise=self.pixel_noise[worlds],
            noise_offsets=self.pixel_offsets[worlds, step],
        )

    def labels(self, worlds: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Privileged perception labels of ``worlds`` (see ``DrivingEnv.perception_labels``)."""
        w = slice(None) if worlds is None else worlds
        a = self.around
        visible = self.birdseye.visible_gap
        in_view = a.lead_gap[w] < visible
        ahead = (self.egos.s[w] + CURVATURE_LOOKAHEAD)[:, None]
        return {
            "lateral_offset": a.lane_offset[w].copy(),
            "heading_error": self.egos.psi[w].copy(),
            "curvature_ahead": self.roads.curvature_at(ahead, w)[:, 0],
            "lead_gap": np.where(in_view, a.lead_gap[w], visible),
            "lead_rel_speed": np.where(in_view, a.lead_rel_speed[w], 0.0),
            "left_lane_occupied": a.left_occupied[w].astype(float),
            "right_lane_occupied": a.right_occupied[w].astype(float),
        }


class WorldState:
    """Read-only access to one world's state (``world_index`` of ``worlds``), as objects.

    What the scripted expert, tools and tests read: the road, the ego, the traffic, the
    step count, the discrete targets. :class:`~envs.driving.env.DrivingEnv` is one (its
    world 0); :class:`WorldView` is world ``k`` of a batch.
    """

    worlds: DrivingWorlds
    world_index: int

    @property
    def road(self) -> Road | None:
        """The episode's road (``None`` before the first reset)."""
        return self.worlds.roads.roads[self.world_index]

    @property
    def ego(self) -> EgoState:
        """A copy of the ego's state."""
        return self.worlds.egos.get(self.world_index)

    @property
    def traffic(self) -> Traffic | None:
        """The background traffic (``None`` before the first reset)."""
        road = self.road
        return None if road is None else Traffic.view(self.worlds.traffic, self.world_index, road)

    @property
    def elapsed_steps(self) -> int:
        """Steps taken in this episode."""
        return int(self.worlds.steps[self.world_index])

    @property
    def target_lane(self) -> int:
        """The discrete actions' target lane (meaningful with ``action_type="discrete"``)."""
        return int(self.worlds.targets.lane[self.world_index])

    @property
    def target_speed(self) -> float:
        """The discrete actions' target speed [m/s]."""
        return float(self.worlds.targets.speed[self.world_index])

    @property
    def surroundings(self) -> Any:
        """The ego's lane, lead vehicle, neighbours and contacts, as Python scalars."""
        return self.worlds.around.world(self.world_index)

    @property
    def birdseye(self) -> BirdseyeRenderer:
        """The renderer of bird's-eye observations and perception frames."""
        return self.worlds.birdseye


class WorldView(WorldState):
    """World ``index`` of a batch, looking like a driving env to a scripted expert.

    ``envs.make_expert("driving", view)`` drives one world of a vector env.

    Args:
        worlds: The batch.
        index: Which world.
    """

    def __init__(self, worlds: DrivingWorlds, index: int) -> None:
        self.worlds, self.world_index = worlds, index
        self.action_type = worlds.action_type
        self.action_space = worlds.action_space

    @property
    def unwrapped(self) -> WorldView:
        """Itself (experts read ``env.unwrapped``)."""
        return self

    @property
    def scenario(self) -> dict[str, Any]:
        """The world's current scenario."""
        return self.worlds.scenarios[self.world_index]
