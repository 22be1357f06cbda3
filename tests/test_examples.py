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


def _load_planner():
    import importlib.util
    import sys

    if "planner_example" in sys.modules:
        return sys.modules["planner_example"]
    spec = importlib.util.spec_from_file_location("planner_example", EXAMPLES / "planner.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _idle_crashes_avoided(env, planner_example, candidates: int = 2) -> dict[int, bool]:
    """Seeds where IDLE crashes (after step 10) -> whether the planner then avoids it.

    Tries the ``candidates`` seeds where IDLE crashes soonest (short episodes: a fast test).
    """
    options = {"scenario": {"traffic_density": 50.0}}
    crashes = []  # (seed, step) where IDLE crashes late enough to be avoidable
    for seed in range(12):
        idle = planner_example.run_episode(
            env, planner_example.idle_policy, seed=seed, options=options, max_steps=150
        )
        if idle.crashed and idle.steps >= 10:
            crashes.append((seed, idle.steps))
    assert crashes, "no seed where IDLE crashes: make the traffic denser"
    planner = planner_example.LookaheadPlanner(depth=8)
    avoided = {}
    for seed, crash_step in sorted(crashes, key=lambda c: c[1])[:candidates]:
        result = planner_example.run_episode(
            env, planner.act, seed=seed, options=options, max_steps=crash_step + 10
        )
        avoided[seed] = not result.crashed
    return avoided


def test_planner_avoids_collisions_the_idle_policy_runs_into():
    """With exact copies (replayed from the seed), the planner avoids IDLE's crashes."""
    planner_example = _load_planner()
    env = planner_example.ReplayCopyable(
        lambda: envs.make("driving-highway", action_type="discrete")
    )
    try:
        avoided = _idle_crashes_avoided(env, planner_example)
    finally:
        env.close()
    assert all(avoided.values()), f"planner crashed where IDLE did (seed: avoided): {avoided}"


def test_planner_with_deepcopy_avoids_collisions_the_idle_policy_runs_into():
    planner_example = _load_planner()
    env = envs.make("driving-highway", action_type="discrete")
    try:
        avoided = _idle_crashes_avoided(env, planner_example)
    finally:
        env.close()
    assert all(avoided.values()), f"planner crashed where IDLE did (seed: avoided): {avoided}"


def test_planner_main_prints_both_policies(capsys):
    planner_example = _load_planner()
    for copies in ("deepcopy", "replay"):
        argv = ["--seed", "0", "--depth", "1", "--max-steps", "3", "--copies", copies]
        assert planner_example.main(argv) == 0
        out = capsys.readouterr().out
        assert "IDLE" in out and "planner" in out
