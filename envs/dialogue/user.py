"""Agenda-based simulated user (Schatzmann et al. 2007 style) and the dialogue act set.

The user holds a goal — constraints (``{slot: value}``) and requested slots — and an
agenda of what it still has to say. It answers each system act truthfully with respect
to its goal; it relaxes one constraint when the system reports that nothing matches (a
*goal change*, when the scenario gives it one), asks for its requested slots once a
matching venue is offered, and says goodbye when done. It loses patience with turns that
do not help (wrong recommendations, repeated questions, nonsense acts) and hangs up when
its patience runs out. An *unfriendly* user ignores some questions and volunteers
constraints it was not asked for.

>>> import numpy as np
>>> from envs.dialogue.domain import RandomStream, load_domain
>>> dom = load_domain("restaurant")
>>> user = UserSimulator(dom, RandomStream(np.random.default_rng(0)))
>>> opening = user.reset(n_constraints=2, n_requests=1, patience=5)
>>> opening.act == INFORM and all(user.goal[s] == v for s, v in opening.items)
True
>>> food = dom.slot_index("food")
>>> reply = user.respond(SYS_REQUEST, food)
>>> reply.items == [(food, user.goal.get(food, dom.slots[food].dontcare))]
True
"""

from __future__ import annotations

from envs.dialogue.domain import Domain, RandomStream

__all__ = [
    "AFFIRM",
    "BYE",
    "INFORM",
    "NEGATE",
    "NULL",
    "REQUEST",
    "SYS_ACT_NAMES",
    "SYS_BYE",
    "SYS_CONFIRM",
    "SYS_INFORM",
    "SYS_OFFER",
    "SYS_REQMORE",
    "SYS_REQUEST",
    "THANKS",
    "USER_ACT_NAMES",
    "UserAct",
    "UserSimulator",
]

# User act types (the observation one-hot encodes them in this order).
INFORM, REQUEST, AFFIRM, NEGATE, THANKS, BYE, NULL = range(7)
USER_ACT_NAMES = ("inform", "request", "affirm", "negate", "thanks", "bye", "null")

# System summary act types.
SYS_REQUEST, SYS_CONFIRM, SYS_OFFER, SYS_INFORM, SYS_REQMORE, SYS_BYE, SYS_INVALID = range(7)
SYS_ACT_NAMES = ("request", "confirm", "offer", "inform", "reqmore", "bye", "invalid")

UNFRIENDLY_IGNORE = 0.5  # chance an unfriendly user ignores a question
VOLUNTEER = {False: 0.15, True: 0.5}  # chance of volunteering an extra constraint


class UserAct:
    """One user turn: an act type, ``(slot, value)`` items and requested slots.

    ``items`` hold informable-slot values (value ``dontcare`` index allowed); requests
    hold requestable indices (informable slots first, then info slots).
    """

    __slots__ = ("act", "items", "requests")

    def __init__(
        self,
        act: int,
        items: list[tuple[int, int]] | None = None,
        requests: list[int] | None = None,
    ) -> None:
        self.act = act
        self.items = items if items is not None else []
        self.requests = requests if requests is not None else []

    def __repr__(self) -> str:
        return f"UserAct({USER_ACT_NAMES[self.act]}, items={self.items}, requests={self.requests})"


class UserSimulator:
    """Agenda-based user for one :class:`Domain` (see the module docstring).

    Args:
        domain: The domain whose database the goal is drawn from.
        stream: Source of randomness (the env's, so dialogues are reproducible).

    Attributes:
        goal: Current constraints ``{slot: value}``; slots absent mean dontcare.
        requests: The requestable slots the user wants to know about.
        pending: Requests not yet answered for the accepted venue.
        accepted: The offered entity that meets the goal (-1 until one is offered).
        changed_goal: Whether the goal change happened.
        hung_up: Whether the user ran out of patience.
    """

    def __init__(self, domain: Domain, stream: RandomStream) -> None:
        self.domain = domain
        self.stream = stream
        self.goal: dict[int, int] = {}
        self.requests: list[int] = []
        self.pending: set[int] = set()
        self.accepted = -1
        self.patience = 1
        self.frustration = 0
        self.unfriendly = False
        self.changed_goal = False
        self.hung_up = False
        self._alternative: tuple[int, int] | None = None
        self._untold: list[int] = []
        self._rejected: set[int] = set()
        self._affirmed: set[tuple[int, int]] = set()
        self._asked: set[int] = set()

    # ----------------------------------------------------------------- goal

    def reset(
        self,
        *,
        n_constraints: int,
        n_requests: int,
        patience: int,
        unfriendly: bool = False,
        goal_change: bool = False,
        domain: Domain | None = None,
    ) -> UserAct:
        """Draws a new goal and returns the user's opening act.

        The goal copies ``n_constraints`` slot values of a random database entity (so
        at least one venue matches). With ``goal_change`` one constraint starts at a
        value that matches nothing; the user switches to the true value when told so.
        """
        if domain is not None:
            self.domain = domain
        dom, rnd = self.domain, self.stream
        n_constraints = max(1, min(n_constraints, dom.n_slots))
        row = dom.values[rnd.integers(dom.n_entities)]
        slots = rnd.sample(range(dom.n_slots), n_constraints)  # random order: the agenda
        self.goal = {s: row[s] for s in sorted(slots)}
        if n_requests > 0:
            candidates = [r for r in range(dom.n_requestable) if r not in self.goal]
            self.requests = rnd.sample(candidates, min(n_requests, len(candidates)))
        else:
            self.requests = []
        self.pending = set()
        self.accepted = -1
        self.patience = patience
        self.frustration = 0
        self.unfriendly = unfriendly
        self.changed_goal = False
        self.hung_up = False
        self._rejected = set()
        self._affirmed = set()
        self._asked = set()
        self._alternative = None
        if goal_change:
            self._alternative = self._unsatisfiable_variant()
            if self._alternative is not None:
                s, bad = self._alternative
                self._alternative = (s, self.goal[s])
                self.goal[s] = bad
        self._untold = slots
        n_open = 1 + rnd.integers(2 if n_constraints > 1 else 1)
        return UserAct(INFORM, self._tell(n_open))

    def _unsatisfiable_variant(self) -> tuple[int, int] | None:
        """A (slot, value) change of the goal that leaves no matching entity, if any."""
        dom, rnd = self.domain, self.stream
        for s in rnd.sample(list(self.goal), len(self.goal)):
            others = {k: v for k, v in self.goal.items() if k != s}
            base = dom.query(others)
            n_values = len(dom.slots[s].values)
            start = rnd.integers(n_values)
            for k in range(n_values):
                v = (start + k) % n_values
                if v != self.goal[s] and not base & dom.bits[s][v]:
                    return s, v
        return None

    def _tell(self, n: int) -> list[tuple[int, int]]:
        told, self._untold = self._untold[:n], self._untold[n:]
        return [(s, self.goal[s]) for s in told]

    def truth(self, slot: int) -> int:
        """The user's value for ``slot`` (dontcare index when it is not a constraint)."""
        return self.goal.get(slot, self.domain.slots[slot].dontcare)

    def satisfied_by(self, entity: int) -> bool:
        """Whether ``entity`` meets the current goal."""
        if entity < 0:
            return False
        row = self.domain.values[entity]
        return all(row[s] == v for s, v in self.goal.items())

    @property
    def done(self) -> bool:
        """A matching venue is accepted and every request was answered."""
        return self.accepted >= 0 and not self.pending

    # ------------------------------------------------------------- responses

    def respond(
        self,
        kind: int,
        slot: int = -1,
        value: int = -1,
        entity: int = -1,
        informed: frozenset[int] | set[int] = frozenset(),
    ) -> UserAct:
        """The user's reply to one system act.

        Args:
            kind: A ``SYS_*`` act type.
            slot: Slot of a request/confirm.
            value: Value the system confirms.
            entity: Venue the system offers (-1: "nothing matches").
            informed: Requestable slots the system informs about the offered venue.
        """
        if kind == SYS_REQUEST:
            act = self._on_request(slot)
        elif kind == SYS_CONFIRM:
            act = self._on_confirm(slot, value)
        elif kind == SYS_OFFER:
            act = self._on_offer(entity)
        elif kind == SYS_INFORM:
            act = self._on_inform(entity, informed)
        elif kind == SYS_REQMORE:
            act = self._on_reqmore()
        elif kind == SYS_BYE:
            act = UserAct(BYE)
        else:  # an act the system could not perform: nonsense to the user
            self.frustration += 1
            act = UserAct(NULL)
        if self.frustration >= self.patience and act.act != BYE:
            self.hung_up = True
            act = UserAct(BYE)
        return act

    def _volunteer(self, items: list[tuple[int, int]]) -> None:
        if self._untold and self.stream.random() < VOLUNTEER[self.unfriendly]:
            items.extend(self._tell(1))

    def _on_request(self, slot: int) -> UserAct:
        if slot in self._asked and slot not in self._untold:
            self.frustration += 1
        self._asked.add(slot)
        if self.unfriendly and self.stream.random() < UNFRIENDLY_IGNORE:
            # ignores the question; maybe says something else it cares about
            return UserAct(INFORM, self._tell(1)) if self._untold else UserAct(NULL)
        if slot in self._untold:
            self._untold.remove(slot)
        items = [(slot, self.truth(slot))]
        self._volunteer(items)
        return UserAct(INFORM, items)

    def _on_confirm(self, slot: int, value: int) -> UserAct:
        truth = self.truth(slot)
        if slot in self._untold:
            self._untold.remove(slot)
        if value == truth:
            if (slot, value) in self._affirmed:
                self.frustration += 1
            self._affirmed.add((slot, value))
            return UserAct(AFFIRM, [(slot, value)])
        return UserAct(NEGATE, [(slot, truth)])

    def _on_offer(self, entity: int) -> UserAct:
        dom = self.domain
        if entity < 0:  # "there is no such venue"
            if self._alternative is not None and not self.changed_goal:
                s, v = self._alternative
                self.goal[s] = v
                self.changed_goal = True
                return UserAct(INFORM, [(s, v)])
            self.frustration += 1
            return UserAct(INFORM, list(self.goal.items()))
        if self.satisfied_by(entity):
            if entity != self.accepted:
                self.accepted = entity
                self.pending = set(self.requests)
            if self.pending:
                return UserAct(REQUEST, requests=sorted(self.pending))
            return UserAct(BYE)
        # A wrong recommendation costs patience; the user names one constraint it breaks.
        self.frustration += 1 + (entity in self._rejected)
        self._rejected.add(entity)
        row = dom.values[entity]
        wrong = [(s, v) for s, v in self.goal.items() if row[s] != v]
        item = wrong[self.stream.integers(len(wrong))]
        if item[0] in self._untold:
            self._untold.remove(item[0])
        return UserAct(NEGATE, [item])

    def _on_inform(self, entity: int, informed: frozenset[int] | set[int]) -> UserAct:
        if entity >= 0 and entity == self.accepted:
            useful = self.pending & informed
            if not useful:
                self.frustration += 1
            self.pending -= useful
            if not self.pending:
                return UserAct(BYE)
            return UserAct(REQUEST, requests=sorted(self.pending))
        self.frustration += 1
        if entity >= 0 and not self.satisfied_by(entity):
            return self._on_offer(entity)
        return UserAct(NULL)

    def _on_reqmore(self) -> UserAct:
        if self._untold:
            return UserAct(INFORM, self._tell(2))
        if self.accepted >= 0:
            if self.pending:
                return UserAct(REQUEST, requests=sorted(self.pending))
            return UserAct(BYE)
        self.frustration += 1
        return UserAct(NULL)
