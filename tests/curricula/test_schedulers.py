from __future__ import annotations

import json

import numpy as np
import pytest

import curricula
from curricula import (
    SCHEDULERS,
    CurriculumGuardError,
    LearningProgressScheduler,
    PLRScheduler,
    StagesScheduler,
    UniformScheduler,
    load_config,
    make_scheduler,
)
from envs.scenarios import Categorical, Continuous, Integer, Levels, ScenarioSpace

SPACE = ScenarioSpace(
    params=[
        Continuous("gap", 0.0, 2.0, easy="low"),
        Continuous("noise", 0.0, 1.0, easy=None),
        Integer("lanes", 1, 5, easy="high"),
        Categorical("weather", ("sun", "rain", "snow"), easy="sun"),
    ],
    splits={
        "train": {
            "gap": (0.0, 1.0),
            "noise": (0.0, 0.5),
            "lanes": (2, 5),
            "weather": ["sun", "rain"],
        },
        "heldout-wide": {"gap": (1.5, 2.0)},
        "heldout-snow": {"weather": "snow"},
    },
)
TRAIN = SPACE.distribution("train")


def _outcome(scenario: dict, rng: np.random.Generator) -> tuple[float, bool]:
    """A fake learner: easy gaps succeed more often."""
    success = bool(rng.random() > scenario["gap"])
    return (10.0 if success else -scenario["gap"]), success


def _drive(sched, episodes: int, seed: int = 123, t0: int = 0) -> list[str]:
    """Runs a scheduler against the fake learner; returns every proposal as JSON."""
    rng = np.random.default_rng(seed)
    seen = []
    for e in range(episodes):
        sched.on_timesteps(t0 + 20 * e)
        dist = sched.distribution(e % 2)
        seen.append(json.dumps(dist.to_dict(), sort_keys=True))
        scenario = dist.sample(rng)
        ret, success = _outcome(scenario, rng)
        sched.update_on_episode(scenario, ret, 20, success, worker=e % 2)
    return seen


CONFIGS = {
    "uniform": {},
    "narrow": {},
    "linear": {"fraction": 0.5},
    "stages": {"window": 5, "threshold": 0.6},
    "learning-progress": {"axes": ["difficulty", "weather"], "n_bins": 3},
    "plr": {"buffer_size": 10, "min_levels": 3},
    "adversarial": {"window": 30},
}


def test_every_scheduler_is_registered_with_a_test_config():
    assert list(SCHEDULERS) == [
        "uniform",
        "narrow",
        "linear",
        "stages",
        "learning-progress",
        "plr",
        "adversarial",
    ]
    assert set(CONFIGS) == set(SCHEDULERS)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_deterministic_given_seed_and_inside_train(name):
    runs = [
        _drive(make_scheduler(name, SPACE, seed=s, total_timesteps=2000, config=CONFIGS[name]), 80)
        for s in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    if name in ("learning-progress", "plr"):
        assert runs[0] != runs[2]
    for text in runs[0]:
        assert SPACE.is_within_train(SPACE.distribution_from_dict(json.loads(text)))


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_round_trip_continues_identically(name):
    a = make_scheduler(name, SPACE, seed=3, total_timesteps=2000, config=CONFIGS[name])
    _drive(a, 60, seed=1)
    state = json.loads(json.dumps(a.state_dict()))
    b = make_scheduler(name, SPACE, seed=99, total_timesteps=2000, config=CONFIGS[name])
    b.load_state_dict(state)
    assert b.state_dict() == a.state_dict()
    assert _drive(a, 40, seed=2, t0=1200) == _drive(b, 40, seed=2, t0=1200)


def test_save_and_load_files(tmp_path):
    a = make_scheduler("plr", SPACE, seed=0, total_timesteps=100, config=CONFIGS["plr"])
    _drive(a, 30)
    a.save(tmp_path / "ck" / "curriculum.json")
    b = make_scheduler("plr", SPACE, seed=0, total_timesteps=100, config=CONFIGS["plr"])
    b.load(tmp_path / "ck" / "curriculum.json")
    assert b.state_dict() == a.state_dict()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read curriculum state"):
        b.load(tmp_path / "bad.json")


def test_load_state_rejects_other_scheduler_or_config():
    plr = make_scheduler("plr", SPACE, seed=0, total_timesteps=100)
    with pytest.raises(ValueError, match="belongs to the 'plr' curriculum"):
        make_scheduler("uniform", SPACE, seed=0, total_timesteps=100).load_state_dict(
            plr.state_dict()
        )
    other = make_scheduler("plr", SPACE, seed=0, total_timesteps=100, config={"buffer_size": 9})
    with pytest.raises(ValueError, match="saved with config"):
        other.load_state_dict(plr.state_dict())


# ------------------------------------------------------------------------- factory


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match="did you mean 'plr'"):
        make_scheduler("prl", SPACE, seed=0, total_timesteps=10)


def test_unknown_option_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown LinearConfig keys \['fracton'\].*fraction"):
        make_scheduler("linear", SPACE, seed=0, total_timesteps=10, config={"fracton": 0.5})
    with pytest.raises(ValueError, match="unknown Stage keys"):
        make_scheduler(
            "stages", SPACE, seed=0, total_timesteps=10, config={"stages": [{"difficuly": 0.5}]}
        )


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("linear", {"fraction": 0.0}, r"linear.fraction must be a number in \(0, 1\]"),
        ("stages", {"stages": [{"difficulty": 0.2, "distribution": {}}]}, "exactly one"),
        ("stages", {"stages": []}, "at least one stage"),
        ("learning-progress", {"axes": ["wind"]}, "neither 'difficulty' nor a parameter"),
        ("learning-progress", {"slow_rate": 0.5}, "must be smaller than fast_rate"),
        ("plr", {"score": "td"}, "plr.score must be one of"),
        ("plr", {"min_levels": 100}, "must not exceed buffer_size"),
    ],
)
def test_invalid_options(name, config, match):
    with pytest.raises(ValueError, match=match):
        make_scheduler(name, SPACE, seed=0, total_timesteps=10, config=config)


def test_load_config(tmp_path):
    good = tmp_path / "stages.yaml"
    good.write_text(
        "threshold: 0.8\nwindow: 20\nstages:\n  - difficulty: 0.0\n"
        "  - distribution: {gap: [0.0, 0.5]}\n    threshold: 0.9\n  - difficulty: 1.0\n"
    )
    sched = make_scheduler("stages", SPACE, seed=0, total_timesteps=10, config=load_config(good))
    assert sched.config.stages[1].threshold == 0.9
    assert sched.config.stages[1].distribution == {"gap": [0.0, 0.5]}
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    with pytest.raises(ValueError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- guard


class _Leaky(UniformScheduler):
    def __init__(self, *args, leak, **kwargs):
        super().__init__(*args, **kwargs)
        self._leak = leak

    def _propose(self, worker):
        return self._leak


@pytest.mark.parametrize(
    "leak",
    [
        SPACE.distribution("heldout-wide"),
        SPACE.distribution_from_dict({"weather": ["sun", "snow"]}),
        Levels(SPACE, [{"gap": 1.7, "noise": 0.1, "lanes": 3, "weather": "sun"}]),
    ],
    ids=["heldout-split", "partly-outside", "heldout-level"],
)
def test_guard_refuses_anything_outside_train(leak):
    sched = _Leaky(SPACE, seed=0, total_timesteps=10, leak=leak)
    with pytest.raises(CurriculumGuardError, match="outside the 'train' split"):
        sched.distribution()


def test_guard_accepts_train_subsets():
    inside = Levels(SPACE, [{"gap": 0.7, "noise": 0.1, "lanes": 3, "weather": "rain"}])
    assert _Leaky(SPACE, seed=0, total_timesteps=10, leak=inside).distribution() is inside


def test_stages_reject_a_heldout_stage_at_construction():
    with pytest.raises(CurriculumGuardError):
        make_scheduler(
            "stages",
            SPACE,
            seed=0,
            total_timesteps=10,
            config={"stages": [{"difficulty": 0.0}, {"distribution": {"gap": [1.5, 2.0]}}]},
        )


def test_plr_never_stores_heldout_levels():
    plr = make_scheduler("plr", SPACE, seed=0, total_timesteps=10)
    held = {"gap": 1.8, "noise": 0.1, "lanes": 3, "weather": "sun"}
    assert plr.observe_score(held, 100.0) is None
    assert plr.levels == []


# -------------------------------------------------------------------------- narrow


def test_narrow_holds_train_easiest_corner_whatever_happens():
    narrow = make_scheduler("narrow", SPACE, seed=0, total_timesteps=1000)
    assert narrow.distribution().to_dict() == SPACE.at(0.0).to_dict()
    proposals = set(_drive(narrow, 60))
    assert proposals == {json.dumps(SPACE.at(0.0).to_dict(), sort_keys=True)}
    assert narrow.version == 0 and narrow.metrics() == {"difficulty": 0.0}
    half = make_scheduler("narrow", SPACE, seed=0, total_timesteps=10, config={"difficulty": 0.5})
    assert half.distribution().to_dict() == SPACE.at(0.5).to_dict()
    with pytest.raises(ValueError, match=r"narrow.difficulty must be a number in \[0, 1\]"):
        make_scheduler("narrow", SPACE, seed=0, total_timesteps=10, config={"difficulty": 2})


# -------------------------------------------------------------------------- linear


def test_linear_ramps_then_holds():
    lin = make_scheduler("linear", SPACE, seed=0, total_timesteps=1000, config={"fraction": 0.5})
    assert lin.distribution().to_dict() == SPACE.at(0.0).to_dict()
    lin.on_timesteps(250)
    assert lin.difficulty == pytest.approx(0.5)
    assert lin.version > 0
    lin.on_timesteps(900)
    assert lin.difficulty == 1.0
    assert lin.distribution().to_dict() == TRAIN.to_dict()


# -------------------------------------------------------------------------- stages


def _scenario(gap: float = 0.0) -> dict:
    return {"gap": gap, "noise": 0.2, "lanes": 5, "weather": "sun"}


@pytest.mark.parametrize(("threshold", "needed"), [(0.8, 8), (0.7, 7), (0.3, 3)])
def test_stages_advance_exactly_at_threshold(threshold, needed):
    sched = make_scheduler(
        "stages",
        SPACE,
        seed=0,
        total_timesteps=10,
        config={
            "window": 10,
            "threshold": threshold,
            "stages": [{"difficulty": 0.0}, {"difficulty": 1.0}],
        },
    )
    outcomes = [False] * (10 - needed) + [True] * needed
    for k, success in enumerate(outcomes[:-1]):
        sched.update_on_episode(_scenario(), 0.0, 5, success, version=0)
        assert sched.stage == 0, f"advanced early after {k + 1} episodes"
    sched.update_on_episode(_scenario(), 0.0, 5, outcomes[-1], version=0)
    assert sched.stage == 1
    assert sched.version == 1
    assert sched.distribution().to_dict() == TRAIN.to_dict()


def test_stages_one_short_of_threshold_never_advance():
    sched = make_scheduler(
        "stages",
        SPACE,
        seed=0,
        total_timesteps=10,
        config={
            "window": 10,
            "threshold": 0.8,
            "stages": [{"difficulty": 0.0}, {"difficulty": 1.0}],
        },
    )
    for _ in range(20):
        for success in [True] * 7 + [False] * 3:
            sched.update_on_episode(_scenario(), 0.0, 5, success, version=0)
    assert sched.stage == 0
    assert sched.success_rate == pytest.approx(0.7)


def test_stages_ignore_episodes_drawn_under_an_earlier_stage():
    sched = make_scheduler(
        "stages",
        SPACE,
        seed=0,
        total_timesteps=10,
        config={
            "window": 2,
            "threshold": 1.0,
            "stages": [
                {"difficulty": 0.0},
                {"distribution": {"gap": [0.5, 1.0]}},
                {"difficulty": 1.0},
            ],
        },
    )
    for _ in range(2):
        sched.update_on_episode(_scenario(0.0), 1.0, 5, True, version=0)
    assert sched.stage == 1
    for _ in range(5):  # delayed episodes from stage 0: must not count for stage 1
        sched.update_on_episode(_scenario(0.0), 1.0, 5, True, version=0)
        sched.update_on_episode(_scenario(0.0), 1.0, 5, True, version=None)
    assert sched.stage == 1
    sched.update_on_episode(_scenario(0.7), 1.0, 5, True, version=None)  # inside stage 1
    sched.update_on_episode(_scenario(0.8), 1.0, 5, True, version=1)
    assert sched.stage == 2


def test_stages_need_success_reports():
    sched = make_scheduler("stages", SPACE, seed=0, total_timesteps=10)
    with pytest.raises(ValueError, match="is_success"):
        sched.update_on_episode(_scenario(), 0.0, 5, None)


# --------------------------------------------------------------- learning progress


def test_lp_bins_partition_train_and_map_back():
    rng = np.random.default_rng(0)
    for axes in (["difficulty"], ["gap", "weather"], ["difficulty", "lanes"]):
        lp = make_scheduler(
            "learning-progress",
            SPACE,
            seed=0,
            total_timesteps=10,
            config={"axes": axes, "n_bins": 4},
        )
        for arm in range(lp.n_arms):
            dist = lp.arm_distribution(arm)
            assert SPACE.is_within_train(dist)
            for _ in range(20):
                assert lp.arm_of(dist.sample(rng)) == arm, (axes, lp.arm_labels[arm])
    lp = make_scheduler(
        "learning-progress", SPACE, seed=0, total_timesteps=10, config={"axes": ["gap", "weather"]}
    )
    assert lp.n_arms == 5 * 2


def test_lp_prefers_bins_whose_success_changes():
    lp = make_scheduler(
        "learning-progress",
        SPACE,
        seed=0,
        total_timesteps=10,
        config={"axes": ["gap"], "n_bins": 3, "exploration": 0.1},
    )
    rng = np.random.default_rng(1)
    gaps = {0: 0.1, 1: 0.5, 2: 0.9}  # one scenario per bin
    for t in range(150):
        progress = min(1.0, t / 100)  # bin 1 is being learnt; bin 0 mastered; bin 2 hopeless
        for arm, success in ((0, True), (1, bool(rng.random() < progress)), (2, False)):
            lp.update_on_episode(_scenario(gaps[arm]), 0.0, 5, success)
    weights = lp.weights
    assert np.argmax(weights) == 1
    assert weights[1] > 0.6
    draws = [lp.arm_of(lp.distribution(0).sample(rng)) for _ in range(300)]
    assert np.bincount(draws, minlength=3)[1] > 0.6 * 300
    metrics = lp.metrics()
    assert metrics["gap=0/success"] == pytest.approx(1.0)
    assert metrics["gap=1/weight"] == pytest.approx(weights[1])


def test_lp_is_uniform_before_any_progress_and_supports_return_signal():
    lp = make_scheduler(
        "learning-progress", SPACE, seed=0, total_timesteps=10, config={"signal": "return"}
    )
    np.testing.assert_allclose(lp.weights, np.full(lp.n_arms, 1 / lp.n_arms))
    for ret in (1.0, 5.0, 9.0):
        lp.update_on_episode(_scenario(0.0), ret, 5, None)
    assert lp.learning_progress[0] > 0


# ----------------------------------------------------------------------------- plr


def test_plr_replays_high_score_levels():
    plr = make_scheduler(
        "plr",
        SPACE,
        seed=0,
        total_timesteps=10,
        config={"min_levels": 4, "replay_prob": 1.0, "staleness_coef": 0.1},
    )
    rng = np.random.default_rng(0)
    levels = [SPACE.sample(rng) for _ in range(8)]
    for t in range(6):
        for i, level in enumerate(levels):
            # level 3's return keeps swinging (high surprise); the others are stable
            ret = (20.0 if t % 2 else -20.0) if i == 3 else float(i)
            plr.update_on_episode(level, ret, 5, None)
    assert int(np.argmax(plr.scores)) == plr.levels.index(SPACE.validate(levels[3]))
    replayed = [plr.distribution(0).scenarios[0] for _ in range(200)]
    share = np.mean([s == SPACE.validate(levels[3]) for s in replayed])
    assert share > 0.7
    assert plr.metrics()["replay_share"] == 1.0


def test_plr_draws_new_levels_until_buffer_has_min_levels():
    plr = make_scheduler("plr", SPACE, seed=0, total_timesteps=10, config={"min_levels": 4})
    dist = plr.distribution(0)
    assert isinstance(dist, Levels) and len(dist.scenarios) == 1
    assert plr.replays == 0


def test_plr_replaces_lowest_score_when_full():
    plr = make_scheduler(
        "plr", SPACE, seed=0, total_timesteps=10, config={"buffer_size": 2, "min_levels": 1}
    )
    a, b, c = (_scenario(g) for g in (0.1, 0.2, 0.3))
    plr.observe_score(a, 1.0)
    plr.observe_score(b, 5.0)
    assert plr.observe_score(c, 0.5) is None  # lower than everything stored
    plr.observe_score(c, 3.0)
    assert [lvl["gap"] for lvl in plr.levels] == [0.3, 0.2]


def test_public_names():
    for name in curricula.__all__:
        assert hasattr(curricula, name)
    assert StagesScheduler.per_worker is False
    assert LearningProgressScheduler.per_worker and PLRScheduler.per_worker
