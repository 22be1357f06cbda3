"""The ``nlu`` channel: the user's words, understood by a trained NLU, as an N-best list.

The dialogue env must not import ``agents`` (where the trained models live), so the
seam between them is small and explicit:

* :class:`Understanding` is the protocol an NLU implements: ``understand(utterances)``
  maps a batch of strings to :class:`Interpretation` objects that speak in *names*
  (act ``"inform"``, slot ``"area"``, value ``"north"``) with confidences, so one model
  can serve every domain and names it never learnt are simply dropped;
* :class:`NLUChannel` turns an interpretation into the
  :class:`~envs.dialogue.noise.Hypotheses` the belief tracker already consumes, exactly
  where the synthetic :class:`~envs.dialogue.noise.NoiseChannel` would;
* :func:`load_understanding` resolves ``nlu_model=PATH``: it reads the folder's
  ``model.json`` (JSON only, no code) and hands the folder to the loader registered for
  its ``format``. Loaders register in process with :func:`register_loader` or through
  the entry-point group ``practicegym.nlu`` (name: the format, value: a callable
  ``loader(path) -> Understanding``); ``agents.perception`` provides the text-CNN one.
  Nothing named inside a model folder is ever imported.

>>> from envs.dialogue.domain import load_domain
>>> from envs.dialogue.user import INFORM, UserAct
>>> class Echo:  # a toy NLU: always hears area=north
...     def understand(self, utterances):
...         return [Interpretation("inform", 0.9, {"area": [("north", 0.8)]}, {})
...                 for _ in utterances]
>>> channel = NLUChannel(load_domain("hotel"), Echo())
>>> hyp = channel.hear(UserAct(INFORM, [(0, 1)]), "in the north", nbest=3)
>>> hyp.slots, hyp.errors
([(0, 1, 0.8)], 0)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from envs.dialogue.domain import Domain
from envs.dialogue.noise import Hypotheses
from envs.dialogue.user import AFFIRM, USER_ACT_NAMES, UserAct

__all__ = [
    "ENTRY_POINT_GROUP",
    "Interpretation",
    "NLUChannel",
    "Understanding",
    "load_understanding",
    "register_loader",
]

ENTRY_POINT_GROUP = "practicegym.nlu"
DONTCARE = "dontcare"
_LOADERS: dict[str, Callable[[Path], Understanding]] = {}


@dataclass(frozen=True)
class Interpretation:
    """What an NLU understood from one utterance, in names.

    Attributes:
        act: User act name (one of ``USER_ACT_NAMES``).
        act_confidence: The classifier's probability of ``act``.
        slots: Per slot name, ranked ``(value name or "dontcare", confidence)``
            candidates; slots not mentioned are absent.
        requests: Requested slot names and their confidences.
    """

    act: str
    act_confidence: float
    slots: Mapping[str, Sequence[tuple[str, float]]] = field(default_factory=dict)
    requests: Mapping[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        items = [f"{s}={c[0][0]} {c[0][1]:.2f}" for s, c in self.slots.items() if c]
        items += [f"?{r} {p:.2f}" for r, p in self.requests.items()]
        return f"{self.act} {self.act_confidence:.2f}({', '.join(items)})"


@runtime_checkable
class Understanding(Protocol):
    """An NLU: utterances in, :class:`Interpretation` objects out (one per utterance)."""

    def understand(self, utterances: Sequence[str]) -> list[Interpretation]:
        """Interprets a batch of utterances."""
        ...


class NLUChannel:
    """Maps an NLU's interpretation onto a domain's indices as :class:`Hypotheses`.

    Args:
        domain: The domain in play (names it lacks are dropped).
        nlu: The understanding module.
    """

    def __init__(self, domain: Domain, nlu: Understanding) -> None:
        self.domain = domain
        self.nlu = nlu
        self.last: Interpretation | None = None

    def hear(self, act: UserAct, utterance: str, nbest: int) -> Hypotheses:
        """Understands ``utterance`` (the rendering of ``act``) into an N-best list.

        ``act`` is only used to count errors (``Hypotheses.errors``/``spurious``), as
        the synthetic channel reports them; the hypotheses come from the words alone.
        """
        (interp,) = self.nlu.understand([utterance])
        return self.to_hypotheses(interp, act, nbest)

    def to_hypotheses(self, interp: Interpretation, act: UserAct, nbest: int) -> Hypotheses:
        """Converts one interpretation (see :meth:`hear`)."""
        self.last = interp
        dom = self.domain
        kind = USER_ACT_NAMES.index(interp.act) if interp.act in USER_ACT_NAMES else 0
        out = Hypotheses(kind)
        out.items = len(act.items) + len(act.requests)
        for name, candidates in interp.slots.items():
            if name not in dom.slot_names:
                continue
            s = dom.slot_index(name)
            slot = dom.slots[s]
            ranked = [
                (s, slot.dontcare if v == DONTCARE else slot.values.index(v), float(c))
                for v, c in candidates
                if v == DONTCARE or v in slot.values
            ][:nbest]
            if ranked:
                out.slots.extend(ranked)
                out.top.append(ranked[0])
        requestable = [dom.requestable_name(r) for r in range(dom.n_requestable)]
        out.requests = [
            (requestable.index(r), float(c)) for r, c in interp.requests.items() if r in requestable
        ]
        heard = {(s, v) for s, v, _ in out.top}
        truth = set() if act.act == AFFIRM else set(act.items)  # a 'yes' names no value
        out.errors = len(truth - heard) + len(set(act.requests) - {r for r, _ in out.requests})
        out.spurious = len(heard - truth)
        return out


def register_loader(fmt: str, loader: Callable[[Path], Understanding]) -> None:
    """Makes :func:`load_understanding` hand model folders of format ``fmt`` to ``loader``."""
    _LOADERS[fmt] = loader


def _loader_for(fmt: str) -> Callable[[Path], Understanding] | None:
    if fmt in _LOADERS:
        return _LOADERS[fmt]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == fmt:
            try:
                loader = ep.load()
            except Exception as err:
                raise ValueError(
                    f"NLU loader entry point {ep.name!r} ({ep.value}) failed to load: {err}"
                ) from err
            _LOADERS[fmt] = loader
            return loader
    return None


def load_understanding(path: str | os.PathLike) -> Understanding:
    """Loads the NLU model folder ``path`` through the loader registered for its format.

    Raises:
        ValueError: No folder or ``model.json``, bad JSON, or no loader for the format
            (the message names the registered ones).
    """
    folder = Path(path)
    meta_path = folder / "model.json"
    if not meta_path.is_file():
        raise ValueError(f"nlu_model {folder} is not a model folder (no model.json)")
    try:
        fmt = json.loads(meta_path.read_text(encoding="utf-8")).get("format")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise ValueError(f"{meta_path} is corrupt (not a JSON object: {err})") from None
    loader = _loader_for(str(fmt))
    if loader is None:
        known = sorted({*_LOADERS, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
        raise ValueError(
            f"no NLU loader for format {fmt!r} of {folder}; registered: {known} (import "
            f"agents.perception.text, or install practicegym for its {ENTRY_POINT_GROUP!r} "
            "entry point)"
        )
    nlu = loader(folder)
    if not isinstance(nlu, Understanding):
        raise ValueError(f"the loader for {fmt!r} returned {type(nlu).__name__}, not an NLU")
    return nlu
