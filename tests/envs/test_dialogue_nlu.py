"""Tests of the dialogue env's words: the template NLG user and the ``nlu`` channel.

The env side never needs a trained model: a keyword-matching NLU implements the
``Understanding`` protocol here (the text-CNN is tested in tests/agents).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import envs
from envs.dialogue.domain import DOMAINS, RandomStream, load_domain
from envs.dialogue.env import SCENARIO_SPACE, DialogueEnv
from envs.dialogue.nlg import ACT_KEYS, TemplateNLG, example_acts, load_templates, semantics
from envs.dialogue.nlu import Interpretation, NLUChannel, load_understanding, register_loader
from envs.dialogue.user import (
    AFFIRM,
    INFORM,
    NEGATE,
    THANKS,
    USER_ACT_NAMES,
    UserAct,
)
from envs.testing import check_env_conformance

TRAIN_DOMAINS = ("restaurant", "hotel")


class KeywordNLU:
    """Finds value names of every domain in the words; act from a few cue words."""

    def __init__(self) -> None:
        # A sorted list, not a set: a copy of a set may iterate in another order, and the
        # transcript lists what was understood in iteration order.
        self.values = sorted(
            {
                (slot.name, v)
                for name in DOMAINS
                for slot in load_domain(name).slots
                for v in slot.values
            }
        )

    def understand(self, utterances):
        out = []
        for text in utterances:
            low = text.lower()
            slots = {s: [(v, 0.9)] for s, v in self.values if re.search(rf"\b{v}\b", low)}
            act = "request" if "?" in low and not slots else "inform" if slots else "null"
            out.append(Interpretation(act, 0.8, slots, {"phone": 0.9} if "phone" in low else {}))
        return out


def _every_act(dom):
    """Every act shape the simulator says, plus those it never does (bare acts, thanks)."""
    extra = [UserAct(k) for k in (AFFIRM, NEGATE, THANKS, INFORM)]
    return example_acts(dom) + extra + [UserAct(INFORM, list(enumerate(dom.dontcare)))]


# ------------------------------------------------------------------------ NLG


@pytest.mark.parametrize("name", DOMAINS)
def test_templates_render_every_act_of_every_domain(name):
    dom = load_domain(name)
    nlg = TemplateNLG(dom)
    tpl = load_templates(name)
    assert set(tpl.acts) == set(ACT_KEYS) and all(tpl.acts.values())
    stream = RandomStream(np.random.default_rng(0))
    kinds = set()
    for act in _every_act(dom):
        clean = nlg.render(act)
        assert clean and "{" not in clean, (act, clean)
        for s, v in act.items if act.act != AFFIRM else ():  # the canonical rendering
            if v != dom.dontcare[s]:  # says every value (an affirm says "yes")
                assert dom.slots[s].value_phrases[v] in clean
        noisy = nlg.render(act, stream, 0.3)
        assert noisy and "{" not in noisy
        kinds.add(act.act)
    assert kinds == set(range(len(USER_ACT_NAMES)))


def test_paraphrases_vary_and_noise_is_seeded():
    dom = load_domain("hotel")
    nlg = TemplateNLG(dom)
    act = UserAct(INFORM, [(0, 1), (2, 3)])

    def renders(seed, typos):
        stream = RandomStream(np.random.default_rng(seed))
        return [nlg.render(act, stream, typos) for _ in range(30)]

    assert len(set(renders(0, 0.0))) >= 5
    assert renders(1, 0.3) == renders(1, 0.3)
    clean, noisy = renders(2, 0.0), renders(2, 0.3)
    assert clean != noisy


def test_semantics_string_names_act_items_and_requests():
    dom = load_domain("restaurant")
    act = UserAct(INFORM, [(0, 2), (1, dom.dontcare[1])])
    assert semantics(dom, act) == "inform(food=indian,area=dontcare)"


def test_typos_parameter_has_train_and_heldout_noise_ranges():
    names = [p.name for p in SCENARIO_SPACE.params]
    assert "typos" in names
    assert "typos" in SCENARIO_SPACE.heldout_axes("heldout-noise")
    rng = np.random.default_rng(0)
    train = [SCENARIO_SPACE.sample(rng, "train")["typos"] for _ in range(200)]
    noise = [SCENARIO_SPACE.sample(rng, "heldout-noise")["typos"] for _ in range(200)]
    assert max(train) < min(noise)


def test_heldout_domain_templates_and_values_never_appear_in_train_utterances():
    heldout = load_templates("attraction")
    seen = set().union(*(load_templates(d).sentences() for d in TRAIN_DOMAINS))
    only = heldout.sentences() - seen
    fragments = {
        part.strip().lower()
        for text in only
        for part in re.split(r"\{\w+\}|[.,?!;]", text)
        if len(part.strip()) >= 12
    }
    train_values = {v for d in TRAIN_DOMAINS for s in load_domain(d).slots for v in s.values}
    new_values = {v for s in load_domain("attraction").slots for v in s.values} - train_values
    assert fragments and new_values
    env = DialogueEnv(split="train")
    rng = np.random.default_rng(0)
    texts = []
    for seed in range(150):
        env.reset(seed=seed, options={"scenario": {"typos": 0.0}})
        assert env.unwrapped.domain.name in TRAIN_DOMAINS
        done = False
        while not done:
            texts.append(env.perception_text().lower())
            _, _, terminated, truncated, _ = env.step(int(rng.integers(16)))
            done = terminated or truncated
    words = {w for t in texts for w in re.findall(r"[a-z]+", t)}
    assert not any(f in t for f in fragments for t in texts)
    heldout_words = {w for v in new_values for w in v.split()} - {"free"}  # "free wifi"
    assert heldout_words and not heldout_words & words


# ------------------------------------------------------------------ channel


def test_nlu_channel_maps_names_to_indices_and_drops_unknown_ones():
    dom = load_domain("hotel")

    class Fixed:
        def understand(self, utterances):
            slots = {"area": [("north", 0.6), ("south", 0.2)], "food": [("thai", 0.9)]}
            slots["stars"] = [("dontcare", 0.7)]
            return [Interpretation("inform", 0.9, slots, {"phone": 0.8, "opening": 0.9})]

    hyp = NLUChannel(dom, Fixed()).hear(UserAct(INFORM, [(0, 1)]), "x", nbest=1)
    assert hyp.act == INFORM
    assert hyp.slots == [(0, 1, 0.6), (2, dom.dontcare[2], 0.7)]
    assert hyp.requests == [(dom.n_slots, 0.8)]
    assert (hyp.errors, hyp.spurious) == (0, 1)


def test_env_nlu_channel_runs_and_the_transcript_shows_words_and_understanding():
    env = envs.make("dialogue", channel="nlu", nlu_model=KeywordNLU(), render_mode="ansi")
    obs, _ = env.reset(seed=3)
    policy = envs.make_expert("dialogue", env)
    done = False
    while not done:
        action, _ = policy.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert "is_success" in info
    text = env.render()
    assert text.count("USR: ") == text.count("(NLU: ") == text.count("(heard: ")
    assert "(NLU: " in text


def test_both_channels_give_the_same_user_for_a_seed():
    a = DialogueEnv()
    b = DialogueEnv(channel="nlu", nlu_model=KeywordNLU())
    for seed in range(5):
        a.reset(seed=seed)
        b.reset(seed=seed)
        assert a.user.goal == b.user.goal
        assert a.perception_text() == b.perception_text()
        assert a.perception_semantics() == b.perception_semantics()


def test_nlu_channel_passes_the_conformance_kit():
    check_env_conformance(
        "dialogue",
        env_kwargs={"channel": "nlu", "nlu_model": KeywordNLU()},
        determinism_steps=80,
        steps_per_split=30,
    )


def test_bad_channel_arguments_name_what_is_valid(tmp_path):
    with pytest.raises(ValueError, match="valid: \\['synthetic', 'nlu'\\]"):
        DialogueEnv(channel="words")
    with pytest.raises(ValueError, match="needs nlu_model"):
        DialogueEnv(channel="nlu")
    with pytest.raises(ValueError, match="needs nlu_model"):
        DialogueEnv(nlu_model=KeywordNLU())
    with pytest.raises(ValueError, match="no model.json"):
        DialogueEnv(channel="nlu", nlu_model=tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load_understanding(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "nobody/1"}))
    with pytest.raises(ValueError, match="no NLU loader for format 'nobody/1'"):
        load_understanding(tmp_path)


def test_registered_loader_resolves_a_model_folder(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "test-keyword/1"}))
    register_loader("test-keyword/1", lambda path: KeywordNLU())
    env = envs.make("dialogue", channel="nlu", nlu_model=str(tmp_path))
    assert isinstance(env.unwrapped.nlu, KeywordNLU)
    register_loader("test-keyword/2", lambda path: object())
    (tmp_path / "model.json").write_text(json.dumps({"format": "test-keyword/2"}))
    with pytest.raises(ValueError, match="not an NLU"):
        load_understanding(tmp_path)
