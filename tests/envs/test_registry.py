from __future__ import annotations

import sys
import textwrap

import gymnasium as gym
import pytest

import envs
from envs import registry
from envs.testing import ConformanceError, check_env_conformance

BUILT_INS = {
    "driving",
    "driving-lane-keep",
    "driving-highway",
    "robot-reach",
    "robot-push",
    "dialogue",
}


def test_built_ins_and_plugin_are_listed():
    names = envs.names()
    assert set(names) >= BUILT_INS
    assert "point" in names  # found through the practicegym.envs entry point
    assert envs.resolve("point").plugin == "point"
    for name in BUILT_INS:
        assert envs.resolve(name).env_id.startswith("practicegym/")
        assert envs.resolve(name).env_id in gym.registry


def test_resolve_accepts_ids_and_suggests_names():
    assert envs.resolve("practicegym/Driving-v0").name == "driving"
    with pytest.raises(ValueError, match=r"unknown env 'drivng'\. Did you mean 'driving'"):
        envs.resolve("drivng")
    with pytest.raises(ValueError, match="Valid names: .*robot-reach"):
        envs.make("zzz")


def test_plugin_env_through_make_and_gymnasium():
    env = envs.make("point", split="heldout-far")
    _, info = env.reset(seed=0)
    assert info["scenario"]["goal_distance"] >= 1.4
    env.close()
    env = gym.make("practicegym_point/Point-v0")
    env.reset(seed=0)
    env.close()
    vec = gym.make_vec("practicegym_point/Point-v0", num_envs=2)
    vec.reset(seed=0)
    vec.close()


def test_plugin_passes_the_conformance_kit():
    check_env_conformance("point")
    check_env_conformance("point", env_kwargs={"context": "visible"}, check_vector=False)


def test_expert_is_built_from_the_registry():
    env = envs.make("point")
    expert = envs.make_expert("point", env)
    obs, _ = env.reset(seed=1)
    for _ in range(60):
        action, _ = expert.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert info["is_success"]
    env.close()


def test_gymnasium_id_taken_by_another_entry_point_is_rejected():
    import gymnasium

    gymnasium.register(id="practicegym_test/Taken-v0", entry_point="some.module:Env")
    with pytest.raises(ValueError, match="already registered in Gymnasium"):
        envs.register("taken", "practicegym_test/Taken-v0", "other.module:Env")
    assert "taken" not in envs.names()


def test_duplicate_registration_is_rejected():
    with pytest.raises(ValueError, match="already registered"):
        envs.register("driving", "practicegym/Other-v0", "x:y")
    with pytest.raises(ValueError, match="already registered"):
        envs.register("other", "practicegym/Driving-v0", "x:y")


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """A real distribution on sys.path whose entry point raises on import."""
    dist = tmp_path / "brokenplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[practicegym.envs]\nbroken = brokenplug:hook\n")
    (tmp_path / "brokenplug.py").write_text(
        textwrap.dedent("""
        import this_module_does_not_exist
        def hook():
            return []
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(envs.PluginWarning, match=r"plugin 'broken' \(brokenplug:hook\) failed"):
        registry.load_plugins(force=True)
    yield
    monkeypatch.undo()
    sys.modules.pop("brokenplug", None)
    registry.load_plugins(force=True)  # the registry as it was, without the broken plugin


def test_broken_plugin_does_not_break_the_others(broken_plugin):
    assert set(envs.names()) >= BUILT_INS | {"point"}  # built-ins and the working plugin
    env = envs.make("driving")
    env.reset(seed=0)
    env.close()
    assert "broken" in envs.broken_plugins()
    # Asking for an env that is not there names the broken plugin and why it failed.
    with pytest.raises(envs.PluginError, match=r"'broken'.*this_module_does_not_exist"):
        envs.make("my-broken-env")
    with pytest.raises(envs.PluginError, match="'broken'"):  # every time, not just once
        envs.resolve("broken")
    with pytest.raises(envs.PluginError, match="'broken'"):  # a plugin's own CI: strict
        registry.load_plugins(strict=True)


def test_broken_plugin_does_not_break_training_a_builtin(broken_plugin, tmp_path, capsys):
    from agents import train

    argv = ["--env", "driving", "--timesteps", "64", "--no-progress", "--device", "cpu"]
    argv += ["--out", str(tmp_path), "--set", "run.n_envs=2", "--set", "algo.n_steps=32"]
    argv += ["--set", "algo.batch_size=32", "--set", "algo.n_epochs=1"]
    argv += ["--set", "run.eval_episodes=1", "--set", "run.record_video=false"]
    assert train.main(argv) == 0
    capsys.readouterr()
    assert train.main(["--env", "broken-env", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'broken'" in err and "this_module_does_not_exist" in err
    assert not (tmp_path / "broken-env").exists()


def test_plugin_returning_garbage_is_named(tmp_path, monkeypatch):
    dist = tmp_path / "garbage-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: garbage\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[practicegym.envs]\ngarbage = garbageplug:hook\n")
    (tmp_path / "garbageplug.py").write_text("def hook():\n    return ['not a spec']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(envs.PluginError, match="'garbage'.*not an EnvSpec"):
            registry.load_plugins(force=True, strict=True)
    finally:
        monkeypatch.undo()
        registry.load_plugins(force=True)


def test_conformance_kit_catches_a_broken_env():
    from practicegym_point.env import PointEnv

    class NonDeterministic(PointEnv):
        def _reset_world(self, scenario):
            import random

            obs, info = super()._reset_world(scenario)
            self._goal = self._goal + random.random()
            return obs, info

    envs.register(
        "broken-point", "practicegym_test/BrokenPoint-v0", NonDeterministic, max_episode_steps=50
    )
    with pytest.raises(ConformanceError, match="broken-point: Gymnasium check_env failed"):
        check_env_conformance("broken-point", check_vector=False, check_render=False)
