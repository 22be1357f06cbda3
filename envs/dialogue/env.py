"""The task-oriented dialogue env: a system policy fills slots against a noisy user.

Why this file is long (about 600 lines): the env file is the env's documentation (the
class docstring with every section and a doctest is about 140 lines); the rest is the
action table, the observation encoding and the one class, whose user, noise, tracker and
NLG already live in their own modules.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

from envs.config import from_mapping
from envs.core import ScenarioEnv, TextPerception
from envs.dialogue.domain import (
    DOMAINS,
    MAX_INFO_SLOTS,
    MAX_SLOTS,
    Domain,
    RandomStream,
    load_domain,
)
from envs.dialogue.nlg import TemplateNLG, semantics
from envs.dialogue.nlu import Interpretation, NLUChannel, Understanding, load_understanding
from envs.dialogue.noise import Hypotheses, NoiseChannel
from envs.dialogue.tracker import BeliefTracker
from envs.dialogue.user import (
    BYE,
    SYS_ACT_NAMES,
    SYS_BYE,
    SYS_CONFIRM,
    SYS_INFORM,
    SYS_INVALID,
    SYS_OFFER,
    SYS_REQMORE,
    SYS_REQUEST,
    USER_ACT_NAMES,
    UserAct,
    UserSimulator,
)
from envs.scenarios import Categorical, Continuous, Integer, ScenarioSpace

__all__ = [
    "ACTION_NAMES",
    "CHANNELS",
    "N_ACTIONS",
    "OBS_SIZE",
    "SCENARIO_SPACE",
    "DialogueEnv",
    "RewardConfig",
]

SCENARIO_SPACE = ScenarioSpace(
    params=[
        Categorical("domain", DOMAINS, description="ontology + database", easy="restaurant"),
        Continuous("ser", 0.0, 0.45, description="semantic error rate", easy="low"),
        Integer("nbest", 1, 5, description="N-best list size"),
        Integer("patience", 1, 10, description="unhelpful turns tolerated", easy="high"),
        Integer("constraints", 1, 6, description="goal constraints", easy="low"),
        Integer("requests", 0, 3, description="requested slots", easy="low"),
        Continuous("unfriendly", 0.0, 1.0, description="unfriendly-user probability", easy="low"),
        Continuous("goal_change", 0.0, 0.5, description="goal-change probability", easy="low"),
        Continuous(
            "typos", 0.0, 0.3, description="typo/disfluency rate of user words (nlu channel)"
        ),
    ],
    splits={
        "train": {
            "domain": ["restaurant", "hotel"],
            "ser": (0.0, 0.15),
            "nbest": (1, 5),
            "patience": (4, 10),
            "constraints": (1, 3),
            "requests": (0, 2),
            "unfriendly": (0.0, 0.2),
            "goal_change": (0.0, 0.2),
            "typos": (0.0, 0.1),
        },
        "heldout-domain": {"domain": "attraction"},
        "heldout-noise": {"ser": (0.3, 0.45), "typos": (0.15, 0.3)},
        "heldout-users": {
            "patience": (1, 3),
            "constraints": (4, 5),
            "requests": 3,
            "unfriendly": (0.6, 1.0),
            "goal_change": (0.3, 0.5),
        },
    },
)

CHANNELS = ("synthetic", "nlu")

# ----------------------------------------------------------------------- actions

S = MAX_SLOTS
OFFER, INFORM_ACT, REQMORE, BYE_ACT = 2 * S, 2 * S + 1, 2 * S + 2, 2 * S + 3
N_ACTIONS = 2 * S + 4
_SLOTLESS_KINDS = (SYS_OFFER, SYS_INFORM, SYS_REQMORE, SYS_BYE)
ACTION_NAMES = (
    *(f"request(slot{i})" for i in range(S)),
    *(f"confirm(slot{i})" for i in range(S)),
    "offer",
    "inform",
    "reqmore",
    "bye",
)


# ------------------------------------------------------------------- observation

SLOT_FEATURES = (
    "exists",
    "top_belief",
    "margin",
    "entropy",
    "top_is_dontcare",
    "confirmed",
    "requested_by_user",
    "times_asked",
)
_N_MATCH_BINS = 5  # entities matching the belief: 0 | 1 | 2-3 | 4-10 | >10
N_SLOT_FEATURES = len(SLOT_FEATURES)
_G = S * N_SLOT_FEATURES  # start of the global features
_MATCH = _G
_USER_ACT = _MATCH + _N_MATCH_BINS
_SYS_ACT = _USER_ACT + len(USER_ACT_NAMES)
_TURN = _SYS_ACT + len(SYS_ACT_NAMES)
_OFFER = _TURN + 1
OBS_SIZE = _OFFER + 5
_MATCH_ONE_HOT = tuple([float(i == j) for j in range(_N_MATCH_BINS)] for i in range(_N_MATCH_BINS))
_USER_ONE_HOT = tuple(
    [float(i == j) for j in range(len(USER_ACT_NAMES))] for i in range(len(USER_ACT_NAMES))
)
_SYS_ONE_HOT = (
    *([float(i == j) for j in range(len(SYS_ACT_NAMES))] for i in range(len(SYS_ACT_NAMES))),
    [0.0] * len(SYS_ACT_NAMES),  # before the first system act
)
_NO_SYS_ACT = len(SYS_ACT_NAMES)
# per-slot features of n empty slots (nothing heard: entropy 1), padded to S slots
_EMPTY_SLOTS = tuple(
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0] * n + [0.0] * (N_SLOT_FEATURES * (S - n))
    for n in range(S + 1)
)


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    """Reward terms (PyDial convention: ``20 * success - turns``).

    Attributes:
        success: Paid at the end of a successful dialogue.
        turn: Cost of every turn (subtracted).
        invalid: Extra cost of a masked (invalid) act (subtracted).
    """

    success: float = 20.0
    turn: float = 1.0
    invalid: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"reward {f.name!r} must be a number, got {value!r}")
            object.__setattr__(self, f.name, float(value))


class DialogueEnv(ScenarioEnv, TextPerception):
    """Task-oriented dialogue: find the venue a noisy simulated user wants.

    ## Description
    The agent is the *dialogue manager* of a slot-filling system (PyDial / ConvLab
    style). A simulated user (agenda-based) wants a venue in one of three domains —
    restaurant, hotel, attraction (50+ venues each, shipped as package data) — that
    meets its constraints (``area=north``, ``pricerange=cheap``, ...), and then wants
    to know some of its details (phone, address, ...). Every user turn passes through a
    noise channel (semantic error rate ``ser``, N-best lists with confidences) into a
    rule-based belief tracker; the agent sees domain-independent summary features of
    that belief and picks a summary act. The user may be unfriendly (ignores questions,
    volunteers other constraints), may change a constraint when told nothing matches,
    and hangs up when its patience runs out.

    With ``channel="nlu"`` the user speaks instead: its act is rendered as words from
    per-domain templates (:mod:`~envs.dialogue.nlg`; paraphrases, and typos and
    disfluencies at the scenario's ``typos`` rate) and a trained NLU
    (:class:`~envs.dialogue.nlu.Understanding`) turns the words into the N-best list,
    with the classifier's confidences; ``ser`` then plays no part. Paraphrases and typos
    draw from their own generator, so a seed gives the same user under both channels.

    ## Action Space
    ``Discrete(16)``, slots padded to 6 so one policy acts in every domain:

    | Num   | Action                                                         |
    |-------|----------------------------------------------------------------|
    | 0-5   | request slot i ("Which area would you like?")                  |
    | 6-11  | confirm slot i's top belief ("Did you say the north?")         |
    | 12    | offer the first database match of the top beliefs (or "none")  |
    | 13    | inform the user's requested slots about the offered venue      |
    | 14    | reqmore: ask for more constraints ("Anything else?")           |
    | 15    | bye                                                            |

    ``action_masks()`` (sb3-contrib convention) marks the acts that make sense now: a
    slot the domain has, a confirm with a belief to confirm, an offer once anything is
    believed, an inform once a venue was offered and the user asked something. Masked
    acts are still legal actions: they waste the turn (the user is puzzled and loses
    patience) and cost ``reward.invalid`` extra.

    ## Observation Space
    ``Box(0, 1, (73,), float32)``; per slot ``i`` (6 padded slots) 8 features at
    ``8*i``, then global features:

    | Index   | Observation                                                  |
    |---------|--------------------------------------------------------------|
    | 8i+0    | slot exists in this domain                                   |
    | 8i+1    | top belief                                                   |
    | 8i+2    | margin between top and second belief                         |
    | 8i+3    | normalised entropy of the belief (with unmentioned mass)     |
    | 8i+4    | top value is dontcare                                        |
    | 8i+5    | user affirmed the top value                                  |
    | 8i+6    | user asked about this slot                                   |
    | 8i+7    | times the system asked for it (/3, capped)                   |
    | 48-52   | database matches of the top beliefs: 0, 1, 2-3, 4-10, >10    |
    | 53-59   | last user act: inform, request, affirm, negate, thanks, bye, null |
    | 60-66   | last system act: request, confirm, offer, inform, reqmore, bye, invalid |
    | 67      | turn / max_turns                                             |
    | 68      | a venue was offered                                          |
    | 69      | the offered venue still matches the top beliefs              |
    | 70      | the user rejected the last offer                             |
    | 71      | pending user requests (/4, capped)                           |
    | 72      | pending user requests about info slots (phone, ...) exist    |

    With ``context="visible"`` the normalised scenario is appended.

    ## Rewards
    ``-reward.turn`` (1) per turn, ``+reward.success`` (20) at the end of a successful
    dialogue, ``-reward.invalid`` (0) per masked act; terms in ``info["reward_terms"]``.
    Success: the last offered venue meets the user's (final) goal and every slot the
    user requested was informed for it, within the turn limit.

    ## Starting State
    A scenario is drawn from the split; the user draws a goal from a random venue's
    values (so one always matches) and opens with one or two of its constraints.

    ## Episode End
    Terminated when the user says goodbye (satisfied, or out of patience) or the agent
    says bye; truncated after ``max_turns`` turns. End-of-episode info: ``is_success``,
    ``turns``, ``offered_match``, ``requests_answered``.

    ## Arguments
    ``split`` (``"train"``, ``"heldout-domain"``, ``"heldout-noise"``,
    ``"heldout-users"``), ``context`` (``"hidden"``/``"visible"``), ``render_mode``
    (``"ansi"``: the transcript with templated utterances), ``max_turns`` (25),
    ``reward`` (:class:`RewardConfig` or a dict of its fields), ``channel``
    (``"synthetic"``: the semantic error model, default; ``"nlu"``: words through an NLU),
    ``nlu_model`` (with ``channel="nlu"``: a model folder, resolved by
    :func:`~envs.dialogue.nlu.load_understanding`, or an ``Understanding`` object).

    ## Perception hooks
    ``perception_text()`` (the user's last utterance, rendered with the scenario's
    paraphrases and typos) and ``perception_semantics()`` (its true act, e.g.
    ``inform(area=north)``) label text datasets for ``agents.perception``.

    ## Copies
    ``copy.deepcopy(env)`` and ``pickle`` round trips (in this or another process) taken
    mid-dialogue are exact and independent: the copy carries the user's goal and agenda,
    the belief state, the transcript, ``np_random`` and the buffered random draws, so its
    future equals the original's bit for bit under the same actions (the conformance
    kit checks it). The read-only domain data is shared by copies, and pickles as its
    name.

    ## Version History
    * v0: first version; the ``nlu`` channel and the ``typos`` scenario parameter added.

    >>> env = DialogueEnv(render_mode="ansi")
    >>> obs, info = env.reset(seed=0, options={"scenario": {"domain": "hotel", "ser": 0.0}})
    >>> obs.shape, int(env.action_space.n), info["scenario"]["domain"]
    ((73,), 16, 'hotel')
    >>> masks = env.action_masks()
    >>> bool(masks[12]), bool(masks[13])  # offer allowed; inform not yet (nothing offered)
    (True, False)
    >>> obs, reward, terminated, truncated, info = env.step(0)  # request slot 0 (area)
    >>> reward, terminated
    (-1.0, False)
    >>> print(env.render(), end="")
    USR: I'm looking for a hotel with free wifi in the cheap price range.
         (heard: inform(internet=yes 1.00, pricerange=cheap 1.00))
    SYS: Which area would you like to stay in?
    USR: I don't mind about the area.
         (heard: inform(area=dontcare 1.00))
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    episode_info_keys = ("turns", "offered_match", "requests_answered")

    def __init__(
        self,
        split: str = "train",
        context: str = "hidden",
        render_mode: str | None = None,
        max_turns: int = 25,
        reward: RewardConfig | Mapping[str, float] | None = None,
        channel: str = "synthetic",
        nlu_model: str | os.PathLike | Understanding | None = None,
    ) -> None:
        super().__init__(SCENARIO_SPACE, split=split, context=context, render_mode=render_mode)
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
        self.max_turns = max_turns
        self.max_episode_steps = max_turns  # the episode limit (envs.episode_limit)
        self.reward_config = from_mapping(RewardConfig, reward, what="reward")
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; valid: {list(CHANNELS)}")
        if (channel == "nlu") != (nlu_model is not None):
            raise ValueError(
                "channel='nlu' needs nlu_model (a model folder or an Understanding) and "
                f"nlu_model only applies to it; got channel={channel!r}, nlu_model={nlu_model!r}"
            )
        self.channel_name = channel
        self.nlu: Understanding | None = None
        if nlu_model is not None:
            if isinstance(nlu_model, Understanding):
                self.nlu = nlu_model
            else:
                self.nlu = load_understanding(nlu_model)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._declare_observation_space(spaces.Box(0.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32))
        self.stream = RandomStream(self.np_random)
        self.domain: Domain = load_domain(DOMAINS[0])
        self.user = UserSimulator(self.domain, self.stream)
        self.channel = NoiseChannel(self.domain, self.stream)
        self.nlu_channel = None if self.nlu is None else NLUChannel(self.domain, self.nlu)
        self.nlg_stream = RandomStream(np.random.default_rng(0))  # paraphrases and typos
        self._nlg: dict[str, TemplateNLG] = {}
        self.tracker = BeliefTracker(self.domain)
        self.turns = 0
        self.transcript: list[_Turn] = []
        self._slot_part = [0.0] * (S * N_SLOT_FEATURES)  # per-slot features, padded
        self._sys_act = _NO_SYS_ACT
        self._ser = 0.0
        self._nbest = 1
        self._typos = 0.0
        self._utterance: str | None = None

    # -------------------------------------------------------------- episode

    def _reset_world(self, scenario: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        if self.stream.rng is not self.np_random:  # new or reseeded generator
            self.stream.reset(self.np_random)
            self.nlg_stream.reset(np.random.default_rng(_child_seed(self.np_random)))
        dom = load_domain(scenario["domain"])
        self.domain = dom
        self.channel.domain = dom
        if self.nlu_channel is not None:
            self.nlu_channel.domain = dom
        self._typos = float(scenario["typos"])
        self.tracker.reset(dom)
        self._slot_part = _EMPTY_SLOTS[dom.n_slots].copy()
        self._ser = float(scenario["ser"])
        self._nbest = int(scenario["nbest"])
        rnd = self.stream
        opening = self.user.reset(
            n_constraints=scenario["constraints"],
            n_requests=scenario["requests"],
            patience=scenario["patience"],
            unfriendly=rnd.random() < scenario["unfriendly"],
            goal_change=rnd.random() < scenario["goal_change"],
            domain=dom,
        )
        hyp = self._hear(opening)
        self.tracker.update(SYS_INVALID, -1, -1, hyp)
        self.turns = 0
        self._sys_act = _NO_SYS_ACT
        self.transcript = [_Turn(None, -1, -1, -1, (), opening, hyp, -1, *self._heard_words())]
        return self._observe(), {"turns": 0}

    def _step_world(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        tracker = self.tracker
        if action < 2 * S:
            kind, slot = (SYS_REQUEST, action) if action < S else (SYS_CONFIRM, action - S)
        else:
            kind, slot = _SLOTLESS_KINDS[action - 2 * S], -1
        valid = self._is_valid(action)
        value = entity = -1
        informed: Any = ()
        if not valid:
            kind = SYS_INVALID
        elif kind == SYS_CONFIRM:
            value = tracker.top[slot]
        elif kind == SYS_OFFER:
            entity = tracker.best_match()
        elif kind == SYS_INFORM:
            entity = tracker.offered
            informed = frozenset(tracker.requested)
        tracker.note_system_act(kind, slot, entity)
        user_act = self.user.respond(kind, slot, value, entity, informed)
        hyp = self._hear(user_act)
        tracker.update(kind, slot, value, hyp)
        self.turns += 1
        self._sys_act = kind
        self.transcript.append(
            _Turn(action, kind, slot, value, informed, user_act, hyp, entity, *self._heard_words())
        )
        cfg = self.reward_config
        terms = {"turn": -cfg.turn, "invalid": 0.0 if valid else -cfg.invalid, "success": 0.0}
        terminated = kind == SYS_BYE or user_act.act == BYE
        truncated = not terminated and self.turns >= self.max_turns
        info: dict[str, Any] = {"turns": self.turns, "invalid_act": not valid}
        if terminated or truncated:
            user = self.user
            offered = tracker.offered
            offered_match = user.satisfied_by(offered)
            answered = offered_match and offered == user.accepted and not user.pending
            success = offered_match and answered
            terms["success"] = cfg.success if success else 0.0
            info["is_success"] = success
            info["offered_match"] = offered_match
            info["requests_answered"] = answered
        info["reward_terms"] = terms
        reward = terms["turn"] + terms["invalid"] + terms["success"]
        return self._observe(), reward, terminated, truncated, info

    # -------------------------------------------------------------- channels

    def _hear(self, act: UserAct) -> Hypotheses:
        """The N-best list for the user's ``act`` through the env's channel."""
        if self.nlu_channel is None:
            self._utterance = None  # rendered on demand (perception_text, render)
            return self.channel.corrupt(act, self._ser, self._nbest)
        self._utterance = self._render_words(act)
        return self.nlu_channel.hear(act, self._utterance, self._nbest)

    def _heard_words(self) -> tuple[str | None, Interpretation | None, bool]:
        understood = None if self.nlu_channel is None else self.nlu_channel.last
        return self._utterance, understood, self.user.hung_up

    def _nlg_for(self, dom: Domain) -> TemplateNLG:
        nlg = self._nlg.get(dom.name)
        if nlg is None:
            nlg = self._nlg[dom.name] = TemplateNLG(dom)
        return nlg

    def _render_words(self, act: UserAct) -> str:
        nlg = self._nlg_for(self.domain)
        return nlg.render(act, self.nlg_stream, self._typos, hung_up=self.user.hung_up)

    def perception_text(self) -> str:
        """The user's last utterance (paraphrases and typos as the scenario says)."""
        if self._utterance is None:
            self._utterance = self._render_words(self.transcript[-1].user_act)
            if self.render_mode == "ansi":
                self.transcript[-1] = self.transcript[-1]._replace(utterance=self._utterance)
        return self._utterance

    def perception_semantics(self) -> str:
        """The user's last act as names, e.g. ``inform(area=north)`` (the text label)."""
        return semantics(self.domain, self.transcript[-1].user_act)

    # ---------------------------------------------------------------- masks

    def _is_valid(self, action: int) -> bool:
        tracker = self.tracker
        if action < S:
            return action < self.domain.n_slots
        if action < 2 * S:
            s = action - S
            return s < self.domain.n_slots and tracker.top[s] >= 0
        if action == OFFER:
            return max(tracker.top) >= 0
        if action == INFORM_ACT:
            return tracker.offered >= 0 and bool(tracker.requested)
        return True

    def action_masks(self) -> np.ndarray:
        """Boolean mask over actions: ``True`` where the act makes sense now.

        Masked acts are still accepted by :meth:`step` (they waste the turn).
        """
        return np.fromiter(
            (self._is_valid(a) for a in range(N_ACTIONS)), dtype=bool, count=N_ACTIONS
        )

    # ---------------------------------------------------------- observation

    def _observe(self) -> np.ndarray:
        t = self.tracker
        part = self._slot_part
        if t.dirty:
            dontcare = self.domain.dontcare
            requested = t.requested
            for s in t.dirty:
                asked = t.asked[s]
                i = s * N_SLOT_FEATURES
                part[i : i + N_SLOT_FEATURES] = (
                    1.0,
                    t.top_p[s],
                    t.margin[s],
                    t.entropy[s],
                    t.top[s] == dontcare[s],
                    t.confirmed[s],
                    s in requested,
                    asked / 3.0 if asked < 3 else 1.0,
                )
            t.dirty.clear()
        m = t.matches
        n_req = len(t.requested)
        offered = t.offered
        return np.array(
            part
            + _MATCH_ONE_HOT[0 if m == 0 else 1 if m == 1 else 2 if m <= 3 else 3 if m <= 10 else 4]
            + _USER_ONE_HOT[t.last_act]
            + _SYS_ONE_HOT[self._sys_act]
            + [
                self.turns / self.max_turns,
                offered >= 0,
                offered >= 0 and t.match_mask >> offered & 1,
                t.offer_rejected,
                n_req / MAX_INFO_SLOTS if n_req < MAX_INFO_SLOTS else 1.0,
                n_req > 0 and max(t.requested) >= self.domain.n_slots,
            ],
            dtype=np.float32,
        )

    # -------------------------------------------------------------- render

    def render(self) -> str | None:
        """The transcript so far with templated utterances (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        lines: list[str] = []
        nlg = self._nlg_for(self.domain)
        for t in self.transcript:
            if t.action is not None:
                text = self._system_text(t.kind, t.slot, t.value, t.entity, t.informed)
                lines.append(f"SYS: {text}")
            words = t.utterance or nlg.render(t.user_act, hung_up=t.hung_up)
            lines.append(f"USR: {words}")
            if t.understood is not None:
                lines.append(f"     (NLU: {t.understood})")
            lines.append(f"     (heard: {self._heard_text(t.hyp)})")
        return "\n".join(lines) + "\n"

    def _system_text(self, kind: int, slot: int, value: int, entity: int, informed: Any) -> str:
        dom = self.domain
        if kind == SYS_REQUEST:
            return dom.slots[slot].question
        if kind == SYS_CONFIRM:
            return f"Did you say you want a {dom.noun} {dom.slots[slot].phrase(value)}?"
        if kind == SYS_OFFER:
            wanted = " ".join(dom.slots[s].phrase(v) for s, v in self.tracker.constraints().items())
            if entity < 0:
                return f"I'm sorry, there is no {dom.noun} {wanted}.".replace("  ", " ")
            e = dom.entities[entity]
            desc = ", ".join(dom.slots[s].phrase(v) for s, v in enumerate(dom.values[entity]))
            return f"How about {e['name']}? It is {desc}."
        if kind == SYS_INFORM:
            e = dom.entities[entity]
            parts = [
                f"the {dom.requestable_name(r)} is {e[dom.requestable_name(r)]}"
                for r in sorted(informed)
            ]
            return f"For {e['name']}, " + ", and ".join(parts) + "."
        if kind == SYS_REQMORE:
            return "Is there anything else you would like?"
        if kind == SYS_BYE:
            return "Thank you for calling, goodbye."
        return "Sorry, er... (an act that does not apply here)"

    def _heard_text(self, hyp: Hypotheses) -> str:
        dom = self.domain
        items = [f"{dom.slot_names[s]}={dom.slots[s].value_name(v)} {c:.2f}" for s, v, c in hyp.top]
        items += [f"request {dom.requestable_name(r)} {c:.2f}" for r, c in hyp.requests]
        return f"{USER_ACT_NAMES[hyp.act]}({', '.join(items)})"


class _Turn(NamedTuple):
    """One transcript entry: the system act (``action`` None at the opening), the reply."""

    action: int | None
    kind: int
    slot: int
    value: int
    informed: Any
    user_act: UserAct
    hyp: Hypotheses
    entity: int
    utterance: str | None
    understood: Interpretation | None
    hung_up: bool


def _child_seed(rng: np.random.Generator) -> np.random.SeedSequence | int:
    """A seed for a second stream derived from ``rng``'s seed, without drawing from it."""
    seq = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(seq, np.random.SeedSequence):
        return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 0x4E4C47))
    return int(rng.integers(2**63))  # a generator built without a SeedSequence
