"""The example configs shipped in examples/ load and build what they claim to."""

from __future__ import annotations

from pathlib import Path

import curricula
import envs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_driving_stages_example_builds_a_stages_scheduler():
    config = curricula.load_config(EXAMPLES / "curricula" / "driving-stages.yaml")
    env = envs.make("driving")
    space = env.unwrapped.scenario_space
    env.close()
    scheduler = curricula.make_scheduler(
        "stages", space, seed=0, total_timesteps=10_000, config=config
    )
    assert len(scheduler.config.stages) == 4
    assert scheduler.config.threshold == 0.8
