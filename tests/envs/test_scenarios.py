from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.scenarios import (
    Categorical,
    Choice,
    Continuous,
    Fixed,
    Integer,
    Levels,
    ParamDistribution,
    Range,
    ScenarioSpace,
)


def make_space() -> ScenarioSpace:
    return ScenarioSpace(
        params=[
            Continuous("curvature", 0.0, 0.2, unit="1/m", easy="low"),
            Continuous("friction", 0.1, 1.2, unit="mu", easy="high"),
            Integer("lanes", 1, 4, easy="high"),
            Categorical("weather", ("sun", "cloud", "rain", "snow"), easy="sun"),
            Continuous("tint", 0.0, 1.0, easy=None),
        ],
        splits={
            "train": {
                "curvature": (0.0, 0.05),
                "friction": (0.6, 1.2),
                "lanes": (2, 4),
                "weather": ["sun", "cloud", "rain"],
                "tint": (0.0, 0.5),
            },
            "heldout-curves": {"curvature": (0.1, 0.2)},
            "heldout-ice": {"friction": (0.1, 0.3), "weather": "snow"},
            "heldout-single": {"lanes": 1},
        },
    )


SPACE = make_space()
splits = st.sampled_from(SPACE.split_names)
seeds = st.integers(0, 2**32 - 1)
difficulties = st.floats(0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, split=splits)
def test_samples_validate_and_lie_in_their_split(seed, split):
    scenario = SPACE.sample(np.random.default_rng(seed), split)
    assert SPACE.validate(scenario) == scenario
    assert SPACE.contains(scenario, split)
    assert SPACE.contains(scenario)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, split=st.sampled_from(SPACE.heldout_splits))
def test_heldout_samples_are_never_train(seed, split):
    scenario = SPACE.sample(np.random.default_rng(seed), split)
    assert not SPACE.contains(scenario, "train")


@settings(max_examples=60, deadline=None)
@given(d1=difficulties, d2=difficulties)
def test_at_is_monotone_and_inside_train(d1, d2):
    low, high = sorted((d1, d2))
    easy, hard = SPACE.at(low), SPACE.at(high)
    assert easy.is_within(hard)
    assert SPACE.is_within_train(hard)


def test_at_ends():
    assert SPACE.at(1.0) == SPACE.distribution("train")
    corner = SPACE.at(0.0)
    assert corner.dists["curvature"] == Fixed(0.0)
    assert corner.dists["friction"] == Fixed(1.2)
    assert corner.dists["lanes"] == Fixed(4)
    assert corner.dists["weather"] == Fixed("sun")
    assert corner.dists["tint"] == Range(0.0, 0.5)  # no easy end: whole train range
    mid = SPACE.at(0.5)
    assert mid.dists["curvature"] == Range(0.0, 0.025)
    assert mid.dists["weather"] == Choice(("sun", "cloud"))


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=difficulties)
def test_at_samples_are_train_samples(seed, d):
    scenario = SPACE.at(d).sample(np.random.default_rng(seed))
    assert SPACE.contains(scenario, "train")


def test_heldout_axes_are_disjoint_from_train():
    assert SPACE.heldout_axes("heldout-curves") == ("curvature",)
    assert SPACE.heldout_axes("heldout-ice") == ("friction", "weather")
    assert SPACE.heldout_axes("heldout-single") == ("lanes",)
    assert SPACE.heldout_axes("train") == ()
    train = SPACE.distribution("train")
    for split in SPACE.heldout_splits:
        held = SPACE.distribution(split)
        for axis in SPACE.heldout_axes(split):
            param = SPACE.param(axis)
            assert not held.dists[axis].overlaps(train.dists[axis], param)


def test_heldout_overlapping_train_everywhere_is_rejected():
    with pytest.raises(ValueError, match="heldout-same.*not held out"):
        ScenarioSpace(
            params=[Continuous("x", 0, 1)],
            splits={
                "train": {"x": (0, 0.5)},
                "heldout-a": {"x": (0.6, 1)},
                "heldout-same": {"x": (0.4, 0.9)},
            },
        )


def test_space_needs_two_heldout_splits_and_valid_names():
    with pytest.raises(ValueError, match="at least two held-out"):
        ScenarioSpace(
            params=[Continuous("x", 0, 1)],
            splits={"train": {"x": (0, 0.5)}, "heldout-a": {"x": (0.6, 1)}},
        )
    with pytest.raises(ValueError, match="must be 'train' or start with 'heldout-'"):
        ScenarioSpace(params=[Continuous("x", 0, 1)], splits={"train": {}, "test": {"x": (0.6, 1)}})
    with pytest.raises(ValueError, match="needs a 'train' split"):
        ScenarioSpace(params=[Continuous("x", 0, 1)], splits={"heldout-a": {}})


def test_split_outside_supported_range_is_rejected():
    with pytest.raises(ValueError, match=r"'x'.*outside its supported range \[0, 1\]"):
        ScenarioSpace(
            params=[Continuous("x", 0, 1)],
            splits={"train": {"x": (0, 2)}, "heldout-a": {"x": 1}, "heldout-b": {"x": 0.9}},
        )


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"curvatur": 0.0}, r"unknown scenario parameters \['curvatur'\].*curvature: continuous"),
        ({"friction": 5.0}, r"'friction'=5.0 is outside .*\[0.1, 1.2\]"),
        ({"lanes": 2.5}, r"'lanes' must be an integer in \[1, 4\]"),
        ({"lanes": True}, r"'lanes' must be an integer"),
        ({"weather": "hail"}, r"'weather'='hail' is not a valid choice; valid: \['sun'"),
        ({"curvature": "steep"}, r"'curvature' must be a number in \[0.0, 0.2\]"),
    ],
)
def test_validate_errors_name_valid_values(scenario, message):
    with pytest.raises(ValueError, match=message):
        SPACE.validate(scenario, partial=True)


def test_validate_requires_every_param_unless_partial():
    with pytest.raises(ValueError, match="lacks parameters"):
        SPACE.validate({"curvature": 0.0})
    assert SPACE.validate({"lanes": 3.0}, partial=True) == {"lanes": 3}


def test_unknown_split_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown split 'heldout-x'; valid: \['train'"):
        SPACE.sample(np.random.default_rng(0), "heldout-x")


@pytest.mark.parametrize("bad", [-0.1, 1.5, "hard", True, float("nan")])
def test_at_rejects_bad_difficulty(bad):
    with pytest.raises(ValueError, match="difficulty"):
        SPACE.at(bad)


def test_round_trip_dict_and_yaml():
    again = ScenarioSpace.from_yaml(SPACE.to_yaml())
    assert again.to_dict() == SPACE.to_dict()
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    for split in SPACE.split_names:
        assert again.sample(rng_a, split) == SPACE.sample(rng_b, split)
    with pytest.raises(ValueError, match="unknown keys"):
        ScenarioSpace.from_dict({**SPACE.to_dict(), "extra": 1})


def test_distribution_round_trip_and_levels():
    dist = SPACE.at(0.3)
    assert SPACE.distribution_from_dict(dist.to_dict()) == dist
    rng = np.random.default_rng(0)
    levels = Levels(SPACE, [SPACE.sample(rng), SPACE.sample(rng)], weights=[0.0, 1.0])
    assert levels.sample(rng) == levels.scenarios[1]
    again = SPACE.distribution_from_dict(levels.to_dict())
    assert again.scenarios == levels.scenarios
    assert SPACE.is_within_train(levels)
    held = Levels(SPACE, [SPACE.sample(rng, "heldout-curves")])
    assert not SPACE.is_within_train(held)
    assert not SPACE.is_within_train(SPACE.distribution("heldout-ice"))
    assert isinstance(SPACE.distribution("train"), ParamDistribution)


def test_normalize_is_in_unit_box():
    rng = np.random.default_rng(0)
    for split in SPACE.split_names:
        vec = SPACE.normalize(SPACE.sample(rng, split))
        assert vec.shape == (SPACE.context_size,) == (8,)
        assert vec.dtype == np.float32
        assert np.all((vec >= 0) & (vec <= 1))
