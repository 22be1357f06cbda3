"""Tests of agents.perception on a tiny fake env that implements the perception hooks."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

import envs
from agents.perception import cli
from agents.perception.data import (
    CollectConfig,
    collect,
    evaluation_configs,
    load_dataset,
    render_frames,
)
from agents.perception.model import (
    ModelConfig,
    PerceptionExtractor,
    PerceptionNet,
    extractor_policy_kwargs,
    frames_to_tensor,
    load_model,
    save_model,
)
from agents.perception.training import (
    TrainConfig,
    label_metrics,
    train_on_dataset,
)
from envs import Continuous, ScenarioEnv, ScenarioSpace

SIZE = 16
SPACE = ScenarioSpace(
    params=[
        Continuous("brightness", 0.1, 1.0, description="dot brightness"),
        Continuous("drift", 0.0, 0.2, unit="m/step"),
    ],
    splits={
        "train": {"brightness": (0.6, 1.0), "drift": (0.0, 0.1)},
        "heldout-visual": {"brightness": (0.1, 0.3)},
        "heldout-drift": {"drift": (0.15, 0.2)},
    },
)


class DotEnv(ScenarioEnv):
    """A dot on a 16x16 image; the perception labels are its coordinates."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    perception_label_units = {"dot_x": "m", "dot_y": "m"}

    def __init__(self, split: str = "train", context: str = "hidden", render_mode=None):
        super().__init__(SPACE, split=split, context=context, render_mode=render_mode)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._declare_observation_space(spaces.Box(0, 255, (SIZE, SIZE, 3), dtype=np.uint8))
        self.pos = np.zeros(2)
        self.steps = 0

    def perception_frame(self) -> np.ndarray:
        frame = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
        col, row = np.clip(((self.pos + 1) / 2 * (SIZE - 1)).round().astype(int), 0, SIZE - 1)
        value = int(255 * self.scenario["brightness"])
        frame[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2] = (value, value // 2, 40)
        return frame

    def perception_labels(self) -> dict[str, float]:
        return {"dot_x": float(self.pos[0]), "dot_y": float(self.pos[1])}

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[np.ndarray, dict]:
        self.pos = self.np_random.uniform(-1, 1, size=2)
        self.steps = 0
        return self.perception_frame(), {}

    def _step_world(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        drift = self.np_random.normal(0, self.scenario["drift"], size=2)
        self.pos = np.clip(self.pos + 0.2 * action + drift, -1, 1)
        self.steps += 1
        done = self.steps >= 10
        info = {"is_success": bool(np.linalg.norm(self.pos) < 0.1)} if done else {}
        return self.perception_frame(), -float(np.linalg.norm(self.pos)), False, done, info


class DotExpert:
    def __init__(self, env: Any) -> None:
        self.env = env

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        return np.clip(-2 * self.env.unwrapped.pos, -1, 1).astype(np.float32), state


envs.register("perception-dot", "practicegym-test/PerceptionDot-v0", DotEnv, expert=DotExpert)
TINY = {"channels": (8, 16), "embed_dim": 32, "augment": "none"}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny tensors: extra threads only fight over the shared cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cfg(**kw: Any) -> CollectConfig:
    return CollectConfig(**{"env": "perception-dot", "frames": 60, "shard_size": 25, **kw})


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("data") / "dot"
    collect(_cfg(frames=200, shard_size=100), out, progress=False)
    return out


@pytest.fixture(scope="module")
def model_dir(dataset_dir, tmp_path_factory):
    data = load_dataset(dataset_dir)
    net, _ = train_on_dataset(
        data, TrainConfig(epochs=2, batch_size=64, seed=0, device="cpu", **TINY), progress=False
    )
    out = tmp_path_factory.mktemp("model") / "m"
    save_model(
        net,
        out,
        {"env": "perception-dot", "label_names": data.label_names, "label_units": data.label_units},
    )
    return out


# ---------------------------------------------------------------- collection


def test_collect_writes_shards_and_metadata(dataset_dir):
    meta = json.loads((dataset_dir / "metadata.json").read_text())
    assert meta["env"] == "perception-dot" and meta["split"] == "train"
    assert meta["label_names"] == ["dot_x", "dot_y"] and meta["label_units"] == ["m", "m"]
    assert meta["frame_shape"] == [SIZE, SIZE, 3] and len(meta["shards"]) == 2
    data = load_dataset(dataset_dir)
    assert data.frames.shape == (200, SIZE, SIZE, 3) and data.frames.dtype == np.uint8
    assert data.labels.shape == (200, 2)
    # Labels describe the state the frame shows: the dot's 3x3 block is centred on them.
    for frame, (x, y) in zip(data.frames[:20], data.labels[:20], strict=True):
        col, row = np.clip(np.round((np.array([x, y]) + 1) / 2 * (SIZE - 1)), 0, SIZE - 1)
        assert frame[int(row), int(col), 0] > 0
    assert len(np.unique(data.episodes)) >= 20  # 10-step episodes: states are diverse
    assert np.abs(data.labels).max() <= 1.0 and data.labels.std(axis=0).min() > 0.2


def test_collect_is_deterministic_whatever_the_workers(tmp_path):
    a = collect(_cfg(seed=3, workers=1), tmp_path / "a", progress=False)
    collect(_cfg(seed=3, workers=2), tmp_path / "b", progress=False)
    collect(_cfg(seed=4, workers=1), tmp_path / "c", progress=False)
    da, db, dc = (load_dataset(tmp_path / n) for n in "abc")
    assert np.array_equal(da.frames, db.frames) and np.array_equal(da.labels, db.labels)
    assert not np.array_equal(da.labels, dc.labels)
    assert a["seed"] == 3 and [s["frames"] for s in a["shards"]] == [25, 25, 10]


def test_collect_samples_the_split_visuals():
    train = render_frames(_cfg(split="train"), 40, 0)[0]
    heldout = render_frames(_cfg(split="heldout-visual"), 40, 0)[0]
    assert train.max(axis=(1, 2, 3)).min() >= int(255 * 0.6)
    assert heldout.max(axis=(1, 2, 3)).max() <= int(255 * 0.3)


def test_collect_never_overwrites_silently(tmp_path):
    collect(_cfg(frames=5), tmp_path / "d", progress=False)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        collect(_cfg(frames=5), tmp_path / "d", progress=False)
    collect(_cfg(frames=7), tmp_path / "d", overwrite=True, progress=False)
    assert len(load_dataset(tmp_path / "d")) == 7
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError, match="not a perception dataset"):
        collect(_cfg(frames=5), tmp_path / "other", overwrite=True, progress=False)


def test_evaluation_configs_take_the_models_env_and_check_splits():
    configs = evaluation_configs(
        None,
        {"env": "perception-dot"},
        "m",
        splits=None,
        frames=10,
        seed=7,
        workers=3,
        env_kwargs=None,
    )
    assert [c.env for c in configs] == ["perception-dot"] * len(configs)
    assert configs[0].split == "train" and "heldout-visual" in [c.split for c in configs]
    assert {(c.frames, c.seed, c.shard_size) for c in configs} == {(10, 7, 4)}
    with pytest.raises(ValueError, match=r"unknown splits \['heldout-x'\].*valid: \['train'"):
        evaluation_configs(
            "perception-dot",
            {},
            "m",
            splits=["train", "heldout-x"],
            frames=5,
            seed=0,
            workers=1,
            env_kwargs=None,
        )
    with pytest.raises(ValueError, match="m: model.json names no env; pass --env"):
        evaluation_configs(None, {}, "m", splits=None, frames=5, seed=0, workers=1, env_kwargs=None)


def test_collect_rejects_bad_env_and_split(tmp_path):
    with pytest.raises(ValueError, match="perception hooks"):
        collect(CollectConfig(env="point", frames=5), tmp_path / "p", progress=False)
    with pytest.raises(ValueError, match="unknown split 'heldout-x'.*heldout-visual"):
        collect(_cfg(split="heldout-x"), tmp_path / "q", progress=False)
    with pytest.raises(ValueError, match="unknown collect config keys"):
        CollectConfig.from_dict({"env": "perception-dot", "frame": 3})
    assert not (tmp_path / "p").exists() and not (tmp_path / "p.partial").exists()


# -------------------------------------------------------------------- models


def test_model_overfits_a_small_batch(dataset_dir):
    data = load_dataset(dataset_dir)
    data.frames, data.labels, data.episodes = data.frames[:32], data.labels[:32], data.episodes[:32]
    cfg = TrainConfig(
        epochs=60, batch_size=32, lr=2e-3, val_fraction=0.0, patience=60, device="cpu", **TINY
    )
    _, report = train_on_dataset(data, cfg, progress=False)
    first = report["history"][0]["train_loss"]
    assert report["best_val_loss"] * 10 <= first, (first, report["best_val_loss"])
    assert all(m["r2"] > 0.9 for m in report["val_metrics"].values())


def test_training_is_seeded_locally_and_leaves_the_global_torch_rng_alone(dataset_dir):
    data = load_dataset(dataset_dir)
    data.frames, data.labels, data.episodes = data.frames[:32], data.labels[:32], data.episodes[:32]
    cfg = TrainConfig(epochs=1, batch_size=32, val_fraction=0.0, device="cpu", seed=3, **TINY)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, _ = train_on_dataset(data, cfg, progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG stream is untouched
    torch.manual_seed(999)  # a different global state changes nothing in training
    again, _ = train_on_dataset(data, cfg, progress=False)
    for (name, a), b in zip(first.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other, _ = train_on_dataset(data, replace(cfg, seed=4), progress=False)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), other.state_dict().values(), strict=True)
    )


def test_save_load_round_trip_gives_identical_predictions(model_dir, dataset_dir):
    frames = load_dataset(dataset_dir).frames[:50]
    net, meta = load_model(model_dir)
    again, _ = load_model(model_dir)
    assert np.array_equal(net.predict_labels(frames), again.predict_labels(frames))
    assert meta["label_names"] == ["dot_x", "dot_y"]
    # A resave of the loaded net round-trips too.
    save_model(
        net,
        model_dir.parent / "copy",
        {"label_names": ["dot_x", "dot_y"], "label_units": ["m", "m"]},
    )
    copy, _ = load_model(model_dir.parent / "copy")
    assert np.array_equal(net.predict_labels(frames), copy.predict_labels(frames))


def _clone(model_dir, dest):
    dest.mkdir()
    for name in ("model.json", "weights.pt"):
        (dest / name).write_bytes((model_dir / name).read_bytes())
    return dest


def test_corrupt_or_mismatched_model_files_raise_clear_errors(model_dir, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a perception model folder"):
        load_model(tmp_path / "empty")
    bad = _clone(model_dir, tmp_path / "bad-weights")
    (bad / "weights.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="weights.pt is corrupt"):
        load_model(bad)
    with pytest.raises(ValueError, match="corrupt"):
        extractor_policy_kwargs(bad)
    bad = _clone(model_dir, tmp_path / "bad-json")
    (bad / "model.json").write_text("{ nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(bad)
    bad = _clone(model_dir, tmp_path / "bad-arch")
    meta = json.loads((bad / "model.json").read_text())
    meta["config"]["embed_dim"] = 64
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match the architecture"):
        load_model(bad)
    meta["config"]["embed_dimm"] = 64
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown model config keys"):
        load_model(bad)
    bad = _clone(model_dir, tmp_path / "pickle")
    torch.save([1, 2], bad / "weights.pt")
    with pytest.raises(ValueError, match="not a state_dict"):
        load_model(bad)


# ----------------------------------------------------------------- extractor


def test_extractor_shape_and_frozen_parameters(model_dir, dataset_dir):
    frames = load_dataset(dataset_dir).frames[:4]
    net, _ = load_model(model_dir)
    chw = spaces.Box(0, 255, (3, SIZE, SIZE), dtype=np.uint8)
    kwargs = extractor_policy_kwargs(model_dir)
    assert kwargs["features_extractor_class"] is PerceptionExtractor
    ext = PerceptionExtractor(chw, **kwargs["features_extractor_kwargs"])
    x = frames_to_tensor(frames)  # what SB3 feeds: channel-first, scaled to [0, 1]
    out = ext(x)
    assert out.shape == (4, 32) and ext.features_dim == 32
    assert torch.allclose(out, net.trunk(x))
    assert all(not p.requires_grad for p in ext.parameters())
    tuned = PerceptionExtractor(
        chw, **extractor_policy_kwargs(model_dir, finetune=True)["features_extractor_kwargs"]
    )
    assert all(p.requires_grad for p in tuned.parameters())
    labels = PerceptionExtractor(chw, str(model_dir), features="labels")
    assert torch.allclose(labels(x), net(x)) and labels.features_dim == 2
    hwc = PerceptionExtractor(spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8), str(model_dir))
    assert torch.allclose(hwc(x.permute(0, 2, 3, 1)), out)
    both = spaces.Dict({"observation": chw, "context": spaces.Box(0, 1, (2,), np.float32)})
    ext = PerceptionExtractor(both, str(model_dir))
    assert ext({"observation": x, "context": torch.ones(4, 2)}).shape == (4, 34)
    with pytest.raises(ValueError, match="does not fit the perception model"):
        PerceptionExtractor(spaces.Box(0, 255, (3, 8, 8), np.uint8), str(model_dir))
    with pytest.raises(ValueError, match="features must be one of"):
        extractor_policy_kwargs(model_dir, features="pixels")


@pytest.mark.parametrize("finetune", [False, True])
def test_trunk_inside_ppo_is_pretrained_and_frozen_unless_finetuned(model_dir, finetune):
    from stable_baselines3 import PPO

    before = {k: v.clone() for k, v in load_model(model_dir)[0].trunk.state_dict().items()}
    env = envs.make("perception-dot")
    model = PPO(
        "CnnPolicy",
        env,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs={**extractor_policy_kwargs(model_dir, finetune=finetune), "net_arch": [16]},
    )
    # SB3's orthogonal init must not have erased the pretrained weights.
    trunk = model.policy.features_extractor.trunk.state_dict()
    assert all(torch.equal(before[k], trunk[k]) for k in before)
    model.learn(64)
    trunk = model.policy.features_extractor.trunk.state_dict()
    unchanged = all(torch.equal(before[k], trunk[k]) for k in before)
    assert unchanged is not finetune
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (2,)


def test_label_metrics():
    true = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    m = label_metrics(true + np.array([0.5, 0.0]), true, ["a", "b"])
    assert m["a"]["mae"] == pytest.approx(0.5) and m["a"]["r2"] == pytest.approx(1 - 0.75 / 2)
    assert m["b"]["r2"] is None and m["b"]["mae"] == 0.0


def test_model_config_rejects_bad_values():
    with pytest.raises(ValueError, match="in_shape"):
        ModelConfig(in_shape=(3, 0, 8), n_labels=2)
    with pytest.raises(ValueError, match="unknown train config keys"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="tpu")
    assert PerceptionNet(ModelConfig(in_shape=(3, 5, 7), n_labels=1))(
        torch.zeros(2, 3, 5, 7)
    ).shape == (2, 1)


# ----------------------------------------------------------------------- CLI


def test_cli_collect_train_eval(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "model"
    argv = [
        "collect",
        "--env",
        "perception-dot",
        "--frames",
        "120",
        "--out",
        str(data),
        "--workers",
        "1",
        "--seed",
        "1",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert cli.main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "train",
                "--augment",
                "--data",
                str(data),
                "--out",
                str(model),
                "--epochs",
                "2",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    assert {"model.json", "weights.pt", "loss_curve.png", "history.json"} <= {
        p.name for p in model.iterdir()
    }
    out = capsys.readouterr().out
    assert "| dot_x | m |" in out
    assert (
        cli.main(
            ["eval", "--model", str(model), "--frames", "30", "--workers", "1", "--no-progress"]
        )
        == 0
    )
    report = json.loads((model / "eval-perception-dot.json").read_text())
    assert list(report["splits"]) == ["train", "heldout-visual", "heldout-drift"]
    assert set(report["splits"]["train"]) == {"dot_x", "dot_y"}
    assert "heldout-visual MAE" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required"),
        (["collect", "--env", "drivng", "--out", "X"], "Did you mean 'driving'"),
        (["collect", "--env", "perception-dot", "--out", "X", "--frames", "0"], "positive"),
        (["collect", "--env", "perception-dot", "--out", "X", "--env-kwargs", "[1]"], "JSON"),
        (
            ["collect", "--env", "perception-dot", "--out", "X", "--env-kwargs", '{"nosuch": 1}'],
            "env 'perception-dot' rejected --env-kwargs {\"nosuch\": 1}",
        ),
        (["train", "--data", "MISSING", "--out", "M"], "does not exist"),
        (["train", "--data", "D", "--out", "M", "--lr", "-1"], "positive"),
        (["eval", "--model", "MISSING"], "does not exist"),
        (["eval", "--model", "M", "--device", "tpu"], "invalid choice"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not (tmp_path / "X").exists() and not (tmp_path / "X.partial").exists()


def test_cli_help_exits_0(capsys):
    assert cli.main(["collect", "--help"]) == 0
    assert "--frames" in capsys.readouterr().out


def test_cli_bad_outputs_and_damaged_shards_exit_2_before_work(dataset_dir, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        (["collect", "--env", "perception-dot", "--out", str(afile)], "is not a folder"),
        (["collect", "--env", "perception-dot", "--out", str(afile / "sub")], "is not a folder"),
        (["train", "--data", str(dataset_dir), "--out", str(afile)], "is not a folder"),
    ]
    damaged = tmp_path / "damaged"
    shutil.copytree(dataset_dir, damaged)
    shard = sorted(damaged.glob("*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    cases.append(
        (["train", "--data", str(damaged), "--out", str(tmp_path / "m")], "cannot read shard")
    )
    for argv, message in cases:
        assert cli.main([*argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert afile.read_text() == "x" and not (tmp_path / "m").exists()
