"""practicegym environments: scenario spaces, the env contract, the registry and plugins.

``import envs`` registers every built-in env in Gymnasium as ``practicegym/<Name>-v0``:

>>> import envs
>>> {"driving", "robot-reach", "robot-push", "dialogue"} <= set(envs.names())
True
>>> envs.resolve("driving").env_id
'practicegym/Driving-v0'
"""

from envs.core import FramePerception, Policy, ScenarioEnv, TextPerception, validate_action
from envs.registry import (
    ENTRY_POINT_GROUP,
    EnvSpec,
    PluginError,
    PluginWarning,
    broken_plugins,
    episode_limit,
    iter_specs,
    load_plugins,
    make,
    make_expert,
    make_vec,
    names,
    register,
    resolve,
    spec,
)
from envs.scenarios import (
    Categorical,
    Choice,
    Continuous,
    Distribution,
    Fixed,
    Integer,
    Levels,
    ParamDistribution,
    Range,
    ScenarioSpace,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Categorical",
    "Choice",
    "Continuous",
    "Distribution",
    "EnvSpec",
    "Fixed",
    "FramePerception",
    "Integer",
    "Levels",
    "ParamDistribution",
    "PluginError",
    "PluginWarning",
    "Policy",
    "Range",
    "ScenarioEnv",
    "ScenarioSpace",
    "TextPerception",
    "broken_plugins",
    "episode_limit",
    "iter_specs",
    "load_plugins",
    "make",
    "make_expert",
    "make_vec",
    "names",
    "register",
    "resolve",
    "spec",
    "validate_action",
]

# The built-in envs, one flat list, declared exactly as a plugin declares its envs
# (EnvSpec: default algorithm, episode limit, expert; their training recipes are the
# core's agents/hyperparams/<algo>.yaml entries of the same name). Entry points are
# strings, so nothing heavy (PyBullet, torch) is imported until an env is made.
register(
    "driving",
    "practicegym/Driving-v0",
    "envs.driving.env:DrivingEnv",
    kwargs={"task": "full"},
    vector_entry_point="envs.driving.vector:DrivingVectorEnv",
    expert="envs.driving.expert:DrivingExpert",
    description="Curvy multi-lane road with IDM/MOBIL traffic (lane keeping + traffic).",
    default_algo="ppo",
    max_episode_steps=150,
)
register(
    "driving-lane-keep",
    "practicegym/DrivingLaneKeep-v0",
    "envs.driving.env:DrivingEnv",
    kwargs={"task": "lane-keep"},
    vector_entry_point="envs.driving.vector:DrivingVectorEnv",
    expert="envs.driving.expert:DrivingExpert",
    description="Curvy road with light or no traffic: stay in lane at speed.",
    default_algo="ppo",
    max_episode_steps=150,
)
register(
    "driving-highway",
    "practicegym/DrivingHighway-v0",
    "envs.driving.env:DrivingEnv",
    kwargs={"task": "highway"},
    vector_entry_point="envs.driving.vector:DrivingVectorEnv",
    expert="envs.driving.expert:DrivingExpert",
    description="Straight-ish multi-lane highway in traffic: make progress, change lanes.",
    default_algo="ppo",
    max_episode_steps=150,
)
register(
    "robot-reach",
    "practicegym/RobotReach-v0",
    "envs.robot.env:RobotEnv",
    kwargs={"task": "reach"},
    expert="envs.robot.expert:RobotExpert",
    description="Franka Panda (PyBullet): move the end effector to a target.",
    default_algo="sac",
    max_episode_steps=50,
)
register(
    "robot-push",
    "practicegym/RobotPush-v0",
    "envs.robot.env:RobotEnv",
    kwargs={"task": "push"},
    expert="envs.robot.expert:RobotExpert",
    description="Franka Panda (PyBullet): push a cube to a target on a table.",
    default_algo="sac",
    max_episode_steps=50,
)
register(
    "dialogue",
    "practicegym/Dialogue-v0",
    "envs.dialogue.env:DialogueEnv",
    expert="envs.dialogue.expert:HandcraftedPolicy",
    description="Task-oriented slot-filling dialogue against a noisy agenda-based user.",
    default_algo="maskable-ppo",
    max_episode_steps=25,
)
