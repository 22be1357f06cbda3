"""A plugin's training recipe and default algorithm come from its EnvSpec."""

from __future__ import annotations

import pytest
from practicegym_point.env import PointEnv

import envs
from agents import factory, train
from agents.config import ConfigError


def _plan(*argv: str):
    return train.prepare(train.build_parser().parse_args(list(argv)))


def test_the_example_plugin_ships_its_own_recipe(capsys):
    spec = envs.resolve("point")
    assert spec.default_algo == "ppo" and spec.max_episode_steps == 50
    plan = _plan("--env", "point")
    assert plan.config.algo == "ppo" and plan.config.timesteps == 50_000  # its YAML
    plan = _plan("--env", "point", "--algo", "sac")
    assert plan.config.timesteps == 20_000 and plan.config.algo_kwargs["learning_starts"] == 500
    assert "note:" not in capsys.readouterr().err


def test_a_recipe_given_as_a_mapping_and_a_plugin_without_one(capsys):
    envs.register(
        "recipe-point",
        "practicegym_test/RecipePoint-v0",
        PointEnv,
        default_algo="a2c",
        hyperparams={"a2c": {"run": {"timesteps": 1234}, "algo": {"n_steps": 7}}},
        max_episode_steps=50,
    )
    plan = _plan("--env", "recipe-point")
    assert plan.config.algo == "a2c" and plan.config.timesteps == 1234
    assert plan.config.algo_kwargs["n_steps"] == 7
    assert "note:" not in capsys.readouterr().err
    plan = _plan("--env", "recipe-point", "--algo", "ppo")  # no ppo entry: default
    assert plan.config.timesteps == 100_000
    err = capsys.readouterr().err
    assert "ships no ppo hyperparameters" in err and "default:" in err


def test_bad_recipes_are_named():
    envs.register(
        "typo-recipe-point",
        "practicegym_test/TypoRecipePoint-v0",
        PointEnv,
        hyperparams={"ppo2": {}},
    )
    with pytest.raises(ConfigError, match="unknown algorithm 'ppo2'.*Did you mean 'ppo'"):
        factory.env_recipe("ppo", "typo-recipe-point")
    envs.register(
        "missing-recipe-point",
        "practicegym_test/MissingRecipePoint-v0",
        PointEnv,
        hyperparams="practicegym_point:nothing_here.yaml",
    )
    with pytest.raises(ConfigError, match="cannot be read"):
        factory.env_recipe("ppo", "missing-recipe-point")
    with pytest.raises(ValueError, match="max_episode_steps must be None or an integer >= 1"):
        envs.EnvSpec("x", "x/X-v0", PointEnv, max_episode_steps=0)
    with pytest.raises(ValueError, match="hyperparams must be None"):
        envs.EnvSpec("x", "x/X-v0", PointEnv, hyperparams="no-colon.yaml")


def test_built_ins_declare_their_contract_like_plugins():
    for name, algo in [("driving", "ppo"), ("robot-push", "sac"), ("dialogue", "maskable-ppo")]:
        spec = envs.resolve(name)
        assert spec.default_algo == algo and spec.max_episode_steps is not None
    assert isinstance(envs.make("dialogue").unwrapped, envs.TextPerception)
    assert isinstance(envs.make("robot-reach").unwrapped, envs.FramePerception)
