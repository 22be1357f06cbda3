"""Example practicegym plugin: registers ``point`` through the ``practicegym.envs`` group.

Its ``pyproject.toml`` declares::

    [project.entry-points."practicegym.envs"]
    point = "practicegym_point:register_envs"
"""

from envs import EnvSpec


def register_envs() -> list[EnvSpec]:
    """Returns the plugin's envs; practicegym registers them."""
    return [
        EnvSpec(
            name="point",
            env_id="practicegym_point/Point-v0",
            entry_point="practicegym_point.env:PointEnv",
            expert="practicegym_point.env:PointExpert",
            description="Point mass on a plane that must reach a goal (example plugin).",
            default_algo="ppo",
            hyperparams="practicegym_point:hyperparams.yaml",  # shipped in this package
            max_episode_steps=50,  # PointEnv truncates its episodes after 50 steps
        )
    ]
