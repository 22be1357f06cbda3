"""Template NLG for the simulated user: dialogue acts rendered as words.

Each domain ships its templates as package data (``data/nlg/<domain>.json``): several
paraphrases per act type, surface forms per slot value (a ``"*"`` pattern with ``{value}``
or a list per value) and phrases per requestable slot. The domain's own value phrases
(``data/<domain>.json``) are always one of the forms, so the canonical (first) rendering
is the one the ``ansi`` transcript has always shown. Templates of held-out domains are
only ever read by envs of those domains, so data collected on ``train`` never holds them.

With a :class:`~envs.dialogue.domain.RandomStream` a rendering picks paraphrases at
random and may add *typos* (per word, with probability ``typos``: a swapped, dropped,
doubled or replaced letter) and *disfluencies* (fillers such as "uh", repeated words);
without one it is deterministic and clean.

>>> import numpy as np
>>> from envs.dialogue.domain import RandomStream, load_domain
>>> from envs.dialogue.user import INFORM, REQUEST, UserAct
>>> dom = load_domain("restaurant")
>>> nlg = TemplateNLG(dom)
>>> nlg.render(UserAct(INFORM, [(1, 1), (0, dom.dontcare[0])]))
"I'm looking for a restaurant in the north; I don't mind about the food."
>>> nlg.render(UserAct(REQUEST, requests=[dom.n_slots]))
'What is the phone number?'
>>> noisy = nlg.render(UserAct(INFORM, [(1, 1)]), RandomStream(np.random.default_rng(0)), 0.3)
>>> isinstance(noisy, str) and len(noisy) > 0
True
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import cache
from typing import Any

from envs.dialogue.domain import DATA_DIR, DOMAINS, Domain, RandomStream, load_domain
from envs.dialogue.user import (
    AFFIRM,
    BYE,
    INFORM,
    NEGATE,
    NULL,
    REQUEST,
    THANKS,
    USER_ACT_NAMES,
    UserAct,
)

__all__ = [
    "ACT_KEYS",
    "FILLERS",
    "NLG_DIR",
    "TemplateNLG",
    "Templates",
    "add_noise",
    "example_acts",
    "load_templates",
    "semantics",
]

NLG_DIR = DATA_DIR / "nlg"
# Template keys every domain file must define (one list of paraphrases each).
ACT_KEYS = (
    "inform",
    "inform_bare",
    "dontcare",
    "request",
    "affirm",
    "negate",
    "negate_inform",
    "thanks",
    "bye",
    "hangup",
    "null",
)
FILLERS = ("uh", "um", "er", "well", "I mean", "like")
_LETTERS = string.ascii_lowercase


@dataclass(frozen=True)
class Templates:
    """One domain's templates, resolved against its ontology.

    Attributes:
        domain: The domain name.
        acts: Paraphrases per key of :data:`ACT_KEYS`.
        values: ``values[s][v]``: surface forms of value ``v`` of informable slot ``s``
            (the domain's own phrase first).
        requests: ``requests[r]``: surface forms of requestable slot ``r``.
    """

    domain: str
    acts: dict[str, tuple[str, ...]]
    values: tuple[tuple[tuple[str, ...], ...], ...]
    requests: tuple[tuple[str, ...], ...]

    def sentences(self) -> set[str]:
        """Every template and surface form (for leak checks between domains)."""
        out = {t for forms in self.acts.values() for t in forms}
        out.update(f for slot in self.values for forms in slot for f in forms)
        out.update(f for forms in self.requests for f in forms)
        return out


def _forms(spec: dict[str, Any], value: str, own: str) -> tuple[str, ...]:
    listed = spec.get(value)
    forms = list(listed) if listed else [p.format(value=value) for p in spec.get("*", [])]
    return tuple(dict.fromkeys([own, *forms]))  # the domain's phrase first, no duplicates


@cache
def load_templates(name: str) -> Templates:
    """Loads (once per process) and checks the templates of domain ``name``.

    Raises:
        ValueError: Unknown domain, or a template file that lacks an act key or names a
            slot the domain does not have.
    """
    if name not in DOMAINS:
        raise ValueError(f"unknown dialogue domain {name!r}; valid: {list(DOMAINS)}")
    dom = load_domain(name)
    path = NLG_DIR / f"{name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in ACT_KEYS if not data["acts"].get(k)]
    if missing:
        raise ValueError(f"{path}: acts {missing} have no templates; every act needs {ACT_KEYS}")
    unknown = sorted(set(data["slots"]) - set(dom.slot_names))
    unknown += sorted(set(data["requests"]) - {*dom.slot_names, *dom.info_names})
    if unknown:
        raise ValueError(f"{path}: unknown slots {unknown} for domain {name!r}")
    values = tuple(
        tuple(
            _forms(data["slots"].get(slot.name, {}), v, slot.value_phrases[i])
            for i, v in enumerate(slot.values)
        )
        for slot in dom.slots
    )
    own = [f"the {slot}" for slot in dom.slot_names] + list(dom.info_phrases)
    requests = tuple(
        _forms({r: data["requests"].get(r)}, r, own[i])
        for i, r in enumerate(dom.requestable_name(i) for i in range(dom.n_requestable))
    )
    acts = {k: tuple(data["acts"][k]) for k in ACT_KEYS}
    return Templates(name, acts, values, requests)


def add_noise(text: str, stream: RandomStream, rate: float) -> str:
    """Typos and disfluencies at ``rate`` (see the module docstring)."""
    if rate <= 0.0:
        return text
    random = stream.random
    words = text.split(" ")
    out: list[str] = []
    for word in words:
        if len(word) >= 3 and random() < rate:
            i = int(random() * (len(word) - 1))
            kind = int(random() * 4)
            if kind == 0:  # swap two neighbours
                word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            elif kind == 1:  # drop a letter
                word = word[:i] + word[i + 1 :]
            elif kind == 2:  # double a letter
                word = word[: i + 1] + word[i:]
            else:  # replace a letter
                word = word[:i] + _LETTERS[int(random() * 26)] + word[i + 1 :]
        if random() < rate / 4:  # a repeated word
            out.append(word)
        out.append(word)
    if random() < rate:  # a filler somewhere
        out.insert(int(random() * (len(out) + 1)), f"{stream.choice(FILLERS)},")
    return " ".join(out)


class TemplateNLG:
    """Renders one domain's :class:`~envs.dialogue.user.UserAct` as an utterance.

    Args:
        domain: The domain whose templates and values are used.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.templates = load_templates(domain.name)

    def render(
        self,
        act: UserAct,
        stream: RandomStream | None = None,
        typos: float = 0.0,
        *,
        hung_up: bool = False,
    ) -> str:
        """The utterance of ``act``.

        Args:
            act: The user's act.
            stream: Source of paraphrase choices and noise; ``None``: the canonical
                (first) paraphrases, no noise.
            typos: Typo/disfluency rate (used only with a ``stream``).
            hung_up: A ``bye`` out of patience (rendered with the ``hangup`` templates).
        """

        def pick(options: tuple[str, ...]) -> str:
            return options[0] if stream is None else stream.choice(options)

        dom, tpl = self.domain, self.templates
        wanted = [pick(tpl.values[s][v]) for s, v in act.items if v != dom.dontcare[s]]
        anything = [dom.slot_names[s] for s, v in act.items if v == dom.dontcare[s]]
        constraints = " ".join(wanted)
        mind = pick(tpl.acts["dontcare"]).format(slots=" or the ".join(anything))
        kind = act.act
        if kind == INFORM or (kind == NEGATE and act.items):
            if wanted:
                key = "inform" if kind == INFORM else "negate_inform"
                text = pick(tpl.acts[key]).format(noun=dom.noun, constraints=constraints)
                if anything:
                    text = f"{text[:-1]}; {mind}{text[-1]}"
            elif anything:
                text = f"{mind[0].upper()}{mind[1:]}."
                text = f"No, {mind}." if kind == NEGATE else text
            else:
                text = pick(tpl.acts["inform_bare"]).format(noun=dom.noun)
        elif kind == REQUEST:
            asked = " and ".join(pick(tpl.requests[r]) for r in act.requests)
            text = pick(tpl.acts["request"]).format(requests=asked)
        elif kind == BYE:
            text = pick(tpl.acts["hangup" if hung_up else "bye"])
        else:
            key = {AFFIRM: "affirm", NEGATE: "negate", THANKS: "thanks", NULL: "null"}[kind]
            text = pick(tpl.acts[key])
        return text if stream is None else add_noise(text, stream, typos)


def example_acts(domain: Domain) -> list[UserAct]:
    """One act of every shape the user simulator produces, over every value of every slot.

    ``inform`` and ``negate`` of each value (and dontcare) of each slot, ``affirm`` of
    each value, a ``request`` of each requestable slot, ``bye`` and ``null`` (the
    simulator never says a bare ``negate``, ``inform`` or ``thanks``). Rendered without
    a stream it is a deterministic utterance set for checking an NLU.
    """
    acts = [UserAct(BYE), UserAct(NULL)]
    for s, slot in enumerate(domain.slots):
        for v in range(len(slot.values) + 1):
            acts += [UserAct(INFORM, [(s, v)]), UserAct(NEGATE, [(s, v)])]
            if v < len(slot.values):
                acts.append(UserAct(AFFIRM, [(s, v)]))
    acts += [UserAct(REQUEST, requests=[r]) for r in range(domain.n_requestable)]
    return acts


def semantics(domain: Domain, act: UserAct) -> str:
    """The act as a compact string over names, e.g. ``inform(area=north,?phone)``.

    Items are ``slot=value`` (``dontcare`` for any value), then requested slots as
    ``?name``; this is the label format of text perception datasets, so it holds what
    the words say: an ``affirm`` ("Yes, that's right.") names no value (the system knows
    what it asked to confirm).

    >>> from envs.dialogue.domain import load_domain
    >>> dom = load_domain("hotel")
    >>> semantics(dom, UserAct(REQUEST, requests=[0, dom.n_slots]))
    'request(?area,?phone)'
    >>> semantics(dom, UserAct(AFFIRM, [(0, 1)]))
    'affirm()'
    """
    said = [] if act.act == AFFIRM else act.items
    items = [f"{domain.slot_names[s]}={domain.slots[s].value_name(v)}" for s, v in said]
    items += [f"?{domain.requestable_name(r)}" for r in act.requests]
    return f"{USER_ACT_NAMES[act.act]}({','.join(items)})"
