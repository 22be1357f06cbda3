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
    SPEED_STEP,
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
    Surroundings,
    kinematics,
    kinematics_size,
    palettes,
    surroundings,
)
from envs.driving.road import Road, RoadBatch, draw_curvature
from envs.driving.vehicle import (
    AHEAD,
    BEHIND,
    MAX_JERK,
    MAX_STEER_RATE,
    MOBIL_PERIOD,
    RECYCLE_BANK,
    Egos,
    EgoState,
    Traffic,
    TrafficBatch,
    TrafficDraws,
    advance_egos,
    curve_speeds_ahead,
    spawn,
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
_NOISE_SCALE = np.array([0.16, 3.0])
_NUMERIC = (
    "lanes",
    "lane_width",
    "speed_limit",
    "traffic_density",
    "friction",
    "latency",
)  # actuation noise [steer rad, accel m/s^2] per unit


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
        self.reward_weights = {
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

        Each world draws its random numbers from its own generator (one short loop over
        the worlds); everything built from them is computed for all of ``worlds`` at once.
        """
        cfg, num = self.config, len(worlds)
        col = {name: np.array([sc[name] for sc in scenarios]) for name in _NUMERIC}
        limit, lanes = col["speed_limit"].astype(float), col["lanes"].astype(np.intp)
        samples = np.ceil(road_length(limit, cfg.horizon) / ROAD_SPACING).astype(np.intp) + 1
        window = (AHEAD + BEHIND) / 1000.0
        count = np.minimum(cfg.max_vehicles, np.rint(col["traffic_density"] * lanes * window))
        draws = TrafficDraws.empty(count.astype(np.intp))
        kappa = np.empty((num, self.roads.kappa.shape[1]))
        start_lane, start_speed = np.empty(num, np.intp), np.empty(num)
        jitter = np.empty((num, *self.traffic.recycle_jitter.shape[1:]))
        pick = np.empty((num, RECYCLE_BANK))
        for j, (k, sc, rng) in enumerate(zip(worlds.tolist(), scenarios, rngs, strict=True)):
            n = int(samples[j])
            kappa[j, :n] = draw_curvature(
                rng, samples=n, curvature_max=sc["curvature"], ds=ROAD_SPACING,
                lead_in=START_S + 40.0,
            )  # fmt: skip
            kappa[j, n:] = kappa[j, n - 1]
            start_lane[j] = rng.integers(sc["lanes"])
            start_speed[j] = rng.uniform(0.7, 0.9)
            draws.draw(j, rng, sc["lanes"], sc["aggressiveness"])
            jitter[j] = rng.uniform(-3.0, 3.0, jitter.shape[1:])
            pick[j] = rng.random(RECYCLE_BANK)
            # Pixel noise crop offsets, one per step (so rendering never draws).
            offsets = rng.random((self.max_steps + 1, 2)) * NOISE_MARGIN
            self.pixel_offsets[k] = offsets.astype(np.intp)
            # Actuation noise for the whole episode: [steer rad, accel m/s^2].
            self.actuation_noise[k] = 0.0
            if sc["actuation_noise"] > 0.0:
                noise = rng.standard_normal((self.max_steps, 2))
                self.actuation_noise[k] = noise * (sc["actuation_noise"] * _NOISE_SCALE)
            self.scenarios[k] = dict(sc)

        width = col["lane_width"].astype(float)
        self.roads.set_many(worlds, kappa, samples, lanes, width)
        egos = self.egos
        egos.s[worlds], egos.psi[worlds] = START_S, 0.0
        egos.d[worlds] = (start_lane - 0.5 * (lanes - 1)) * width
        egos.v[worlds] = limit * start_speed
        egos.steer[worlds] = egos.accel[worlds] = egos.yaw_demand_ratio[worlds] = 0.0
        vehicles = spawn(
            draws,
            lanes=lanes,
            speed_limit=limit,
            center_s=np.full(num, START_S),
            ego_s=np.full(num, START_S),
            ego_lane=start_lane,
        )
        friction = col["friction"].astype(float)
        self.traffic.place_many(
            worlds,
            vehicles,
            draws.count,
            lanes=lanes,
            lane_width=width,
            curve_speed=curve_speeds_ahead(kappa, friction, ROAD_SPACING),
            recycle_jitter=jitter,
            recycle_pick=pick,
        )
        self.traffic.finish_placing(worlds)
        self.speed_limit[worlds], self.friction[worlds] = limit, friction
        self.latency[worlds] = col["latency"]
        self.commands[worlds] = 0.0
        self.targets.lane[worlds] = start_lane
        self.targets.speed[worlds] = np.rint(egos.v[worlds] / SPEED_STEP) * SPEED_STEP
        self.steps[worlds] = 0
        self.distance[worlds] = self.abs_offset_sum[worlds] = 0.0
        self.colours[worlds], self.blur[worlds], self.pixel_noise[worlds] = palettes(scenarios)
        self.around.assign(worlds, self._surroundings(worlds))
        self.lane[worlds] = self.around.lane[worlds]

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
        w = self.reward_weights
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
        return self.worlds.roads.road(self.world_index)

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
