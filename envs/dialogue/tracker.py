"""Rule-based belief state tracker (PyDial's "focus" baseline tracker).

For every informable slot the tracker keeps a belief over the slot's values plus
*dontcare*; the mass missing from 1 is "not mentioned yet". Each turn, for a slot with
hypotheses of total confidence ``c`` this turn, ``b'(v) = (1 - c) b(v) + c_t(v)``. A
negated confirmation removes most of the confirmed value's mass; an affirmed one marks
the slot confirmed. Requested slots accumulate until the system informs them. The
database is queried with the top value of every slot whose top belief is at least
:data:`CONSTRAINT_THRESHOLD` (dontcare and empty slots do not constrain).

>>> from envs.dialogue.domain import load_domain
>>> from envs.dialogue.noise import Hypotheses
>>> from envs.dialogue.user import INFORM, SYS_REQUEST
>>> dom = load_domain("restaurant")
>>> tracker = BeliefTracker(dom)
>>> hyp = Hypotheses(INFORM)
>>> hyp.slots = [(1, 1, 0.7), (1, 2, 0.2)]  # area: north 0.7, south 0.2
>>> tracker.update(SYS_REQUEST, 1, -1, hyp)
>>> tracker.top[1], round(tracker.top_p[1], 2), round(tracker.margin[1], 2)
(1, 0.7, 0.5)
>>> tracker.matches == dom.query({1: 1}).bit_count()
True
"""

from __future__ import annotations

import math

from envs.dialogue.domain import Domain
from envs.dialogue.noise import Hypotheses
from envs.dialogue.user import (
    AFFIRM,
    NEGATE,
    NULL,
    SYS_CONFIRM,
    SYS_INFORM,
    SYS_OFFER,
    SYS_REQUEST,
)

__all__ = ["CONSTRAINT_THRESHOLD", "REQUEST_THRESHOLD", "BeliefTracker"]

CONSTRAINT_THRESHOLD = 0.35
REQUEST_THRESHOLD = 0.3
NEGATE_KEEP = 0.1  # share of a value's mass kept after the user negates its confirmation


class BeliefTracker:
    """Belief over each informable slot plus the dialogue's bookkeeping.

    Attributes:
        belief: ``belief[s][v]`` for values ``0..n_values`` (the last is dontcare).
        top, top_p, margin, entropy: Per-slot top value (-1: none), its belief, its lead
            over the runner-up and the normalised entropy (with the unmentioned mass).
        confirmed: Per slot, whether the user affirmed the current top value.
        asked: Per slot, how often the system requested it.
        requested: Requestable slots the user asked about and the system has not
            answered yet.
        dirty: Slots whose per-slot summary changed since the reset (when every slot is
            empty) or since an observer last cleared it.
        offered: Entity the system last offered (-1: none yet).
        offer_rejected: Whether the user negated the last offer.
        match_mask, matches: Database entities matching the top beliefs, and their count.
        last_act: The last user act type heard.
    """

    def __init__(self, domain: Domain) -> None:
        self.reset(domain)

    def reset(self, domain: Domain) -> None:
        """Forgets everything; tracks a dialogue in ``domain``."""
        self.domain = domain
        n = domain.n_slots
        self.belief = [[0.0] * (k + 1) for k in domain.n_values]
        self._log_norm = [math.log(k + 2) for k in domain.n_values]
        self.top = [-1] * n
        self.top_p = [0.0] * n
        self.margin = [0.0] * n
        self.entropy = [1.0] * n
        self.confirmed = [False] * n
        self.asked = [0] * n
        self.requested: set[int] = set()
        self.dirty: set[int] = set()  # slots whose summary changed since reset (for observers)
        self.offered = -1
        self.offer_rejected = False
        self.match_mask = domain.all_entities
        self.matches = domain.n_entities
        self.last_act = NULL
        self._answered: set[int] = set()

    # ------------------------------------------------------------------ update

    def update(self, sys_kind: int, sys_slot: int, sys_value: int, hyp: Hypotheses) -> None:
        """Folds in one turn: the system act just performed and what was heard back."""
        act = self.last_act = hyp.act
        items = hyp.slots
        touched: dict[int, list[tuple[int, float]]] = {}
        requery = False
        if sys_kind == SYS_CONFIRM:
            if act == NEGATE:
                self.belief[sys_slot][sys_value] *= NEGATE_KEEP
                self.confirmed[sys_slot] = False
                touched[sys_slot] = []
            elif act == AFFIRM:
                touched[sys_slot] = []
        elif sys_kind == SYS_OFFER:
            self.offer_rejected = act == NEGATE
        for s, v, c in items:
            hyps = touched.get(s)
            if hyps is None:
                touched[s] = [(v, c)]
            else:
                hyps.append((v, c))
        for s, hyps in touched.items():
            if hyps:
                b = self.belief[s]
                if len(hyps) == 1:
                    v, total = hyps[0]
                else:
                    total = 0.0
                    for _, c in hyps:
                        total += c
                    if total > 1.0:
                        hyps = [(v, c / total) for v, c in hyps]
                        total = 1.0
                keep = 1.0 - total
                if keep != 1.0:
                    for i, p in enumerate(b):
                        if p:
                            b[i] = p * keep
                for v, c in hyps:
                    b[v] += c
            old_top = self.top[s]
            old_key = old_top if self.top_p[s] >= CONSTRAINT_THRESHOLD else -1
            self._stats(s)
            new_top = self.top[s]
            if sys_kind == SYS_CONFIRM and s == sys_slot and act == AFFIRM:
                self.confirmed[s] = new_top == sys_value
            elif new_top != old_top:
                self.confirmed[s] = False
            if (new_top if self.top_p[s] >= CONSTRAINT_THRESHOLD else -1) != old_key:
                requery = True
        n = self.domain.n_slots
        for r, c in hyp.requests:
            if c >= REQUEST_THRESHOLD:
                self.requested.add(r)
                if r < n:
                    self.dirty.add(r)
        if sys_kind == SYS_INFORM:
            # answered before hearing the reply; new requests in the reply stay pending
            self.requested.difference_update(self._answered)
            self.dirty.update(r for r in self._answered if r < n)
        if touched:
            self.dirty.update(touched)
            if requery:  # a slot's database constraint changed
                self._query()

    def note_system_act(self, sys_kind: int, sys_slot: int, entity: int) -> None:
        """Records the system act about to be performed (before the user replies)."""
        if sys_kind == SYS_OFFER:
            self.offered = entity
        elif sys_kind == SYS_INFORM:
            self._answered = set(self.requested)
        elif sys_kind == SYS_REQUEST and sys_slot >= 0:
            self.asked[sys_slot] += 1
            self.dirty.add(sys_slot)

    def _stats(self, s: int) -> None:
        b = self.belief[s]
        best = second = 0.0
        top = -1
        mass = 0.0
        ent = 0.0
        log = math.log
        for v, p in enumerate(b):
            if p > 1e-12:
                if p > best:
                    second, best, top = best, p, v
                elif p > second:
                    second = p
                mass += p
                ent -= p * log(p)
        rest = 1.0 - mass
        if rest > 1e-12:
            ent -= rest * math.log(rest)
        if best > 1.0:
            best = 1.0
        self.top[s] = top
        self.top_p[s] = best
        self.margin[s] = best - second if best > second else 0.0
        ent /= self._log_norm[s]
        self.entropy[s] = 1.0 if ent > 1.0 else ent if ent > 0.0 else 0.0

    def _query(self) -> None:
        dom = self.domain
        mask = dom.all_entities
        bits = dom.bits
        for s in range(dom.n_slots):
            if self.top_p[s] >= CONSTRAINT_THRESHOLD:
                mask &= bits[s][self.top[s]]
        self.match_mask = mask
        self.matches = mask.bit_count()

    # ----------------------------------------------------------------- queries

    def constraints(self) -> dict[int, int]:
        """The slot values the database is queried with (dontcare left out)."""
        dom = self.domain
        return {
            s: self.top[s]
            for s in range(dom.n_slots)
            if self.top_p[s] >= CONSTRAINT_THRESHOLD and self.top[s] != dom.slots[s].dontcare
        }

    def best_match(self) -> int:
        """Entity the system would offer now (-1 when nothing matches)."""
        return self.domain.first(self.match_mask)

    def offer_consistent(self) -> bool:
        """Whether the offered entity still matches the current top beliefs."""
        return self.offered >= 0 and bool(self.match_mask >> self.offered & 1)
