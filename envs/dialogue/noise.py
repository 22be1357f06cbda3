"""Noise channel: turns the user's true act into a confidence-scored N-best list.

Modelled on PyDial's semantic error model. With semantic error rate ``ser`` every
semantic item of the user act (each ``slot=value`` and each requested slot) is
corrupted with probability ``ser``: most often its value is confused with another value
of the same slot (requests: with another requestable slot), sometimes it is dropped. A
spurious item may also appear (probability ``ser / 2`` per turn). Each item comes with
an N-best list of ``nbest`` hypotheses whose confidences sum to at most 1: correct top
hypotheses tend to score higher than corrupted ones, so confidences carry (imperfect)
information. At ``ser = 0`` the channel is the identity with confidence 1.

>>> import numpy as np
>>> from envs.dialogue.domain import RandomStream, load_domain
>>> from envs.dialogue.user import INFORM, UserAct
>>> dom = load_domain("hotel")
>>> channel = NoiseChannel(dom, RandomStream(np.random.default_rng(0)))
>>> hyp = channel.corrupt(UserAct(INFORM, [(0, 1)]), ser=0.0, nbest=3)
>>> hyp.slots, hyp.errors
([(0, 1, 1.0)], 0)
"""

from __future__ import annotations

from envs.dialogue.domain import Domain, RandomStream
from envs.dialogue.user import UserAct

__all__ = ["DROP_SHARE", "Hypotheses", "NoiseChannel"]

DROP_SHARE = 0.2  # share of corruptions that drop the item rather than confuse it
SPURIOUS_SHARE = 0.5  # spurious items per turn, as a share of ser
ALT_DECAY = 0.4  # each lower-ranked alternative gets this share of the remaining mass


class Hypotheses:
    """What the system hears: the act type plus scored slot and request hypotheses.

    Attributes:
        act: The (uncorrupted) user act type.
        slots: ``(slot, value, confidence)`` triples, each item's N-best in rank order.
        requests: ``(requestable, confidence)`` pairs.
        top: The top hypothesis of each item as ``(slot, value)`` (for transcripts).
        items: Number of semantic items in the true act.
        errors: How many of them have a wrong or missing top hypothesis.
        spurious: Number of invented items (appended last to ``slots`` and ``top``).
    """

    __slots__ = ("act", "errors", "items", "requests", "slots", "spurious", "top")

    def __init__(self, act: int) -> None:
        self.act = act
        self.slots: list[tuple[int, int, float]] = []
        self.requests: list[tuple[int, float]] = []
        self.top: list[tuple[int, int, float]] = []  # may alias ``slots`` (read only)
        self.items = 0
        self.errors = 0
        self.spurious = 0


class NoiseChannel:
    """Semantic error channel for one domain (see the module docstring).

    Args:
        domain: Gives each slot's value set (confusions stay inside a slot).
        stream: Source of randomness.
    """

    def __init__(self, domain: Domain, stream: RandomStream) -> None:
        self.domain = domain
        self.stream = stream

    def corrupt(self, act: UserAct, ser: float, nbest: int) -> Hypotheses:
        """Returns the N-best :class:`Hypotheses` the system receives for ``act``."""
        out = Hypotheses(act.act)
        out.items = len(act.items) + len(act.requests)
        if ser <= 0.0:
            if act.items:
                out.slots = [(s, v, 1.0) for s, v in act.items]
                out.top = out.slots
            if act.requests:
                out.requests = [(r, 1.0) for r in act.requests]
            return out
        random = self.stream.random
        n_values = self.domain.n_values
        slots, top = out.slots, out.top
        errors = 0
        for s, v in act.items:
            n_choices = n_values[s] + 1  # values plus dontcare
            if random() < ser:
                errors += 1
                if random() < DROP_SHARE:
                    continue
                best = (v + 1 + int(random() * (n_choices - 1))) % n_choices
                conf = 0.2 + 0.6 * random()
                truth_second = random() < 0.5  # the truth often ranks second
            else:
                best = v
                conf = 1.0 - 1.5 * ser * random()
                if conf < 0.2:
                    conf = 0.2
                truth_second = False
            slots.append((s, best, conf))
            top.append((s, best, conf))
            n_alt = (nbest if nbest < n_choices else n_choices) - 1
            if n_alt > 0:
                rest = 1.0 - conf
                offset = 1 + int(random() * (n_choices - 1))
                for i in range(n_alt):
                    if truth_second:
                        alt, truth_second = v, False
                    else:
                        alt = (best + offset + i) % n_choices
                        if alt in (best, v):
                            continue
                    rest *= ALT_DECAY
                    slots.append((s, alt, rest))
        n_req = self.domain.n_requestable
        for r in act.requests:
            if random() < ser:
                errors += 1
                if random() < DROP_SHARE:
                    continue
                wrong = (r + 1 + int(random() * (n_req - 1))) % n_req
                out.requests.append((wrong, 0.2 + 0.6 * random()))
            else:
                conf = 1.0 - 1.5 * ser * random()
                out.requests.append((r, conf if conf > 0.2 else 0.2))
        if random() < SPURIOUS_SHARE * ser:
            s = int(random() * self.domain.n_slots)
            conf = 0.05 + 0.4 * random()
            item = (s, int(random() * n_values[s]), conf)
            slots.append(item)
            top.append(item)
            out.spurious = 1
        out.errors = errors
        return out
