"""``RobotEnv``: a Franka Panda reaching or pushing on PyBullet, under scenarios.

Why this file is long (about 490 lines): the env file is the env's documentation
(Gymnasium's convention: the class docstring with every section and a doctest is about
160 lines), and the rest is one class whose physics already lives in ``sim``, ``robot``
and ``tasks``; splitting the class would scatter the reset/step template it documents.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.core import FramePerception, ScenarioEnv
from envs.robot.robot import Panda
from envs.robot.scenarios import SPACES, TASK_NAMES
from envs.robot.sim import Camera, PhysicsConfig, Simulator
from envs.robot.tasks import SUCCESS_DISTANCE, make_task

__all__ = ["OBS_TYPES", "REWARD_TYPES", "RobotEnv"]

OBS_TYPES = ("flat", "goal")
REWARD_TYPES = ("dense", "sparse")
OBS_BOUND = 10.0
APPROACH_WEIGHT = 0.5  # push shaping: weight of the end-effector-to-cube distance
BASE_CAMERA = Camera()
RENDER_SIZE = 240
#: Attributes a copy rebuilds from the constructor arguments instead of copying.
_REBUILT = frozenset(
    {"sim", "robot", "task", "compute_reward", "_ezpickle_args", "_ezpickle_kwargs"}
)


class RobotEnv(ScenarioEnv, EzPickle, FramePerception):
    """Franka Panda arm that reaches a target or pushes a cube to one (PyBullet).

    ## Description
    A 7-DoF Franka Panda (``pybullet_data/franka_panda/panda.urdf``) stands at the end of
    a table, gripper closed (finger joints fixed in the model, as panda-gym blocks them)
    and pointing down. In ``task="reach"`` it must bring its end
    effector within 5 cm of a target in the air; in ``task="push"`` it must push a cube
    on the table until the cube's centre is within 5 cm of a target. The env composes a
    :class:`~envs.robot.robot.Panda` and a :class:`~envs.robot.tasks.Task` over one
    :class:`~envs.robot.sim.Simulator` that owns its own PyBullet client (``DIRECT``;
    ``GUI`` for ``render_mode="human"``, which needs a display: on a headless Linux
    machine (no ``DISPLAY``/``WAYLAND_DISPLAY``) it raises ``ValueError`` instead of
    letting PyBullet abort the process). Using the env after ``close()`` raises
    ``ValueError``.

    Physics (see :class:`~envs.robot.sim.PhysicsConfig`): timestep 0.002 s, 20 substeps
    per action, so 25 Hz control (panda-gym's settings); constraint solver capped at 50
    iterations and stopped at residual 1e-4; the cube is a maximal-coordinates rigid
    body; a cube pushed off the table lands on the floor 0.4 m below. Every reset puts
    the arm back with zero velocity and (push) builds a fresh cube, so a rollout depends
    only on the seed and the actions, not on earlier episodes.

    ## Action Space
    ``control="ee"`` (default): ``Box(-1, 1, (3,), float32)``, end-effector displacement
    (dx, dy, dz) of up to 5 cm per step, executed through PyBullet's IK.
    ``control="joints"``: ``Box(-1, 1, (7,), float32)``, arm joint displacements of up
    to 0.05 rad per step.

    ## Observation Space
    ``obs_type="flat"`` (default): ``Box(-10, 10, (n,), float32)``, the ``observation``
    vector followed by the goal. ``obs_type="goal"``: ``Dict`` with ``observation``,
    ``achieved_goal`` and ``desired_goal`` (for HER: goal envs get a vectorised
    ``compute_reward``, see :meth:`goal_reward`). Observation noise (``obs_noise``)
    perturbs ``observation`` only.

    | Index | Observation                              | Unit  | reach | push  |
    |-------|------------------------------------------|-------|-------|-------|
    | 0-2   | end-effector position x, y, z            | m     | yes   | yes   |
    | 3-5   | end-effector velocity                    | m/s   | yes   | yes   |
    | 6-8   | cube position                            | m     |       | yes   |
    | 9-11  | cube orientation (roll, pitch, yaw)      | rad   |       | yes   |
    | 12-14 | cube linear velocity                     | m/s   |       | yes   |
    | 15-17 | cube angular velocity                    | rad/s |       | yes   |
    | last 3| target position (flat only)              | m     | yes   | yes   |

    ``achieved_goal`` is the end-effector (reach) or cube (push) position;
    ``desired_goal`` the target. With ``context="visible"`` the normalised scenario is
    appended (flat) or added as a ``"context"`` key (goal).

    ## Rewards
    ``reward_type="dense"`` (default): ``distance = -|achieved - desired|``; push adds
    ``approach = -0.5 * |end effector - cube|``. ``reward_type="sparse"``: ``success``
    is 0 within 5 cm, else -1. The terms are in ``info["reward_terms"]``.

    ## Starting State
    Arm in its neutral pose (end effector near (0, 0, 0.2)); the target at
    ``target_distance`` from the workspace centre (-0.1, 0) in a random direction (reach:
    height 0.05-0.3 m); push: the cube within 0.1 m of the centre, yaw in ±45°.

    ## Episode End
    Terminated on success (goal distance below 0.05 m, as panda-gym); truncated after
    ``max_episode_steps`` (50) steps. ``info`` then holds ``is_success``, ``distance``
    (final goal distance, m) and ``ee_path_length`` (m travelled by the end effector).

    ## Arguments
    ``task`` (``"reach"``/``"push"``), ``split``, ``context``, ``render_mode``
    (``"rgb_array"``/``"human"``), ``control`` (``"ee"``/``"joints"``), ``obs_type``
    (``"flat"``/``"goal"``), ``reward_type`` (``"dense"``/``"sparse"``),
    ``max_episode_steps``, ``physics`` (a :class:`~envs.robot.sim.PhysicsConfig` or
    dict), ``renderer`` (``"auto"``/``"tiny"``/``"egl"``). The scenario space
    (``envs.robot.scenarios``) varies the target distance, motor damping, actuator gain,
    latency, observation noise, light, colours, camera jitter and (push) cube mass,
    friction and size; splits ``train``, ``heldout-far``, ``heldout-dynamics``,
    ``heldout-noise``, ``heldout-visual``.

    ## Copies
    ``copy.deepcopy(env)`` and ``pickle`` (in this or another process) give an
    independent env with its own PyBullet client that continues the episode: Gymnasium's
    ``EzPickle`` pattern rebuilds the env from its constructor arguments, then restores
    the Python state (scenario, ``np_random``, step counters, camera, caches, the latency
    queue) and the physical state: the episode's scene (push: the cube's size, mass,
    friction, colours), every body's base pose and velocity, every joint's position and
    velocity, and the motor commands. Stepping or closing either env never affects the
    other; only the read-only scenario space is shared.

    What PyBullet cannot hand over is its contact manifolds and the solver's
    warm-starting impulses, so where bodies touch, a copy is faithful up to the solver's
    tolerance rather than bit for bit. Measured (push, 12 seeds, 60 steps after a copy at
    step 10): with the cube resting on the table the copy's first step differs by up to
    7e-4 in the cube's angular velocity, settling to a few 1e-6 rad of cube yaw; rewards
    differ by at most 3e-7, terminations never; about 20 times less with
    ``physics={"solver_residual_threshold": 1e-7}``. Without contacts (reach, same
    measurement) copies are bit for bit. :attr:`copy_atol` (1e-2) is the tolerance the
    conformance kit applies to observations, rewards and infos.

    A closed env cannot be copied, nor a ``render_mode="human"`` one (PyBullet allows one
    GUI per process). A copy costs about what building the env costs (mostly loading the
    arm's meshes); :meth:`get_state` / :meth:`set_state` move an existing env to a
    snapshot for a small fraction of that (``benchmarks/results/copy_cost.md``).

    ## Version History
    * v0: first version.

    >>> env = RobotEnv(task="push", obs_type="goal")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["observation"].shape
    (['achieved_goal', 'desired_goal', 'observation'], (18,))
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> sorted(info["reward_terms"]), env.perception_frame().shape
    (['approach', 'distance'], (64, 64, 3))
    >>> env.close()
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 25}
    episode_info_keys = ("distance", "ee_path_length")
    copy_atol = 1e-2  # contact caches do not cross clients: see Copies above
    perception_label_units: ClassVar[dict[str, str]] = {
        **{f"object_{a}": "m" for a in "xyz"},
        **{f"target_{a}": "m" for a in "xyz"},
        **{f"ee_{a}": "m" for a in "xyz"},
    }

    def __init__(
        self,
        task: str = "reach",
        split: str = "train",
        context: str = "hidden",
        render_mode: str | None = None,
        control: str = "ee",
        obs_type: str = "flat",
        reward_type: str = "dense",
        max_episode_steps: int = 50,
        physics: PhysicsConfig | Mapping[str, Any] | None = None,
        renderer: str = "auto",
    ) -> None:
        if task not in TASK_NAMES:
            raise ValueError(f"task must be one of {list(TASK_NAMES)}, got {task!r}")
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")
        if reward_type not in REWARD_TYPES:
            raise ValueError(
                f"reward_type must be one of {list(REWARD_TYPES)}, got {reward_type!r}"
            )
        if int(max_episode_steps) != max_episode_steps or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be a positive int, got {max_episode_steps}")
        super().__init__(SPACES[task], split=split, context=context, render_mode=render_mode)
        EzPickle.__init__(
            self,
            task=task,
            split=split,
            context=context,
            render_mode=render_mode,
            control=control,
            obs_type=obs_type,
            reward_type=reward_type,
            max_episode_steps=max_episode_steps,
            physics=physics,
            renderer=renderer,
        )
        self.task_name = task
        self._push = task == "push"
        self.obs_type = obs_type
        self.reward_type = reward_type
        self.max_episode_steps = int(max_episode_steps)
        self.sim = Simulator(physics, gui=render_mode == "human", renderer=renderer)
        try:
            self.robot = Panda(self.sim, control=control)
            self.task = make_task(task, self.sim, self.robot.ee_position)
        except Exception:
            self.sim.close()
            raise
        self.action_space = self.robot.action_space
        size = 6 + self.task.obs_size
        box = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(size,), dtype=np.float32)
        goal = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(3,), dtype=np.float32)
        world: spaces.Space[Any]
        if obs_type == "flat":
            world = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(size + 3,), dtype=np.float32)
        else:
            world = spaces.Dict({"observation": box, "achieved_goal": goal, "desired_goal": goal})
        self._declare_observation_space(world)
        if obs_type == "goal":
            self.compute_reward = self.goal_reward
        self._steps = 0
        self._path = 0.0
        self._last_ee = np.zeros(3)
        self.camera = BASE_CAMERA
        self._light = (1.0, 1.0, 1.0)

    # ------------------------------------------------------------------ world

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self.sim.check_open()
        self.robot.reset(
            motor_damping=scenario["motor_damping"],
            actuator_gain=scenario["actuator_gain"],
            latency=scenario["control_latency"],
        )
        self.task.reset(scenario, self.np_random)
        self._set_view(scenario)
        self._steps = 0
        self._path = 0.0
        self._last_ee = self.robot.ee_position()
        obs, achieved, desired = self._observe()
        distance = float(_goal_distance(achieved, desired))
        return self._pack(obs, achieved, desired), {
            "is_success": distance < SUCCESS_DISTANCE,
            "distance": distance,
        }

    def _step_world(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.sim.check_open()
        self.robot.set_action(action)
        self.sim.step()
        self._steps += 1
        obs, achieved, desired = self._observe()
        ee = obs[:3]  # clean: noise is added in _pack
        self._path += math.dist(ee, self._last_ee)
        self._last_ee = ee
        info: dict[str, Any] = {}
        if self._push:
            info["ee_object_distance"] = math.dist(ee.astype(np.float32), achieved)
        d = _goal_distance(achieved, desired)
        distance = float(d)
        info["distance"] = distance
        reward = float(self._reward(d, info))
        info["reward_terms"] = self._reward_terms(distance, info)
        success = distance < SUCCESS_DISTANCE
        info["is_success"] = success
        truncated = self._steps >= self.max_episode_steps and not success
        if success or truncated:
            info["ee_path_length"] = self._path
        return self._pack(obs, achieved, desired), reward, success, truncated, info

    def _observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clean observation vector, achieved goal and desired goal (float32)."""
        parts = [self.robot.observation()]
        if self.task.obs_size:
            parts.append(self.task.observation())
        obs = np.concatenate(parts)
        achieved = self.task.achieved_goal().astype(np.float32)
        return obs, achieved, self.task.goal.astype(np.float32)

    def _pack(self, obs: np.ndarray, achieved: np.ndarray, desired: np.ndarray) -> Any:
        std = self.scenario["obs_noise"]
        if std > 0:
            obs = obs + self.np_random.normal(0.0, std, size=obs.shape)
        obs = np.minimum(np.maximum(obs, -OBS_BOUND), OBS_BOUND).astype(np.float32)
        if self.obs_type == "flat":
            return np.concatenate([obs, desired])
        return {"observation": obs, "achieved_goal": achieved, "desired_goal": desired.copy()}

    # ---------------------------------------------------------------- rewards

    def goal_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any
    ) -> np.ndarray:
        """Reward for (batches of) goals; ``compute_reward`` in goal mode, for SB3's HER.

        Only ``obs_type="goal"`` envs have a ``compute_reward`` attribute: SB3 treats any
        env that has one as a goal env and requires Dict observations.

        Args:
            achieved_goal: ``(3,)`` or ``(n, 3)`` achieved positions.
            desired_goal: Same shape, the targets.
            info: The step's info dict, or an array/list of them (push's dense reward
                reads ``ee_object_distance`` from it; that term does not depend on the goal).

        Returns:
            float32 reward(s), shape ``()`` or ``(n,)``.
        """
        d = _goal_distance(np.asarray(achieved_goal), np.asarray(desired_goal))
        return self._reward(d, info)

    def _reward(self, d: np.ndarray, info: Any) -> np.ndarray:
        if self.reward_type == "sparse":
            return -(d >= SUCCESS_DISTANCE).astype(np.float32)
        reward = -np.asarray(d, dtype=np.float64)  # same precision for steps and batches
        if self._push:
            approach = np.asarray(_info_values(info, "ee_object_distance", d.shape), np.float64)
            reward = reward - APPROACH_WEIGHT * approach
        return np.asarray(reward, dtype=np.float32)

    def _reward_terms(self, distance: float, info: Mapping[str, Any]) -> dict[str, float]:
        if self.reward_type == "sparse":
            return {"success": -float(distance >= SUCCESS_DISTANCE)}
        terms = {"distance": -distance}
        if "ee_object_distance" in info:
            terms["approach"] = -APPROACH_WEIGHT * info["ee_object_distance"]
        return terms

    # ------------------------------------------------------------- perception

    def _set_view(self, scenario: Mapping[str, Any]) -> None:
        jitter = scenario["camera_jitter"]
        n = self.np_random.normal(size=5) if jitter > 0 else np.zeros(5)
        base = BASE_CAMERA
        self.camera = Camera(
            target=(
                base.target[0] + jitter * n[0],
                base.target[1] + jitter * n[1],
                base.target[2],
            ),
            distance=base.distance + jitter * n[2],
            yaw=base.yaw + 100.0 * jitter * n[3],
            pitch=base.pitch + 100.0 * jitter * n[4],
            fov=base.fov,
        )
        azimuth = np.deg2rad(scenario["light_azimuth"])
        self._light = (float(np.cos(azimuth)), float(np.sin(azimuth)), 1.0)

    def perception_frame(self, size: int = 64, *, shadow: bool = False) -> np.ndarray:
        """The camera image of the current state, ``uint8`` (size, size, 3).

        Uses the episode's camera pose (with its jitter), light and colours.
        """
        if self.scenario == {}:
            raise RuntimeError("call reset() before perception_frame()")
        return self.sim.camera_image(
            self.camera, width=size, height=size, light_direction=self._light, shadow=shadow
        )

    def perception_labels(self) -> dict[str, float]:
        """Privileged positions from the simulator (m), keys as ``perception_label_units``.

        For ``reach`` there is no object: ``object_*`` is the end-effector position.
        """
        ee = self.robot.ee_position()
        labels = {}
        for prefix, xyz in (
            ("object", self.task.object_position()),
            ("target", self.task.goal),
            ("ee", ee),
        ):
            labels.update({f"{prefix}_{a}": float(v) for a, v in zip("xyz", xyz, strict=True)})
        return labels

    def render(self) -> np.ndarray | None:
        """``rgb_array``: a 240x240 camera image; ``human``: the GUI window draws itself."""
        if self.render_mode == "rgb_array":
            return self.perception_frame(RENDER_SIZE, shadow=True)
        return None

    def close(self) -> None:
        """Disconnects the PyBullet client."""
        self.sim.close()
        super().close()

    # ----------------------------------------------------------------- copies

    def get_state(self) -> dict[str, Any]:
        """A snapshot of the env: constructor arguments, Python and physical state.

        Plain data (no PyBullet handle), independent of the env. :meth:`set_state` puts
        it back into this env or into any env built with the same arguments, as often
        as wanted, without the new client and URDF loading a copy costs: what a
        planner that tries many futures from one state wants.

        Raises:
            ValueError: The env is closed.
        """
        if not self.sim.connected:
            raise ValueError("a closed RobotEnv has no state to copy, pickle or snapshot")
        return _copy_sharing_space(
            {
                "init": EzPickle.__getstate__(self),
                "attributes": {k: v for k, v in self.__dict__.items() if k not in _REBUILT},
                "robot": self.robot.get_state(),
                "task": self.task.get_state(),
                "sim": self.sim.state(),
            }
        )

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Moves this env to a snapshot from :meth:`get_state` (kept intact for reuse).

        Raises:
            ValueError: The snapshot comes from an env built with other arguments, or
                from one that was never reset.
        """
        mine = EzPickle.__getstate__(self)
        if state["init"] != mine:
            raise ValueError(
                f"the snapshot is of an env built with {state['init']['_ezpickle_kwargs']}, "
                f"this env was built with {mine['_ezpickle_kwargs']}"
            )
        if not state["attributes"]["scenario"]:
            raise ValueError("the snapshot was taken before the first reset(); nothing to restore")
        self._adopt(_copy_sharing_space(state))

    def _adopt(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state["attributes"])
        self.robot.action_space = self.action_space  # type: ignore[assignment]
        if self.scenario:
            self.task.build(self.scenario)
        self.robot.set_state(state["robot"])
        self.task.set_state(state["task"])
        self.sim.set_state(state["sim"])

    def __getstate__(self) -> dict[str, Any]:
        """For ``pickle``: :meth:`get_state` (a GUI env cannot be pickled)."""
        self._check_copyable()
        return self.get_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Builds a fresh env (own client) and moves it to ``state`` (see the docstring)."""
        init = state["init"]
        type(self).__init__(self, *init["_ezpickle_args"], **init["_ezpickle_kwargs"])
        self._adopt(state)

    def __deepcopy__(self, memo: dict[int, Any]) -> RobotEnv:
        self._check_copyable()
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(self.get_state())
        return new

    def _check_copyable(self) -> None:
        if self.render_mode == "human":
            raise ValueError(
                "a render_mode='human' RobotEnv cannot be copied or pickled: PyBullet allows "
                "one GUI per process; copy an env made with render_mode='rgb_array' or None"
            )


def _copy_sharing_space(state: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a snapshot that shares its read-only scenario space.

    The space is most of a snapshot's copying cost (about 2 of 2.3 ms).
    """
    space = state["attributes"]["scenario_space"]
    return copy.deepcopy(dict(state), {id(space): space})


def _goal_distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Euclidean distance over the last axis (one code path for steps and HER batches)."""
    diff = achieved - desired
    return np.sqrt(np.sum(diff * diff, axis=-1))


def _info_values(info: Any, key: str, shape: tuple[int, ...]) -> Any:
    """``info[key]`` from one info dict or an array/list of them, shaped like ``shape``."""
    items = [info] if isinstance(info, Mapping) else np.asarray(info, dtype=object).reshape(-1)
    if any(key not in item for item in items):
        raise ValueError(
            f"the dense push reward needs info[{key!r}], which these infos lack; with SB3's "
            "HerReplayBuffer pass replay_buffer_kwargs={'copy_info_dict': True}, or use "
            "reward_type='sparse' (HER's usual setting)"
        )
    if isinstance(info, Mapping):
        return info[key]
    return np.array([item[key] for item in items]).reshape(shape)
