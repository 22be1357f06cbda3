"""Augmentations, randomised collection and preprocessing of agents.perception."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

import envs
from agents.perception import cli
from agents.perception.augment import (
    FAMILIES,
    AugmentedCNN,
    Augmenter,
    augment_policy_kwargs,
    parse_spec,
)
from agents.perception.data import (
    VISUAL_SPLIT,
    CollectConfig,
    collect,
    load_dataset,
    randomised_distribution,
)
from agents.perception.model import PerceptionExtractor, load_model, save_model
from agents.perception.training import RECIPE_AUGMENT, TrainConfig, train_on_dataset


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch() -> torch.Tensor:
    return torch.rand(16, 3, 24, 24, generator=torch.Generator().manual_seed(3))


# ------------------------------------------------------------- augmentations


@pytest.mark.parametrize("spec", [*FAMILIES, "all"])
def test_each_augmentation_is_seeded_and_keeps_dtype_shape_range(spec):
    x = _batch()
    aug = Augmenter(spec, (24, 24))
    state = torch.get_rng_state()
    a = aug(x, torch.Generator().manual_seed(0))
    b = aug(x, torch.Generator().manual_seed(0))
    c = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.allclose(a, x)
    assert torch.equal(x, _batch())  # the input is not modified in place


def test_augmentation_of_an_empty_batch_and_of_none():
    empty = torch.zeros(0, 3, 8, 8)
    assert Augmenter("all", (8, 8))(empty).shape == empty.shape
    x = _batch()
    assert Augmenter("none", (24, 24))(x) is x and not Augmenter("none", (24, 24))


def test_parse_spec():
    assert parse_spec("none") == () and parse_spec("") == ()
    assert parse_spec("all") == FAMILIES
    assert parse_spec("colour, shift") == ("shift", "colour")  # FAMILIES order
    with pytest.raises(ValueError, match="unknown augmentation.*valid"):
        parse_spec("colour,sparkle")


def test_augmented_cnn_augments_only_in_training_mode():
    space = spaces.Box(0, 255, (3, 40, 40), dtype=np.uint8)
    ext = AugmentedCNN(space, features_dim=8, augment="colour,blur-noise", seed=0)
    x = torch.rand(4, 3, 40, 40)
    ext.eval()
    plain = ext(x)
    assert torch.equal(plain, ext.cnn(x))
    ext.train()
    assert not torch.allclose(ext(x), plain)
    kwargs = augment_policy_kwargs("shift", seed=3)
    assert kwargs["features_extractor_class"] is AugmentedCNN
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_policy_kwargs("sparkle")


def test_train_config_augment_values():
    assert TrainConfig(augment=True).augment == RECIPE_AUGMENT
    assert TrainConfig(augment=False).augment == "none"
    with pytest.raises(ValueError, match="unknown augmentation"):
        TrainConfig(augment="sparkle")
    with pytest.raises(ValueError, match="preprocess"):
        TrainConfig(preprocess="edges")


# ------------------------------------------------------- randomised collection


def _heldout(space) -> list[dict]:
    return [space.distribution(s).to_dict() for s in space.heldout_splits]


def _never_heldout(name: str, seen, space) -> None:
    """``seen`` ([min, max] or values) shares no value with any held-out split."""
    train = space.distribution("train").to_dict()[name]
    for other in _heldout(space):
        held = other[name]
        if held == train:
            continue
        if isinstance(seen[0], float):
            low, high = (held, held) if not isinstance(held, list) else (min(held), max(held))
            assert seen[1] < low or seen[0] > high, (name, seen, held)
        else:
            held_values = {str(v) for v in (held if isinstance(held, list) else [held])}
            assert not set(seen) & held_values, (name, seen, held)


def test_randomised_distribution_of_driving_never_reaches_heldout():
    space = envs.make("driving").unwrapped.scenario_space
    dist, visual = randomised_distribution(space)
    assert set(visual) == set(space.distribution(VISUAL_SPLIT).to_dict()) - {
        k
        for k, v in space.distribution(VISUAL_SPLIT).to_dict().items()
        if v == space.distribution("train").to_dict()[k]
    }
    train = space.distribution("train").to_dict()
    for name in visual:
        value = dist[name]
        if isinstance(value[0], str):
            assert value == train[name]  # colours: train's only
        else:
            assert value[0] <= train[name][0] and value[1] >= train[name][1]
            _never_heldout(name, value, space)
    assert dist["brightness"][1] > train["brightness"][1]  # it does widen


def test_randomised_collection_records_what_it_rendered(tmp_path):
    out = tmp_path / "rnd"
    meta = collect(
        CollectConfig(env="driving", frames=400, randomise="visual", shard_size=200, every=20),
        out,
        progress=False,
    )
    space = envs.make("driving").unwrapped.scenario_space
    seen = meta["visual_seen"]
    assert meta["randomise"] == "visual" and meta["distribution"]["brightness"][1] > 1.2
    assert set(seen) == set(randomised_distribution(space)[1])
    for name, values in seen.items():
        _never_heldout(name, values, space)
    # the metadata a loader reads back is the same
    assert load_dataset(out).metadata["visual_seen"] == seen
    # plain collection of heldout-visual does record held-out values (the check can fail)
    held = collect(
        CollectConfig(env="driving", split=VISUAL_SPLIT, frames=50, shard_size=50),
        tmp_path / "held",
        progress=False,
    )
    assert "brick" in held["visual_seen"]["road_colour"] and held["distribution"] is None


def test_randomise_needs_the_train_split_and_a_known_mode(tmp_path, capsys):
    with pytest.raises(ValueError, match="randomise"):
        CollectConfig(env="driving", randomise="all")
    with pytest.raises(ValueError, match="widens the train split"):
        CollectConfig(env="driving", split=VISUAL_SPLIT, randomise="visual")
    argv = ["collect", "--env", "driving", "--split", VISUAL_SPLIT, "--randomise", "visual"]
    assert cli.main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert "widens the train split" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------- preprocessing and loading


def test_frame_norm_model_trains_saves_and_loads_weights_only(tmp_path, monkeypatch):
    collect(CollectConfig(env="driving", frames=64, shard_size=64), tmp_path / "d", progress=False)
    data = load_dataset(tmp_path / "d")
    cfg = TrainConfig(epochs=1, batch_size=32, device="cpu", augment="all", preprocess="frame-norm")
    net, _ = train_on_dataset(data, cfg, progress=False)
    assert net.config.preprocess == "frame-norm"
    names = {"label_names": data.label_names, "label_units": data.label_units}
    save_model(net, tmp_path / "m", names)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded, _ = load_model(tmp_path / "m")
    assert calls == [True]
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x), net(x))
    # brightness and contrast of a frame no longer reach the trunk
    torch.testing.assert_close(loaded.trunk(x), loaded.trunk(0.5 * x + 0.2), atol=2e-3, rtol=1e-3)
    ext = PerceptionExtractor(spaces.Box(0, 255, (3, 64, 64), np.uint8), str(tmp_path / "m"))
    assert ext(x).shape == (2, ext.features_dim)


def test_cli_train_augment_flag(tmp_path, capsys):
    collect(CollectConfig(env="driving", frames=40, shard_size=40), tmp_path / "d", progress=False)
    base = ["train", "--data", str(tmp_path / "d"), "--epochs", "1", "--device", "cpu"]
    base += ["--no-progress", "--channels", "4", "--embed-dim", "8"]
    assert cli.main([*base, "--out", str(tmp_path / "m"), "--augment", "sparkle"]) == 2
    assert "unknown augmentation" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "m"), "--augment", "colour,shift"]) == 0
    meta = load_model(tmp_path / "m")[1]
    assert meta["train_config"]["augment"] == "colour,shift"
    assert cli.main([*base, "--out", str(tmp_path / "r"), "--augment"]) == 0
    assert load_model(tmp_path / "r")[1]["train_config"]["augment"] == RECIPE_AUGMENT
