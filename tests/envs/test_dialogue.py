"""Tests of the dialogue env family: data, user simulator, noise channel, tracker, env."""

from __future__ import annotations

import json

import numpy as np
import pytest

import envs
from envs.config import from_mapping
from envs.dialogue import generate_data
from envs.dialogue.domain import DOMAINS, MAX_SLOTS, RandomStream, load_domain
from envs.dialogue.env import N_ACTIONS, OBS_SIZE, DialogueEnv, RewardConfig
from envs.dialogue.expert import HandcraftedPolicy
from envs.dialogue.noise import NoiseChannel
from envs.dialogue.tracker import BeliefTracker
from envs.dialogue.user import (
    AFFIRM,
    BYE,
    INFORM,
    NEGATE,
    NULL,
    REQUEST,
    SYS_CONFIRM,
    SYS_INFORM,
    SYS_OFFER,
    SYS_REQMORE,
    SYS_REQUEST,
    UserAct,
    UserSimulator,
)
from envs.testing import check_env_conformance

SPLITS = ("train", "heldout-domain", "heldout-noise", "heldout-users")


# ----------------------------------------------------------------------- data


def test_generator_is_deterministic_and_matches_committed_files(tmp_path):
    generate_data.write_all(tmp_path)
    for name in DOMAINS:
        committed = (generate_data.DATA_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert (tmp_path / f"{name}.json").read_text(encoding="utf-8") == committed


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_has_varied_entities_covering_every_value(name):
    dom = load_domain(name)
    assert dom.n_entities >= 50
    assert len({e["name"] for e in dom.entities}) == dom.n_entities
    assert 3 <= dom.n_slots <= MAX_SLOTS
    for s, slot in enumerate(dom.slots):
        assert set(dom.value_matrix[:, s].tolist()) == set(range(len(slot.values)))
    assert len({e["phone"] for e in dom.entities}) > dom.n_entities * 0.9
    data = json.loads((generate_data.DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert data["domain"] == name


def test_query_bitsets_agree_with_a_linear_scan():
    dom = load_domain("hotel")
    rng = np.random.default_rng(0)
    for _ in range(50):
        slots = rng.choice(dom.n_slots, size=2, replace=False)
        constraints = {int(s): int(rng.integers(len(dom.slots[s].values))) for s in slots}
        expected = [i for i in range(dom.n_entities) if dom.satisfies(i, constraints)]
        assert list(dom.members(dom.query(constraints))) == expected


def test_unknown_domain_and_slot_name_the_valid_ones():
    with pytest.raises(ValueError, match="restaurant"):
        load_domain("spaceport")
    with pytest.raises(ValueError, match="food"):
        load_domain("restaurant").slot_index("colour")


# ------------------------------------------------------------- user simulator


def _user(domain="restaurant", seed=0):
    dom = load_domain(domain)
    return dom, UserSimulator(dom, RandomStream(np.random.default_rng(seed)))


@pytest.mark.parametrize("domain", DOMAINS)
def test_user_answers_requests_and_confirmations_truthfully(domain):
    dom, user = _user(domain)
    for _ in range(100):
        opening = user.reset(n_constraints=3, n_requests=2, patience=100)
        assert opening.act == INFORM and opening.items
        assert all(user.goal[s] == v for s, v in opening.items)
        # the goal comes from an entity: something matches it
        assert dom.query(user.goal)
        for s in range(dom.n_slots):
            reply = user.respond(SYS_REQUEST, s)
            assert reply.act == INFORM
            assert (s, user.truth(s)) in reply.items
            assert all(v == user.truth(slot) for slot, v in reply.items)
            right = user.respond(SYS_CONFIRM, s, user.truth(s))
            assert right.act == AFFIRM
            wrong_value = (user.truth(s) + 1) % (len(dom.slots[s].values) + 1)
            wrong = user.respond(SYS_CONFIRM, s, wrong_value)
            assert wrong.act == NEGATE and wrong.items == [(s, user.truth(s))]


def test_user_accepts_matching_offer_requests_then_says_bye():
    dom, user = _user("hotel", seed=1)
    for _ in range(50):
        user.reset(n_constraints=2, n_requests=2, patience=100)
        match = dom.first(dom.query(user.goal))
        reply = user.respond(SYS_OFFER, entity=match)
        assert reply.act == REQUEST and sorted(reply.requests) == sorted(user.requests)
        reply = user.respond(SYS_INFORM, entity=match, informed=set(user.requests))
        assert reply.act == BYE and user.done and not user.hung_up


def test_user_rejects_wrong_offer_naming_a_broken_constraint():
    dom, user = _user("restaurant", seed=2)
    for _ in range(50):
        user.reset(n_constraints=3, n_requests=0, patience=100)
        wrong = next(e for e in range(dom.n_entities) if not user.satisfied_by(e))
        reply = user.respond(SYS_OFFER, entity=wrong)
        assert reply.act == NEGATE and len(reply.items) == 1
        (s, v), row = reply.items[0], dom.values[wrong]
        assert user.goal[s] == v != row[s]


def test_goal_change_happens_only_when_told_nothing_matches():
    dom, user = _user("restaurant", seed=3)
    changed = 0
    for _ in range(100):
        user.reset(n_constraints=3, n_requests=0, patience=100, goal_change=True)
        if user._alternative is None:
            continue
        assert not dom.query(user.goal)  # initial goal unsatisfiable
        reply = user.respond(SYS_OFFER, entity=-1)
        assert user.changed_goal and reply.act == INFORM
        assert dom.query(user.goal)  # the changed goal is satisfiable
        changed += 1
    assert changed > 50


def test_reqmore_draws_out_constraints_not_yet_told():
    _, user = _user("hotel", seed=6)
    for _ in range(50):
        opening = user.reset(n_constraints=4, n_requests=0, patience=10)
        reply = user.respond(SYS_REQMORE)
        told = {s for s, _ in opening.items}
        assert reply.act == INFORM and reply.items
        assert all(user.goal[s] == v and s not in told for s, v in reply.items)


def test_impatient_user_hangs_up_after_unhelpful_turns():
    _, user = _user("hotel", seed=4)
    user.reset(n_constraints=1, n_requests=0, patience=2)
    assert user.respond(-1).act == NULL and not user.hung_up  # one nonsense act: puzzled
    assert user.respond(-1).act == BYE and user.hung_up  # the second one: hangs up


def test_unfriendly_user_sometimes_ignores_questions():
    _dom, user = _user("restaurant", seed=5)
    ignored = answered = 0
    for _ in range(200):
        user.reset(n_constraints=3, n_requests=0, patience=100, unfriendly=True)
        s = next(iter(user.goal))
        reply = user.respond(SYS_REQUEST, s)
        if (s, user.goal[s]) in reply.items:
            answered += 1
        else:
            ignored += 1
        assert all(v == user.truth(slot) for slot, v in reply.items)  # still truthful
    assert 0.3 < ignored / (ignored + answered) < 0.7


def test_user_stays_consistent_with_its_goal_in_env_dialogues():
    env = DialogueEnv(split="train")
    for seed in range(60):
        env.reset(seed=seed, options={"scenario": {"ser": 0.0}})
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(env.np_random.integers(N_ACTIONS)))
            done = terminated or truncated
            user_act = env.transcript[-1][5]
            if user_act.act in (INFORM, AFFIRM, NEGATE):
                for s, v in user_act.items:
                    assert v == env.user.truth(s), (seed, user_act, env.user.goal)


# -------------------------------------------------------------- noise channel


@pytest.mark.parametrize("ser", [0.0, 0.15, 0.3, 0.45])
def test_noise_channel_error_rate_matches_ser(ser):
    dom = load_domain("restaurant")
    rng = np.random.default_rng(int(ser * 100))
    channel = NoiseChannel(dom, RandomStream(rng))
    items = errors = 0
    correct_conf, wrong_conf = [], []
    for _ in range(3000):
        s = int(rng.integers(dom.n_slots))
        v = int(rng.integers(len(dom.slots[s].values) + 1))
        r = int(rng.integers(dom.n_requestable))
        hyp = channel.corrupt(UserAct(INFORM, [(s, v)], [r]), ser=ser, nbest=3)
        real_top = hyp.top[: len(hyp.top) - hyp.spurious]  # spurious items come last
        heard = real_top[0] if real_top else None
        items += 2
        if heard is None or heard[1] != v:
            errors += 1
            if heard is not None:
                wrong_conf.append(heard[2])
        else:
            correct_conf.append(heard[2])
        request_error = [req for req, _ in hyp.requests] != [r]
        errors += request_error
        assert hyp.errors == (heard is None or heard[1] != v) + request_error
        per_slot = {}
        for hs, _, c in hyp.slots[: len(hyp.slots) - hyp.spurious]:
            per_slot.setdefault(hs, []).append(c)
            assert 0.0 < c <= 1.0
        assert all(sum(cs) <= 1.0 + 1e-9 for cs in per_slot.values())
        assert all(len(cs) <= 3 for cs in per_slot.values())  # N-best size
    assert abs(errors / items - ser) < 0.025, errors / items
    if ser == 0.0:
        assert correct_conf and min(correct_conf) == 1.0
    else:
        assert np.mean(correct_conf) > np.mean(wrong_conf) + 0.1


# --------------------------------------------------------------- state tracker


def test_belief_tracker_recovers_goal_under_moderate_noise():
    dom = load_domain("hotel")
    stream = RandomStream(np.random.default_rng(7))
    user, channel, tracker = UserSimulator(dom, stream), NoiseChannel(dom, stream), None
    recovered = slots_right = 0
    n = 200
    for _ in range(n):
        user.reset(n_constraints=3, n_requests=0, patience=1000)
        tracker = BeliefTracker(dom)
        for s in range(dom.n_slots):
            reply = user.respond(SYS_REQUEST, s)
            tracker.update(SYS_REQUEST, s, -1, channel.corrupt(reply, 0.15, 3))
            for _ in range(3):  # confirm while uncertain (HDC style)
                if tracker.top[s] < 0 or tracker.top_p[s] >= 0.8:
                    break
                value = tracker.top[s]
                reply = user.respond(SYS_CONFIRM, s, value)
                tracker.update(SYS_CONFIRM, s, value, channel.corrupt(reply, 0.15, 3))
        slots_right += sum(tracker.top[s] == user.truth(s) for s in range(dom.n_slots))
        recovered += tracker.constraints() == user.goal
    assert slots_right / (n * dom.n_slots) >= 0.95, slots_right / (n * dom.n_slots)
    assert recovered / n >= 0.8, recovered / n


def test_tracker_clears_answered_requests_and_tracks_offers():
    env = DialogueEnv()
    scenario = {"ser": 0.0, "requests": 2, "constraints": 1, "goal_change": 0.0}
    env.reset(seed=0, options={"scenario": scenario})
    offer, inform = 2 * MAX_SLOTS, 2 * MAX_SLOTS + 1
    assert not env.action_masks()[inform]  # nothing offered yet
    env.step(offer)  # the single constraint was heard exactly, so the offer matches
    assert env.tracker.offered == env.user.accepted >= 0
    assert env.tracker.requested == set(env.user.requests) and len(env.user.requests) == 2
    assert env.action_masks()[inform]
    *_, terminated, _, info = env.step(inform)
    assert not env.tracker.requested
    assert terminated and info["is_success"]


# ------------------------------------------------------------------------ env


def test_conformance_every_split():
    check_env_conformance("dialogue", determinism_steps=150, steps_per_split=60)


def test_conformance_visible_context():
    check_env_conformance(
        "dialogue", env_kwargs={"context": "visible"}, check_vector=False, check_render=False
    )


def test_spaces_and_splits():
    env = envs.make("dialogue")
    assert env.observation_space.shape == (OBS_SIZE,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space.n == N_ACTIONS
    space = env.unwrapped.scenario_space
    assert set(space.split_names) == set(SPLITS)
    assert space.heldout_axes("heldout-domain") == ("domain",)
    assert "ser" in space.heldout_axes("heldout-noise")
    assert "patience" in space.heldout_axes("heldout-users")


@pytest.mark.parametrize("split", SPLITS)
def test_masks_never_allow_an_act_the_env_rejects(split):
    env = envs.make("dialogue", split=split)
    env.reset(seed=11)
    rng = np.random.default_rng(11)
    seen_valid = seen_invalid = 0
    for _ in range(1500):
        mask = env.unwrapped.action_masks()
        assert mask.dtype == bool and mask.shape == (N_ACTIONS,)
        assert mask[-1] and mask.any()  # bye is always possible
        action = int(rng.integers(N_ACTIONS))
        _, _reward, terminated, truncated, info = env.step(action)
        assert info["invalid_act"] == (not mask[action])
        seen_valid += bool(mask[action])
        seen_invalid += not mask[action]
        if terminated or truncated:
            env.reset()
    assert seen_valid > 100 and seen_invalid > 100


@pytest.mark.parametrize("split", ["train", "heldout-domain"])
def test_cached_observation_equals_a_full_recompute(split):
    env = DialogueEnv(split=split)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(400):
        env.tracker.dirty.update(range(env.domain.n_slots))  # force every slot's features
        np.testing.assert_array_equal(obs, env._observe())
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(N_ACTIONS)))
        if terminated or truncated:
            obs, _ = env.reset()


def test_masked_act_wastes_a_turn_and_costs_invalid_penalty():
    env = DialogueEnv(reward={"invalid": 2.0})
    env.reset(seed=0, options={"scenario": {"domain": "attraction", "patience": 10}})
    assert not env.action_masks()[5]  # attraction has 4 slots: request(slot5) is masked
    _, reward, terminated, _, info = env.step(5)
    assert info["invalid_act"] and not terminated
    assert reward == -3.0 and info["reward_terms"] == {
        "turn": -1.0,
        "invalid": -2.0,
        "success": 0.0,
    }


def test_reward_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="succes.*valid"):
        DialogueEnv(reward={"succes": 10})
    assert from_mapping(RewardConfig, {"success": 10}).success == 10.0
    with pytest.raises(ValueError, match="reward 'turn' must be a number"):
        RewardConfig(turn="1")
    with pytest.raises(ValueError, match="max_turns"):
        DialogueEnv(max_turns=0)


def test_episode_end_info_and_pydial_reward():
    env = DialogueEnv(max_turns=25)
    expert = HandcraftedPolicy(env)
    obs, _ = env.reset(seed=5, options={"scenario": {"ser": 0.0}})
    total, done = 0.0, False
    while not done:
        action, _ = expert.predict(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    assert info["is_success"] and info["offered_match"] and info["requests_answered"]
    assert total == 20.0 - info["turns"]


def test_bye_ends_the_dialogue_and_turn_limit_truncates():
    env = DialogueEnv(max_turns=3)
    env.reset(seed=0)
    *_, terminated, truncated, info = env.step(N_ACTIONS - 1)
    assert terminated and not truncated and not info["is_success"]
    env.reset(seed=1, options={"scenario": {"patience": 10, "ser": 0.0}})
    results = [env.step(0) for _ in range(3)]  # ask the same slot: no progress
    assert [r[3] for r in results] == [False, False, True]  # truncated at max_turns
    assert not any(r[2] for r in results)
    assert results[-1][4]["turns"] == 3 and not results[-1][4]["is_success"]


def test_render_ansi_transcript_and_none_without_mode():
    env = DialogueEnv(render_mode="ansi")
    expert = HandcraftedPolicy(env)
    obs, _ = env.reset(seed=2, options={"scenario": {"ser": 0.3, "requests": 2}})
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(expert.predict(obs)[0])
        done = terminated or truncated
    text = env.render()
    assert text.startswith("USR: ") and "SYS: " in text and "(heard: " in text
    assert text.count("SYS: ") == env.turns
    assert DialogueEnv().render() is None


# ---------------------------------------------------------------- expert


def _run_expert(split, episodes, scenario=None):
    env = envs.make("dialogue", split=split)
    expert = envs.make_expert("dialogue", env)
    successes = []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed, options={"scenario": scenario} if scenario else None)
        done = False
        while not done:
            action, _ = expert.predict(obs)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        successes.append(info["is_success"])
    return float(np.mean(successes))


def test_handcrafted_policy_succeeds_at_ser0_on_train_and_reports_every_split(capsys):
    rates = {split: _run_expert(split, 150, {"ser": 0.0}) for split in SPLITS}
    rates["heldout-noise (its own SER)"] = _run_expert("heldout-noise", 150)
    with capsys.disabled():
        print("\nHDC success:", {k: round(v, 3) for k, v in rates.items()})
    assert rates["train"] >= 0.9
    assert rates["heldout-domain"] >= 0.9
    assert rates["heldout-noise (its own SER)"] < rates["train"]  # noise makes it harder


def test_random_policy_rarely_succeeds():
    env = DialogueEnv()
    rng = np.random.default_rng(0)
    wins = 0
    for seed in range(100):
        env.reset(seed=seed)
        done = False
        while not done:
            valid = np.flatnonzero(env.action_masks())
            *_, terminated, truncated, info = env.step(int(rng.choice(valid)))
            done = terminated or truncated
        wins += info["is_success"]
    assert wins < 60
