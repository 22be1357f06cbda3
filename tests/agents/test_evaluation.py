"""Transfer evaluator: known-quality toy policies, common random numbers, rliable, reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

import envs
from agents.evaluation import (
    ALL_HELDOUT,
    TransferReport,
    aggregate_runs,
    episode_seeds,
    evaluate_transfer,
    files,
    rollout,
    stats,
)
from envs import Continuous, ScenarioEnv, ScenarioSpace

# ----------------------------------------------------------------------------- toy env

COIN_SPACE = ScenarioSpace(
    params=[Continuous("bias", 0.0, 1.0)],
    splits={
        "train": {"bias": (0.0, 0.4)},
        "heldout-mid": {"bias": (0.5, 0.7)},
        "heldout-high": {"bias": (0.8, 1.0)},
    },
)


class CoinEnv(ScenarioEnv):
    """One-step episodes: action 1 succeeds (reward 1), action 0 fails."""

    episode_info_keys = ("wrong", "effort")

    def __init__(self, split: str = "train", context: str = "hidden") -> None:
        super().__init__(COIN_SPACE, split=split, context=context)
        self.action_space = spaces.Discrete(2)
        self._declare_observation_space(spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32))

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        return np.array([scenario["bias"]], dtype=np.float32), {}

    def _step_world(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        ok = action == 1
        info = {"is_success": ok, "wrong": not ok, "effort": 0.5 + 0.5 * ok}
        return np.array([self.scenario["bias"]], dtype=np.float32), float(ok), True, False, info


class CoinExpert:
    def __init__(self, env: Any) -> None:
        self.env = env

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        return 1, state


COIN = "eval-test-coin"
if COIN not in envs.names():
    envs.register(COIN, "practicegym_test/EvalCoin-v0", CoinEnv, expert=CoinExpert)


class Bernoulli:
    """Succeeds with probability ``p`` (own seeded generator)."""

    def __init__(self, p: float, seed: int = 0) -> None:
        self.p = p
        self.rng = np.random.default_rng(seed)

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        return int(self.rng.random() < self.p), state


class FirstObservations:
    """Acts like the point expert but records each episode's first observation."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.firsts: list[np.ndarray] = []

    def predict(
        self, observation, state=None, episode_start=None, deterministic=True, action_masks=None
    ):
        if episode_start is not None and bool(np.asarray(episode_start).ravel()[0]):
            self.firsts.append(np.array(observation))
        return np.clip(self.scale * observation[2:4], -1, 1).astype(np.float32), state


# ----------------------------------------------------------------------------- per split


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_success_probability_is_measured_within_its_interval(p: float) -> None:
    report = evaluate_transfer(
        Bernoulli(p, seed=1), COIN, ["train"], episodes=2000, progress=False, normalise=False
    )
    summary = report.summary()["train"]
    assert summary["success"].contains(p)
    # the env's own keys are reported too: "wrong" is a rate, "effort" a mean
    assert summary["wrong"].value == pytest.approx(1 - summary["success"].value)
    assert summary["effort"].value == pytest.approx(0.5 + 0.5 * summary["success"].value)
    # coverage: 20 independent 100-episode measurements; each 95% interval must cover p
    # about 95% of the time (>= 16 of 20 allows for chance: P(fewer) < 0.003)
    chunks = report.splits["train"].successes.reshape(20, 100)
    intervals = [stats.rate(chunk) for chunk in chunks]
    assert sum(est.contains(p) for est in intervals) >= 16
    assert all(0.0 <= e.low < e.value < e.high <= 1.0 for e in intervals)


def test_intervals_narrow_with_more_episodes() -> None:
    def width(n: int) -> tuple[float, float]:
        r = evaluate_transfer(Bernoulli(0.5), COIN, ["train"], episodes=n, progress=False)
        s = r.summary()["train"]
        return s["success"].width, s["normalised"].width

    (s50, n50), (s400, n400) = width(50), width(400)
    assert s400 < s50 / 2  # ~1/sqrt(8) expected
    assert n400 < n50 / 2


def test_expert_normalises_to_one_and_random_to_zero() -> None:
    expert = evaluate_transfer("expert", "point", episodes=8, progress=False)
    random = evaluate_transfer("random", "point", episodes=8, progress=False)
    for split in expert.splits:
        assert expert.summary()[split]["normalised"].value == pytest.approx(1.0, abs=1e-9)
        assert random.summary()[split]["normalised"].value == pytest.approx(0.0, abs=1e-9)
        # and the expert is really better than chance on the point env
        assert expert.summary()[split]["return"].value > random.summary()[split]["return"].value
    assert expert.generalisation()["heldout-far"]["transfer_ratio"] == pytest.approx(1.0)
    assert np.isnan(random.generalisation()["heldout-far"]["transfer_ratio"])
    assert set(expert.generalisation()) == {"heldout-far", "heldout-drag", ALL_HELDOUT}


def test_common_random_numbers_across_policies() -> None:
    a, b = FirstObservations(2.0), FirstObservations(5.0)
    ra = evaluate_transfer(a, "point", episodes=6, seed=3, progress=False, normalise=False)
    rb = evaluate_transfer(b, "point", episodes=6, seed=3, progress=False, normalise=False)
    for split in ra.splits:
        assert ra.splits[split].seeds == rb.splits[split].seeds == episode_seeds(3, split, 6)
        assert ra.splits[split].scenarios == rb.splits[split].scenarios
    # same goals seen by both policies, episode for episode (18 = 3 splits x 6)
    assert len(a.firsts) == len(b.firsts) == 18
    np.testing.assert_array_equal(np.stack(a.firsts), np.stack(b.firsts))
    # the policies differ, so their returns do
    assert not np.array_equal(ra.splits["train"].returns, rb.splits["train"].returns)
    # another seed gives other scenarios; more episodes keep the first ones
    rc = evaluate_transfer(a, "point", ["train"], episodes=9, seed=4, progress=False)
    assert rc.splits["train"].seeds[:6] != ra.splits["train"].seeds
    assert episode_seeds(3, "train", 9)[:6] == ra.splits["train"].seeds


@pytest.mark.parametrize("env", ["point", "driving"])
def test_baselines_kept_on_disk_give_identical_reports(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.evaluation import baselines, transfer

    monkeypatch.setattr(baselines, "CACHE", {})
    monkeypatch.setenv(baselines.BASELINE_CACHE_ENV, str(tmp_path))
    policy = FirstObservations(1.0) if env == "point" else "random"
    kwargs = {"episodes": 3, "seed": 5, "progress": False, "splits": ["train", "heldout-curves"]}
    if env == "point":
        kwargs["splits"] = ["train", "heldout-far"]
    first = evaluate_transfer(policy, env, **kwargs).to_dict()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(f.startswith(env) for f in files)  # random, expert
    monkeypatch.setattr(baselines, "CACHE", {})  # a fresh process
    calls = []
    real = transfer.run_jobs
    monkeypatch.setattr(
        transfer, "run_jobs", lambda jobs, **kw: calls.append(jobs) or real(jobs, **kw)
    )
    second = evaluate_transfer(policy, env, **kwargs).to_dict()
    assert {j.policy for jobs in calls for j in jobs} <= {"agent"}  # baselines from disk
    for data in (first, second):
        data.pop("created")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize("seed", range(6))
def test_probability_of_improvement_matches_rliable(seed: int) -> None:
    from rliable import metrics

    from agents.evaluation.aggregate import probability_of_improvement

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(int(rng.integers(1, 7)), 5)).astype(float)  # ties on purpose
    y = rng.integers(0, 4, size=(int(rng.integers(1, 7)), 5)).astype(float)
    y[:, 0] = x[0, 0] if len(y) != len(x) else y[:, 0]
    for a, b in ((x, y), (y, x), (x, x), (x + 0.5 * rng.random(x.shape), y)):
        assert probability_of_improvement(a, b) == pytest.approx(
            metrics.probability_of_improvement(a, b), abs=1e-12
        )


def test_worker_processes_match_in_process_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agents.evaluation.baselines.CACHE", {})
    ref = evaluate_transfer("expert", "point", episodes=3, progress=False)
    monkeypatch.setattr("agents.evaluation.baselines.CACHE", {})  # really rerun them
    two = evaluate_transfer("expert", "point", episodes=3, n_workers=2, progress=False)
    assert ref.splits["train"].seeds == two.splits["train"].seeds
    for split in ref.splits:
        np.testing.assert_array_equal(ref.splits[split].returns, two.splits[split].returns)
        np.testing.assert_array_equal(
            ref.splits[split].expert_returns, two.splits[split].expert_returns
        )


def test_unpicklable_policy_falls_back_to_in_process() -> None:
    policy = Bernoulli(1.0)
    policy.hook = lambda: None  # type: ignore[attr-defined]  # lambdas do not pickle
    with pytest.warns(UserWarning, match="cannot be pickled"):
        report = evaluate_transfer(policy, COIN, ["train"], episodes=4, n_workers=2, progress=False)
    assert report.summary()["train"]["success"].value == 1.0


def test_action_masks_are_passed_when_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.ndarray] = []
    monkeypatch.setattr(CoinEnv, "action_masks", lambda self: np.array([False, True]), False)
    monkeypatch.setattr("agents.evaluation.baselines.CACHE", {})  # masks change random

    class Masked:
        def predict(self, obs, state=None, episode_start=None, deterministic=True, **kw):
            seen.append(kw["action_masks"])
            return int(np.flatnonzero(kw["action_masks"])[0]), state

    report = evaluate_transfer(Masked(), COIN, ["train"], episodes=5, progress=False)
    assert len(seen) == 5 and all(m.tolist() == [False, True] for m in seen)
    assert report.summary()["train"]["success"].value == 1.0
    # the random baseline samples only unmasked actions, so it scores like the expert here
    assert report.splits["train"].random_returns.tolist() == [1.0] * 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"splits": ["train", "heldout-nowhere"]}, r"unknown split.*valid: \['train'"),
        ({"episodes": 0}, "episodes must be a positive integer"),
        ({"env_kwargs": {"split": "train"}}, "must not contain 'split'"),
        ({"env_kwargs": {"colour": "red"}}, "rejected env_kwargs"),
    ],
)
def test_bad_arguments_say_what_is_valid(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate_transfer("random", "point", progress=False, **kwargs)


def test_policy_that_does_not_match_the_env_is_rejected() -> None:
    class WrongModel:
        observation_space = spaces.Box(-1, 1, shape=(7,))
        action_space = spaces.Box(-1, 1, shape=(2,))

        def predict(self, *args, **kwargs):
            raise AssertionError("must not run")

    with pytest.raises(ValueError, match="does not match env 'point'.*observation_space"):
        evaluate_transfer(WrongModel(), "point", progress=False)
    with pytest.raises(ValueError, match="'expert', 'random'"):
        evaluate_transfer("greedy", "point", progress=False)
    with pytest.raises(ValueError, match="unknown env"):
        evaluate_transfer("random", "pointt", progress=False)


def test_space_check_accepts_sb3_channels_first_images_only() -> None:
    hwc, chw = spaces.Box(0, 255, (64, 64, 3), np.uint8), spaces.Box(0, 255, (3, 64, 64), np.uint8)
    assert rollout._fits(chw, hwc) and rollout._fits(hwc, hwc)
    assert not rollout._fits(spaces.Box(-1, 1, (4,)), spaces.Box(-1, 1, (8,)))
    assert not rollout._fits(spaces.Discrete(3), spaces.Discrete(4))
    obs = spaces.Dict({"image": hwc, "context": spaces.Box(0, 1, (2,))})
    assert rollout._fits(spaces.Dict({"image": chw, "context": spaces.Box(0, 1, (2,))}), obs)
    assert not rollout._fits(spaces.Dict({"image": chw}), obs)


# ----------------------------------------------------------------------------- across runs


@pytest.fixture(scope="module")
def coin_groups() -> dict[str, list[TransferReport]]:
    def run(p: float, seed: int) -> TransferReport:
        return evaluate_transfer(
            Bernoulli(p, seed), COIN, episodes=40, progress=False, label=f"p{p}-s{seed}"
        )

    good = [run(0.9, s) for s in range(3)]
    return {"good": good, "same": list(good), "bad": [run(0.2, s) for s in range(3)]}


def test_probability_of_improvement_over_itself_and_a_worse_group(coin_groups) -> None:
    before = np.random.get_state()[1].copy()
    group = aggregate_runs(coin_groups, reps=50, improvement_reps=20, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global RNG restored
    poi = {(i.x, i.y, i.tasks): i.estimate for i in group.improvements}
    assert poi["good", "same", "all splits"].value == 0.5
    assert poi["good", "bad", "all splits"].value >= 0.95
    assert poi["good", "bad", "held-out splits"].value >= 0.95
    assert poi["same", "bad", "all splits"].low > 0.5


def test_aggregates_are_rliable_on_runs_by_scenarios_arrays(coin_groups) -> None:
    from rliable import metrics

    group = aggregate_runs(coin_groups, reps=50, improvement_reps=5, seed=2)
    assert group.splits == ["train", "heldout-mid", "heldout-high", ALL_HELDOUT]
    for split in group.splits:
        good = group.scores[split]["good"]
        assert good.shape == (3, 80 if split == ALL_HELDOUT else 40)  # runs x scenarios
        est = group.estimates[split]["good"]
        assert est["IQM"].value == pytest.approx(metrics.aggregate_iqm(good))
        assert est["median"].value == pytest.approx(metrics.aggregate_median(good))
        assert est["optimality gap"].value == pytest.approx(metrics.aggregate_optimality_gap(good))
        assert est["mean"].low <= est["mean"].value <= est["mean"].high
        assert est["mean"].width > 0  # three runs: a real bootstrap interval
    again = aggregate_runs(coin_groups, reps=50, improvement_reps=5, seed=2)
    assert again.to_dict()["estimates"] == group.to_dict()["estimates"]  # reproducible
    table = group.table()
    assert "| train | good | 3 |" in table and "P(X > Y)" in table


def test_aggregate_rejects_runs_that_did_not_share_scenarios(coin_groups) -> None:
    other = evaluate_transfer(Bernoulli(0.5), COIN, episodes=40, seed=9, progress=False)
    with pytest.raises(ValueError, match="different episode seeds"):
        aggregate_runs({"a": coin_groups["good"], "b": [other]})
    with pytest.raises(ValueError, match="non-empty list"):
        aggregate_runs({"a": []})
    point = evaluate_transfer("random", "point", episodes=2, progress=False)
    with pytest.raises(ValueError, match="is on env 'point'"):
        aggregate_runs({"a": coin_groups["good"], "b": [point]})


# ----------------------------------------------------------------------------- outputs


def test_save_writes_report_files_that_round_trip(tmp_path: Path, coin_groups) -> None:
    report = coin_groups["good"][0]
    path = report.save(tmp_path / "one")
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "report.json",
        "report.md",
        "scores.png",
    ]
    data = json.loads(path.read_text())
    assert data["splits"]["train"]["seeds"] == report.splits["train"].seeds
    assert "rliable" in data["versions"] and "numpy" in data["versions"]
    back = TransferReport.load(path.parent)
    assert back.summary() == report.summary()
    assert back.to_dict() | {"created": 0} == report.to_dict() | {"created": 0}
    md = (path.parent / "report.md").read_text()
    assert "| heldout-high | 40 |" in md and "Normalised score" in md
    assert (path.parent / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    group = aggregate_runs(coin_groups, reps=20, improvement_reps=5)
    gpath = group.save(tmp_path / "groups")
    names = sorted(p.name for p in gpath.parent.iterdir())
    assert names == ["groups.png", "report.json", "report.md", "transfer.png"]
    assert json.loads(gpath.read_text())["scores"]["train"]["bad"][0][:3] == [
        float(x) for x in group.scores["train"]["bad"][0][:3]
    ]


def test_interrupted_save_leaves_no_half_written_report(
    tmp_path: Path, coin_groups, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = coin_groups["bad"][0]
    out = tmp_path / "r"
    report.save(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = Path.write_bytes

    def torn(self: Path, data: bytes) -> int:  # writes half the file, then is interrupted
        real(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", torn)
    with pytest.raises(KeyboardInterrupt):
        coin_groups["good"][0].save(out)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old report intact
    # a failure while rendering (before any write) writes nothing at all
    monkeypatch.setattr(
        "agents.evaluation.plots.plot_transfer_report",
        lambda r: (_ for _ in ()).throw(KeyboardInterrupt()),
    )
    with pytest.raises(KeyboardInterrupt):
        report.save(tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    # the helper itself: nothing but complete files under their final names
    monkeypatch.setattr(Path, "write_bytes", torn)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write_all(tmp_path / "x", {"report.json": "{}"})
    assert list((tmp_path / "x").iterdir()) == []
