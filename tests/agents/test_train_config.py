"""Hyperparameter files, merging, --set parsing and typed configs (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.algo_kwargs import (
    build_algo_kwargs,
    build_policy_kwargs,
    check_algo_kwargs,
    check_policy_kwargs,
)
from agents.config import (
    ALGOS,
    HYPERPARAMS_DIR,
    ConfigError,
    RunSettings,
    TrainConfig,
    load_hyperparams,
    parse_override,
)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_shipped_hyperparameter_files_are_valid(algo):
    table = yaml.safe_load((HYPERPARAMS_DIR / f"{algo}.yaml").read_text())
    assert "default" in table
    for env_name in table:
        hp = load_hyperparams(algo, env_name)
        run = dict(hp.run)
        run.pop("timesteps")
        run.pop("env_kwargs", None)
        RunSettings.from_dict(run)
        check_algo_kwargs(algo, hp.algo)
        for policy in ("MlpPolicy", "MultiInputPolicy"):
            check_policy_kwargs(algo, policy, hp.policy)


def test_merge_order_default_env_file_set(tmp_path):
    directory = tmp_path / "hp"
    directory.mkdir()
    (directory / "ppo.yaml").write_text(
        "default:\n  algo: {n_steps: 1, batch_size: 1, gamma: 0.9}\n"
        "myenv:\n  algo: {n_steps: 2, batch_size: 2}\n"
    )
    user = tmp_path / "user.yaml"
    user.write_text("algo: {n_steps: 3}\n")
    hp = load_hyperparams(
        "ppo",
        "myenv",
        user_file=user,
        overrides=[parse_override("algo.n_steps=4")],
        directory=directory,
    )
    assert hp.algo == {"n_steps": 4, "batch_size": 2, "gamma": 0.9}
    keyed = tmp_path / "keyed.yaml"
    keyed.write_text("default:\n  algo: {gamma: 0.5}\nmyenv:\n  algo: {batch_size: 7}\n")
    hp = load_hyperparams("ppo", "myenv", user_file=keyed, directory=directory)
    assert hp.algo == {"n_steps": 2, "batch_size": 7, "gamma": 0.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("algo: {n_steps: 3}\nextra: {}\n", "unknown section"),
        ("algo: [1, 2]\n", "must be a mapping"),
        ("algo: {n_steps: [\n", "not valid YAML"),
    ],
)
def test_bad_user_files_are_rejected(tmp_path, text, message):
    user = tmp_path / "user.yaml"
    user.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_hyperparams("ppo", "point", user_file=user)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run.normalize_obs=true", (("run", "normalize_obs"), True)),
        ("algo.gamma=0.98", (("algo", "gamma"), 0.98)),
        ("algo.learning_rate=3e-4", (("algo", "learning_rate"), 3e-4)),
        ("run.env_kwargs.obs_type=birdseye", (("run", "env_kwargs", "obs_type"), "birdseye")),
        ("policy.net_arch={pi: [8], vf: [8]}", (("policy", "net_arch"), {"pi": [8], "vf": [8]})),
        ("algo.action_noise=null", (("algo", "action_noise"), None)),
    ],
)
def test_set_values_are_yaml_never_code(text, expected):
    assert parse_override(text) == expected


def test_set_never_evaluates_code():
    _keys, value = parse_override("algo.gamma=__import__('os').getcwd()")
    assert value == "__import__('os').getcwd()"
    with pytest.raises(ConfigError, match="run.n_envs must be int"):
        RunSettings.from_dict({"n_envs": value})


def test_typed_schedules_noise_and_activations():
    from stable_baselines3.common.noise import NormalActionNoise
    from stable_baselines3.common.utils import LinearSchedule

    kwargs = build_algo_kwargs(
        "td3",
        {
            "learning_rate": {"schedule": "linear", "start": 1.0e-3, "end": 0.0},
            "action_noise": {"type": "normal", "sigma": 0.2},
        },
        n_actions=2,
    )
    assert isinstance(kwargs["learning_rate"], LinearSchedule)
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3)
    assert kwargs["learning_rate"](0.0) == pytest.approx(0.0)
    assert isinstance(kwargs["action_noise"], NormalActionNoise)
    with pytest.raises(ConfigError, match="schedule must be one of"):
        build_algo_kwargs("ppo", {"learning_rate": {"schedule": "cosine", "start": 1}}, 2)
    with pytest.raises(ConfigError, match="action_noise"):
        build_algo_kwargs("td3", {"action_noise": {"type": "pink"}}, 2)
    import torch.nn as nn

    assert build_policy_kwargs({"activation_fn": "relu"})["activation_fn"] is nn.ReLU
    with pytest.raises(ConfigError, match="activation_fn must be one of"):
        build_policy_kwargs({"activation_fn": "sigmoidish"})


def test_cli_owned_algo_keys_are_rejected():
    with pytest.raises(ConfigError, match="unknown algo hyperparameter"):
        check_algo_kwargs("ppo", {"seed": 3})


def test_train_config_round_trip_and_unknown_keys():
    config = TrainConfig(
        env="point",
        algo="ppo",
        seed=1,
        timesteps=10,
        env_kwargs={},
        policy="MlpPolicy",
        run=RunSettings(n_envs=2),
        algo_kwargs={"n_steps": 8},
        policy_kwargs={},
    )
    data = yaml.safe_load(yaml.safe_dump(config.to_dict()))
    assert TrainConfig.from_dict(data) == config
    with pytest.raises(ConfigError, match="Did you mean 'timesteps'"):
        TrainConfig.from_dict({**data, "timestep": 3})
    with pytest.raises(ConfigError, match="missing keys"):
        TrainConfig.from_dict({"env": "point"})


def test_hyperparams_dir_is_packaged():
    assert Path(HYPERPARAMS_DIR, "ppo.yaml").exists()
