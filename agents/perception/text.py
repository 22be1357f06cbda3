"""Text perception: a Kim-2014 convolutional NLU for the dialogue env's user utterances.

* **Tokens, no downloads.** Lower-cased words and punctuation; each token is embedded as
  its word vector (a vocabulary built from the training utterances; unknown words share
  one vector) plus the mean of hashed character-trigram vectors (``<north>`` ->
  ``<no``, ``nor``, ...; CRC32 into ``buckets`` rows), so typos and unseen values still
  land near what they resemble.
* **Network** (:class:`TextCNN`): parallel 1-D convolutions of several widths over the
  token vectors, ReLU, max-pool over time, dropout, then heads: the dialogue-act type
  (softmax), one value classifier per slot (``none``, each value, ``dontcare``) and the
  requested slots (sigmoids). Slots and values are *names* learnt from the training data
  (:class:`LabelSchema`), so one model serves every training domain; a held-out domain's
  own slots and values are unknown to it by construction.
* **Data** come from ``python -m agents.perception collect --env dialogue`` (text
  datasets, see :mod:`agents.perception.data`); labels are the act strings of
  :func:`envs.dialogue.nlg.semantics` (``inform(area=north,?phone)``).
* **Use**: :class:`TextNLU` implements :class:`envs.dialogue.nlu.Understanding`; this
  module registers :func:`load_nlu` for its model format, so
  ``envs.make("dialogue", channel="nlu", nlu_model=FOLDER)`` works once it is imported
  (or through the ``practicegym.nlu`` entry point of an installed package).

A model folder holds ``model.json`` (format, architecture, vocabulary, label schema,
metrics) and ``weights.pt`` (a state_dict read with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.perception.data import (
    EPISODE_STRIDE,
    CollectConfig,
    _check_split,
    _run_tasks,
    read_metadata,
)
from envs.dialogue.domain import RandomStream
from envs.dialogue.nlg import add_noise
from envs.dialogue.nlu import Interpretation, register_loader
from envs.dialogue.user import USER_ACT_NAMES

__all__ = [
    "TEXT_MODEL_FORMAT",
    "LabelSchema",
    "TextCNN",
    "TextConfig",
    "TextDataset",
    "TextNLU",
    "Vocabulary",
    "evaluate_text",
    "format_text_table",
    "load_nlu",
    "load_text_dataset",
    "nlu_metrics",
    "parse_semantics",
    "render_text_dataset",
    "save_nlu",
    "tokenize",
    "train_text",
    "train_text_model",
]

TEXT_MODEL_FORMAT = "practicegym-text-nlu/1"
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
NONE, DONTCARE = "none", "dontcare"
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens.

    >>> tokenize("I'd like 3 stars, please.")
    ['i', "'", 'd', 'like', '3', 'stars', ',', 'please', '.']
    """
    return _TOKEN.findall(text.lower())


def parse_semantics(text: str) -> tuple[str, dict[str, str], list[str]]:
    """Splits ``act(slot=value,?request)`` into ``(act, {slot: value}, [requests])``.

    >>> parse_semantics("inform(area=north,type=bed and breakfast,?phone)")
    ('inform', {'area': 'north', 'type': 'bed and breakfast'}, ['phone'])
    """
    act, _, rest = text.partition("(")
    slots: dict[str, str] = {}
    requests: list[str] = []
    for item in filter(None, rest.rstrip(")").split(",")):
        if item.startswith("?"):
            requests.append(item[1:])
        else:
            slot, _, value = item.partition("=")
            slots[slot] = value
    return act, slots, requests


# ------------------------------------------------------------------ vocabulary


@dataclass(frozen=True)
class Vocabulary:
    """Word ids (0: padding, 1: unknown) and hashed character-trigram ids.

    Attributes:
        words: Known words; word ``words[i]`` has id ``i + 2``.
        buckets: Character-trigram hash buckets (ids ``1..buckets``; 0 is padding).
        max_tokens: Tokens kept per utterance.
        max_grams: Trigrams kept per token.
    """

    words: tuple[str, ...]
    buckets: int = 2048
    max_tokens: int = 40
    max_grams: int = 10

    @classmethod
    def build(cls, texts: Sequence[str], **kwargs: Any) -> Vocabulary:
        """A vocabulary of every token in ``texts`` (first-seen order)."""
        seen = dict.fromkeys(tok for t in texts for tok in tokenize(t))
        return cls(tuple(seen), **kwargs)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {w: i + 2 for i, w in enumerate(self.words)}

    @cached_property
    def _gram_cache(self) -> dict[str, list[int]]:
        return {}

    def grams(self, token: str) -> list[int]:
        """Hashed trigram ids of ``token`` (with ``<`` and ``>`` as boundaries)."""
        ids = self._gram_cache.get(token)
        if ids is None:
            padded = f"<{token}>"
            ids = [
                zlib.crc32(padded[i : i + 3].encode()) % self.buckets + 1
                for i in range(max(1, len(padded) - 2))
            ][: self.max_grams]
            if len(self._gram_cache) < 100_000:
                self._gram_cache[token] = ids
        return ids

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(word ids (N, T), trigram ids (N, T, G))`` padded with 0."""
        index = self._index
        tokens = [tokenize(t)[: self.max_tokens] or ["."] for t in texts]
        length = max(max(len(t) for t in tokens), 5)  # the widest convolution fits
        words = np.zeros((len(texts), length), dtype=np.int64)
        grams = np.zeros((len(texts), length, self.max_grams), dtype=np.int64)
        for n, toks in enumerate(tokens):
            for i, tok in enumerate(toks):
                words[n, i] = index.get(tok, 1)
                g = self.grams(tok)
                grams[n, i, : len(g)] = g
        return torch.from_numpy(words), torch.from_numpy(grams)


@dataclass(frozen=True)
class LabelSchema:
    """The names a model predicts: act types, per-slot values and requestable slots.

    Attributes:
        acts: Act names (the env's user acts).
        slots: Per slot name, its values; the classifier's classes are
            ``("none", *values, "dontcare")``.
        requests: Requestable slot names.
    """

    acts: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    requests: tuple[str, ...]

    @classmethod
    def build(cls, semantics: Sequence[str]) -> LabelSchema:
        """The schema of every name in ``semantics`` strings (first-seen order)."""
        slots: dict[str, dict[str, None]] = {}
        requests: dict[str, None] = {}
        for text in semantics:
            _, items, reqs = parse_semantics(text)
            for slot, value in items.items():
                values = slots.setdefault(slot, {})
                if value != DONTCARE:
                    values[value] = None
            requests.update(dict.fromkeys(reqs))
        return cls(
            tuple(USER_ACT_NAMES),
            {s: tuple(v) for s, v in slots.items()},
            tuple(requests),
        )

    def classes(self, slot: str) -> tuple[str, ...]:
        """The classes of ``slot``'s classifier."""
        return (NONE, *self.slots[slot], DONTCARE)

    def targets(self, semantics: Sequence[str]) -> dict[str, torch.Tensor]:
        """Training targets: ``act`` (N,), ``slot:<name>`` (N,) class ids, ``requests`` (N, R).

        Names outside the schema (held-out values) map to ``none``/are dropped.
        """
        n = len(semantics)
        act = np.zeros(n, dtype=np.int64)
        slot_t = {s: np.zeros(n, dtype=np.int64) for s in self.slots}
        req = np.zeros((n, len(self.requests)), dtype=np.float32)
        index = {s: {c: i for i, c in enumerate(self.classes(s))} for s in self.slots}
        r_index = {r: i for i, r in enumerate(self.requests)}
        for k, text in enumerate(semantics):
            a, items, reqs = parse_semantics(text)
            act[k] = self.acts.index(a) if a in self.acts else 0
            for slot, value in items.items():
                if slot in index:
                    slot_t[slot][k] = index[slot].get(value, 0)
            for r in reqs:
                if r in r_index:
                    req[k, r_index[r]] = 1.0
        out = {"act": torch.from_numpy(act), "requests": torch.from_numpy(req)}
        out.update({f"slot:{s}": torch.from_numpy(t) for s, t in slot_t.items()})
        return out


# --------------------------------------------------------------------- network


@dataclass(frozen=True)
class TextConfig:
    """Architecture and training of a text NLU.

    Attributes:
        embed_dim: Size of word and trigram vectors.
        filters: Convolution filters per width.
        widths: Convolution widths (tokens).
        dropout: Dropout on the pooled features.
        buckets: Character-trigram hash buckets.
        epochs: Maximum passes over the training utterances.
        batch_size: Utterances per gradient step.
        lr: Adam learning rate.
        patience: Epochs without validation improvement before stopping.
        val_fraction: Fraction of episodes held out for validation.
        augment: Word dropout (10%: unknown word) and typos (rate 0.1) on training batches.
        seed: Seeds the split, the shuffling, the augmentation and the initial weights.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    embed_dim: int = 64
    filters: int = 64
    widths: tuple[int, ...] = (2, 3, 4)
    dropout: float = 0.2
    buckets: int = 2048
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    patience: int = 3
    val_fraction: float = 0.1
    augment: bool = False
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        positive = ("embed_dim", "filters", "buckets", "epochs", "batch_size", "patience")
        bad = [k for k in positive if getattr(self, k) < 1]
        if bad or not self.widths or min(self.widths) < 1 or max(self.widths) > 5:
            raise ValueError(f"{bad or 'widths'} must be positive (widths 1..5): {self}")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("dropout and val_fraction must be in [0, 1)")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextConfig:
        """Builds a config from a plain dict; unknown keys raise ``ValueError``."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ValueError(f"unknown text config keys {unknown}; valid: {sorted(valid)}")
        return cls(**data)


class TextCNN(nn.Module):
    """Word + trigram embeddings, parallel convolutions, max-pool, act/slot/request heads."""

    def __init__(self, config: TextConfig, n_words: int, schema: LabelSchema) -> None:
        super().__init__()
        self.config = config
        self.schema = schema
        e = config.embed_dim
        self.words = nn.Embedding(n_words + 2, e, padding_idx=0)
        self.grams = nn.Embedding(config.buckets + 1, e, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(e, config.filters, w, padding=w - 1) for w in config.widths
        )
        n_features = config.filters * len(config.widths)
        self.dropout = nn.Dropout(config.dropout)
        self.act_head = nn.Linear(n_features, len(schema.acts))
        self.slot_heads = nn.ModuleList(  # in schema.slots order ("type" can't be a key)
            nn.Linear(n_features, len(schema.classes(s))) for s in schema.slots
        )
        self.request_head = nn.Linear(n_features, max(1, len(schema.requests)))

    def forward(self, words: torch.Tensor, grams: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits ``act``, ``slot:<name>`` and ``requests`` for encoded utterances."""
        n_grams = (grams > 0).sum(-1, keepdim=True).clamp(min=1)
        x = self.words(words) + self.grams(grams).sum(2) / n_grams
        x = x.transpose(1, 2)  # (N, E, T)
        pooled = [torch.relu(conv(x)).amax(dim=2) for conv in self.convs]
        h = self.dropout(torch.cat(pooled, dim=1))
        out = {"act": self.act_head(h), "requests": self.request_head(h)}
        out.update(
            {
                f"slot:{s}": head(h)
                for s, head in zip(self.schema.slots, self.slot_heads, strict=True)
            }
        )
        return out

    def loss(self, logits: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of the heads' cross-entropies (binary for requests, summed over slots)."""
        ce = nn.functional.cross_entropy
        total = ce(logits["act"], y["act"])
        for s in self.schema.slots:
            total = total + ce(logits[f"slot:{s}"], y[f"slot:{s}"])
        if self.schema.requests:
            bce = nn.functional.binary_cross_entropy_with_logits
            per_slot = bce(logits["requests"], y["requests"], reduction="none")
            total = total + per_slot.sum(1).mean()
        return total


class TextNLU:
    """A trained :class:`TextCNN` as an :class:`envs.dialogue.nlu.Understanding`.

    Args:
        net: The network (eval mode is set here).
        vocab: Its vocabulary.
        max_candidates: Values kept per slot in an interpretation (the N-best).
    """

    def __init__(self, net: TextCNN, vocab: Vocabulary, max_candidates: int = 5) -> None:
        self.net = net.eval()
        self.vocab = vocab
        self.schema = net.schema
        self.max_candidates = max_candidates
        self._classes = {s: self.schema.classes(s) for s in self.schema.slots}

    @torch.no_grad()
    def probabilities(self, utterances: Sequence[str]) -> dict[str, np.ndarray]:
        """Softmax (sigmoid for requests) outputs of every head, batched."""
        device = self.net.act_head.weight.device
        words, grams = self.vocab.encode(utterances)
        logits = self.net(words.to(device), grams.to(device))
        out = {k: torch.softmax(v, dim=1).cpu().numpy() for k, v in logits.items()}
        out["requests"] = torch.sigmoid(logits["requests"]).cpu().numpy()
        return out

    def understand(self, utterances: Sequence[str]) -> list[Interpretation]:
        """Interpretations of a batch of utterances.

        Slots whose top class is not ``none`` come with their values ranked by
        probability; requests with probability above 0.5.
        """
        if not utterances:
            return []
        probs = self.probabilities(utterances)
        acts = self.schema.acts
        out = []
        for n in range(len(utterances)):
            act = int(probs["act"][n].argmax())
            slots: dict[str, list[tuple[str, float]]] = {}
            for s, classes in self._classes.items():
                p = probs[f"slot:{s}"][n]
                if int(p.argmax()) == 0:
                    continue
                order = np.argsort(-p[1:])[: self.max_candidates] + 1
                slots[s] = [(classes[i], float(p[i])) for i in order]
            requests = {
                r: float(p)
                for r, p in zip(self.schema.requests, probs["requests"][n], strict=False)
                if p > 0.5
            }
            out.append(Interpretation(acts[act], float(probs["act"][n][act]), slots, requests))
        return out


# ------------------------------------------------------------------------ data


@dataclass
class TextDataset:
    """Utterances with their semantics and episode ids (all shards concatenated)."""

    texts: list[str]
    semantics: list[str]
    episodes: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def load_text_dataset(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> TextDataset:
    """Loads text dataset folder(s) (``np.load(allow_pickle=False)``).

    Raises:
        ValueError: A folder is missing, malformed or not a text dataset.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    texts: list[str] = []
    sems: list[str] = []
    episodes = []
    first: dict[str, Any] | None = None
    for k, path in enumerate(paths):
        meta = read_metadata(path)
        if meta.get("kind") != "text":
            raise ValueError(f"{path} is a {meta.get('kind', 'frames')} dataset, not a text one")
        first = first or meta
        for shard in meta["shards"]:
            file = Path(path) / shard["file"]
            try:
                with np.load(file, allow_pickle=False) as data:
                    texts += data["texts"].tolist()
                    sems += data["semantics"].tolist()
                    episodes.append(data["episodes"].astype(np.int64) + k * EPISODE_STRIDE**2)
            except (OSError, KeyError, ValueError) as err:
                raise ValueError(f"cannot read shard {file}: {err}") from None
    if first is None:
        raise ValueError("no dataset folder given")
    meta = {**first, "sources": [str(p) for p in paths]}
    return TextDataset(texts, sems, np.concatenate(episodes), meta)


def render_text_dataset(cfg: CollectConfig, *, progress: bool = False) -> TextDataset:
    """Renders ``cfg.frames`` utterances into memory (used by evaluation)."""
    _check_split(cfg.env, cfg.split, cfg.env_kwargs)
    results = list(_run_tasks(cfg, None, progress, f"render {cfg.env}/{cfg.split}", "text"))
    return TextDataset(
        [t for r in results for t in r["texts"].tolist()],
        [t for r in results for t in r["semantics"].tolist()],
        np.concatenate([r["episodes"] for r in results]),
        {"env": cfg.env, "split": cfg.split, "seed": cfg.seed, "frames": cfg.frames},
    )


# -------------------------------------------------------------------- metrics


def _items(semantics: str) -> tuple[str, set[str], set[str]]:
    act, slots, reqs = parse_semantics(semantics)
    return act, {f"{s}={v}" for s, v in slots.items()}, set(reqs)


def _f1(tp: int, n_pred: int, n_true: int) -> float:
    if n_pred == 0 and n_true == 0:
        return 1.0
    return 2 * tp / (n_pred + n_true)


def nlu_metrics(predicted: Sequence[str], truth: Sequence[str]) -> dict[str, float]:
    """Act accuracy (= micro act F1), slot-value and request micro F1, frame F1, exact match.

    Frame F1 counts the act type, every ``slot=value`` and every request as items.
    """
    act_ok = exact = 0
    counts = {k: [0, 0, 0] for k in ("slot", "request", "frame")}
    for p, t in zip(predicted, truth, strict=True):
        pa, ps, pr = _items(p)
        ta, ts, tr = _items(t)
        act_ok += pa == ta
        exact += (pa, ps, pr) == (ta, ts, tr)
        pf, tf = {f"act:{pa}", *ps, *(f"?{r}" for r in pr)}, {f"act:{ta}", *ts}
        tf |= {f"?{r}" for r in tr}
        for key, (a, b) in {"slot": (ps, ts), "request": (pr, tr), "frame": (pf, tf)}.items():
            c = counts[key]
            c[0] += len(a & b)
            c[1] += len(a)
            c[2] += len(b)
    n = max(1, len(truth))
    return {
        "act_f1": act_ok / n,
        "slot_f1": _f1(*counts["slot"]),
        "request_f1": _f1(*counts["request"]),
        "frame_f1": _f1(*counts["frame"]),
        "exact_match": exact / n,
        "utterances": len(truth),
    }


def interpretation_semantics(interp: Interpretation) -> str:
    """The top reading of an interpretation as a semantics string."""
    items = [f"{s}={c[0][0]}" for s, c in interp.slots.items() if c]
    items += [f"?{r}" for r in interp.requests]
    return f"{interp.act}({','.join(items)})"


def predict_semantics(nlu: TextNLU, texts: Sequence[str], batch_size: int = 512) -> list[str]:
    """Top-reading semantics strings of ``texts``."""
    out: list[str] = []
    for i in range(0, len(texts), batch_size):
        out += [interpretation_semantics(x) for x in nlu.understand(texts[i : i + batch_size])]
    return out


# -------------------------------------------------------------------- training


def _augment(texts: Sequence[str], rng: np.random.Generator) -> list[str]:
    stream = RandomStream(rng)
    out = []
    for text in texts:
        words = [w for w in text.split(" ") if rng.random() >= 0.1 or len(text.split()) < 3]
        out.append(add_noise(" ".join(words) or text, stream, 0.1))
    return out


def _resolve_device(device: str) -> torch.device:
    from agents.perception.training import resolve_device

    return resolve_device(device)


def train_text(
    data: TextDataset, cfg: TextConfig, *, progress: bool = True
) -> tuple[TextNLU, dict[str, Any]]:
    """Trains a fresh :class:`TextCNN` on ``data``; returns the NLU and a report.

    The global torch RNG is left as it was (seeding happens in a forked RNG state).
    """
    from tqdm.auto import tqdm

    from agents.perception.training import split_by_episode

    device = _resolve_device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    train_idx, val_idx = split_by_episode(data.episodes, cfg.val_fraction, rng)
    train_texts = [data.texts[i] for i in train_idx]
    vocab = Vocabulary.build(train_texts, buckets=cfg.buckets)
    schema = LabelSchema.build([data.semantics[i] for i in train_idx])
    y_all = schema.targets(data.semantics)
    monitor = val_idx if len(val_idx) else train_idx
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(cfg.seed)
        net = TextCNN(cfg, len(vocab.words), schema).to(device)
        optim = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        best = (float("inf"), 0, {k: v.clone() for k, v in net.state_dict().items()})
        history: list[dict[str, float]] = []
        stale = 0
        start = time.perf_counter()
        val_x = [t.to(device) for t in vocab.encode([data.texts[i] for i in monitor])]
        val_y = {k: v[monitor].to(device) for k, v in y_all.items()}
        bar = tqdm(range(cfg.epochs), desc="train text NLU", unit="epoch", disable=not progress)
        for epoch in bar:
            net.train()
            order = rng.permutation(len(train_idx))
            total = 0.0
            for s in range(0, len(order), cfg.batch_size):
                b = order[s : s + cfg.batch_size]
                texts = [train_texts[i] for i in b]
                if cfg.augment:
                    texts = _augment(texts, rng)
                words, grams = vocab.encode(texts)
                rows = train_idx[b]
                y = {k: v[rows].to(device) for k, v in y_all.items()}
                loss = net.loss(net(words.to(device), grams.to(device)), y)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                total += loss.item() * len(b)
            net.eval()
            with torch.no_grad():
                val_loss = float(net.loss(net(*val_x), val_y))
            history.append(
                {"epoch": epoch + 1, "train_loss": total / len(order), "val_loss": val_loss}
            )
            bar.set_postfix(val=f"{val_loss:.4f}")
            if val_loss < best[0] - 1e-6:
                best = (val_loss, epoch + 1, {k: v.clone() for k, v in net.state_dict().items()})
                stale = 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        bar.close()
        net.load_state_dict(best[2])
    nlu = TextNLU(net.cpu().eval(), vocab)
    texts = [data.texts[i] for i in monitor]
    report = {
        "history": history,
        "best_epoch": best[1],
        "best_val_loss": best[0],
        "train_utterances": len(train_idx),
        "val_utterances": len(val_idx),
        "val_metrics": nlu_metrics(
            predict_semantics(nlu, texts), [data.semantics[i] for i in monitor]
        ),
        "train_seconds": round(time.perf_counter() - start, 2),
        "device": str(device),
    }
    return nlu, report


# ----------------------------------------------------------------- save/load


def save_nlu(nlu: TextNLU, out_dir: str | os.PathLike, info: Mapping[str, Any]) -> Path:
    """Writes ``weights.pt`` and ``model.json`` (format, config, vocabulary, schema, ``info``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in nlu.net.state_dict().items()}
    torch.save(state, out / (WEIGHTS_FILE + ".tmp"))
    os.replace(out / (WEIGHTS_FILE + ".tmp"), out / WEIGHTS_FILE)
    cfg = nlu.net.config
    meta = {
        **dict(info),
        "format": TEXT_MODEL_FORMAT,
        "config": {**asdict(cfg), "widths": list(cfg.widths)},
        "vocabulary": {**asdict(nlu.vocab), "words": list(nlu.vocab.words)},
        "schema": {
            "acts": list(nlu.schema.acts),
            "slots": {s: list(v) for s, v in nlu.schema.slots.items()},
            "requests": list(nlu.schema.requests),
        },
    }
    (out / (MODEL_FILE + ".tmp")).write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(out / (MODEL_FILE + ".tmp"), out / MODEL_FILE)
    return out


def load_nlu(model_dir: str | os.PathLike, device: str = "cpu") -> TextNLU:
    """Loads a text NLU folder (``torch.load(weights_only=True)``, JSON metadata).

    Raises:
        ValueError: Missing, corrupt or mismatched files; the message names the file.
    """
    path = Path(model_dir)
    meta_path = path / MODEL_FILE
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a text NLU model folder (no {MODEL_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != TEXT_MODEL_FORMAT:
            raise ValueError(f"{meta_path}: format must be {TEXT_MODEL_FORMAT!r}")
        cfg = TextConfig.from_dict(meta["config"])
        vocab = Vocabulary(**{**meta["vocabulary"], "words": tuple(meta["vocabulary"]["words"])})
        sch = meta["schema"]
        schema = LabelSchema(
            tuple(sch["acts"]),
            {s: tuple(v) for s, v in sch["slots"].items()},
            tuple(sch["requests"]),
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{meta_path} is corrupt: {err!r}") from None
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"{path} has {MODEL_FILE} but no {WEIGHTS_FILE} (an untrained model?)")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise ValueError(f"{weights} is corrupt or not a state_dict: {err}") from None
    net = TextCNN(cfg, len(vocab.words), schema)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{weights} does not match the architecture in {MODEL_FILE}: {err}"
        ) from None
    return TextNLU(net.to(_resolve_device(device)).eval(), vocab)


register_loader(TEXT_MODEL_FORMAT, load_nlu)


# ------------------------------------------------------------ train/eval CLI


def train_text_model(
    data_dirs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    cfg: TextConfig,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains on text dataset folder(s) and writes a model folder; returns its metadata.

    Raises:
        FileExistsError: ``out`` already holds a model and ``overwrite`` is false.
        ValueError: Bad datasets or config.
    """
    out = Path(out)
    if (out / MODEL_FILE).exists() and not overwrite:
        raise FileExistsError(
            f"{out} already holds a model; pass --overwrite or choose another --out"
        )
    data = load_text_dataset(data_dirs)
    nlu, report = train_text(data, cfg, progress=progress)
    info = {
        "env": data.metadata["env"],
        "data_split": data.metadata["split"],
        "data": data.metadata["sources"],
        **{k: v for k, v in report.items() if k != "history"},
    }
    save_nlu(nlu, out, info)
    (out / "history.json").write_text(json.dumps(report["history"], indent=2) + "\n")
    return info


def evaluate_text(
    model_dir: str | os.PathLike,
    env: str | None = None,
    *,
    utterances: int = 1_000,
    splits: Sequence[str] | None = None,
    seed: int = 1_000_003,
    workers: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """NLU metrics (:func:`nlu_metrics`) of a model on fresh utterances of every split.

    Returns:
        ``{"env", "model", "frames", "seed", "kind": "text", "splits": {split: metrics}}``.
    """
    from agents.perception.data import evaluation_configs

    nlu = load_nlu(model_dir, device=str(_resolve_device(device)))
    meta = json.loads((Path(model_dir) / MODEL_FILE).read_text())
    results: dict[str, Any] = {}
    configs = evaluation_configs(
        env,
        meta,
        model_dir,
        splits=splits,
        frames=utterances,
        seed=seed,
        workers=workers,
        env_kwargs=env_kwargs,
    )
    env = configs[0].env
    for cfg in configs:
        data = render_text_dataset(cfg, progress=progress)
        results[cfg.split] = nlu_metrics(predict_semantics(nlu, data.texts), data.semantics)
    return {
        "env": env,
        "model": str(model_dir),
        "kind": "text",
        "frames": utterances,
        "seed": seed,
        "splits": results,
    }


def format_text_table(report: Mapping[str, Any]) -> str:
    """Markdown table: one row per split, one column per metric."""
    keys = ("act_f1", "slot_f1", "request_f1", "frame_f1", "exact_match")
    lines = ["| split | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for split, m in report["splits"].items():
        lines.append(f"| {split} | " + " | ".join(f"{m[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)
