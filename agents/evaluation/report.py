"""One policy's transfer report: :class:`SplitResult` per split and :class:`TransferReport`.

The report is data (built by :func:`agents.evaluation.transfer.evaluate_transfer`, read
back by :meth:`TransferReport.load`); its figure comes from :mod:`agents.evaluation.plots`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.evaluation import plots, stats
from agents.evaluation.baselines import BASELINE_CACHE_ENV  # noqa: F401 (benchmarks/transfer.py)
from agents.evaluation.files import json_default, markdown_page, md_row
from agents.evaluation.rollout import EpisodeResult
from agents.evaluation.stats import Estimate
from envs.fileio import atomic_write_all

__all__ = [
    "ALL_HELDOUT",
    "FORMAT",
    "SplitResult",
    "TransferReport",
]

FORMAT = "practicegym.transfer-report/1"
ALL_HELDOUT = "heldout (all)"
TRAIN = "train"
_MIN_SPAN = 1e-8


@dataclass(frozen=True, eq=False)
class SplitResult:
    """Raw per-episode results of one split, with the baselines on the same seeds.

    Attributes:
        split: Split name.
        seeds: Reset seed of each episode (identical for every policy compared).
        scenarios: Scenario of each episode (``info["scenario"]`` at reset).
        returns: Undiscounted episode returns.
        lengths: Episode lengths in steps.
        successes: ``info["is_success"]`` at episode end.
        info: Each of the env's ``episode_info_keys`` -> its end-of-episode values.
        random_returns: The random policy's returns on the same seeds (or ``None``).
        expert_returns: The scripted expert's returns on the same seeds (or ``None``).
    """

    split: str
    seeds: list[int]
    scenarios: list[dict[str, Any]]
    returns: np.ndarray
    lengths: np.ndarray
    successes: np.ndarray
    info: dict[str, list[Any]] = field(default_factory=dict)
    random_returns: np.ndarray | None = None
    expert_returns: np.ndarray | None = None

    @property
    def episodes(self) -> int:
        """Number of episodes."""
        return len(self.seeds)

    def normalised(self) -> np.ndarray | None:
        """Per-episode ``(return - random) / (expert - random)``, baselines as split means.

        ``None`` without both baselines or when the expert does not beat random.
        """
        if self.random_returns is None or self.expert_returns is None:
            return None
        low, high = float(np.mean(self.random_returns)), float(np.mean(self.expert_returns))
        if high - low <= _MIN_SPAN * max(1.0, abs(high), abs(low)):
            return None
        return (self.returns - low) / (high - low)

    def summary(self, confidence: float = stats.CONFIDENCE) -> dict[str, Estimate]:
        """Success rate, mean return, normalised score, length and info keys, with CIs."""
        norm = self.normalised()
        out = {
            "success": stats.rate(self.successes, confidence),
            "return": stats.mean(self.returns, confidence),
            "normalised": stats.NAN if norm is None else stats.mean(norm, confidence),
            "length": stats.mean(self.lengths, confidence),
        }
        for key, values in self.info.items():
            out[key] = stats.summarise(values, confidence)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form (arrays as lists)."""
        return {
            "split": self.split,
            "seeds": list(self.seeds),
            "scenarios": self.scenarios,
            "returns": self.returns.tolist(),
            "lengths": self.lengths.tolist(),
            "successes": self.successes.tolist(),
            "info": self.info,
            "random_returns": _list_or_none(self.random_returns),
            "expert_returns": _list_or_none(self.expert_returns),
            "normalised": _list_or_none(self.normalised()),
            "summary": {k: v.to_dict() for k, v in self.summary().items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitResult:
        """Inverse of :meth:`to_dict` (derived fields are recomputed)."""
        return cls(
            split=data["split"],
            seeds=[int(s) for s in data["seeds"]],
            scenarios=list(data["scenarios"]),
            returns=np.asarray(data["returns"], dtype=float),
            lengths=np.asarray(data["lengths"], dtype=int),
            successes=np.asarray(data["successes"], dtype=bool),
            info={k: list(v) for k, v in data.get("info", {}).items()},
            random_returns=_array_or_none(data.get("random_returns")),
            expert_returns=_array_or_none(data.get("expert_returns")),
        )

    @classmethod
    def from_results(
        cls,
        split: str,
        seeds: Sequence[int],
        results: Sequence[EpisodeResult],
        random: Sequence[EpisodeResult] | None,
        expert: Sequence[EpisodeResult] | None,
    ) -> SplitResult:
        """Builds a split's result from episode results in seed order."""
        keys = list(results[0].info) if results else []
        return cls(
            split=split,
            seeds=list(seeds),
            scenarios=[r.scenario for r in results],
            returns=np.array([r.ret for r in results], dtype=float),
            lengths=np.array([r.length for r in results], dtype=int),
            successes=np.array([r.success for r in results], dtype=bool),
            info={k: [r.info.get(k) for r in results] for k in keys},
            random_returns=None if random is None else np.array([r.ret for r in random]),
            expert_returns=None if expert is None else np.array([r.ret for r in expert]),
        )


def _list_or_none(x: np.ndarray | None) -> list[float] | None:
    return None if x is None else [float(v) for v in x]


def _array_or_none(x: Sequence[float] | None) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=float)


@dataclass(frozen=True, eq=False)
class TransferReport:
    """How one policy does on the train split and on held-out splits.

    Attributes:
        env: Env short name.
        env_kwargs: Keyword arguments the env was made with.
        policy: Label of the policy.
        seed: Seed the episode seeds derive from.
        splits: Split name -> :class:`SplitResult`, in evaluation order.
        episode_info_keys: The env's safety/quality keys.
        deterministic: Whether actions were deterministic.
        created: UTC time of the evaluation (ISO 8601).
        versions: Package versions used.
    """

    env: str
    env_kwargs: dict[str, Any]
    policy: str
    seed: int
    splits: dict[str, SplitResult]
    episode_info_keys: tuple[str, ...] = ()
    deterministic: bool = True
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        """Episodes per split."""
        return max((s.episodes for s in self.splits.values()), default=0)

    @property
    def normalised(self) -> bool:
        """Whether every split has a normalised score (expert and random baselines)."""
        return all(s.normalised() is not None for s in self.splits.values())

    @property
    def score_kind(self) -> str:
        """``"normalised"`` when :attr:`normalised`, else ``"return"``."""
        return "normalised" if self.normalised else "return"

    def scores(self, split: str) -> np.ndarray:
        """Per-episode scores of ``split`` (normalised when possible, else returns)."""
        if split == ALL_HELDOUT:
            return np.concatenate([self.scores(s) for s in self.heldout_splits])
        result = self.splits[split]
        norm = result.normalised() if self.normalised else None
        return result.returns if norm is None else norm

    @property
    def heldout_splits(self) -> list[str]:
        """Evaluated splits other than ``train``."""
        return [s for s in self.splits if s != TRAIN]

    def summary(self) -> dict[str, dict[str, Estimate]]:
        """Split -> metric -> estimate (see :meth:`SplitResult.summary`)."""
        return {name: result.summary() for name, result in self.splits.items()}

    def generalisation(self) -> dict[str, dict[str, Estimate | float]]:
        """Held-out split -> generalisation gap and transfer ratio versus ``train``.

        ``gap`` is train minus held-out score (normalised score when available, else
        return) with a Welch CI; ``success_gap`` the same for success rate (Newcombe CI);
        ``transfer_ratio`` is held-out / train score (NaN when train's is not positive).
        With two or more held-out splits, ``"heldout (all)"`` pools them. Empty when
        ``train`` was not evaluated.
        """
        if TRAIN not in self.splits or not self.heldout_splits:
            return {}
        names = list(self.heldout_splits)
        if len(names) > 1:
            names.append(ALL_HELDOUT)
        train_scores = self.scores(TRAIN)
        train_success = self.splits[TRAIN].successes.astype(float)
        out: dict[str, dict[str, Estimate | float]] = {}
        for name in names:
            scores = self.scores(name)
            if name == ALL_HELDOUT:
                success = np.concatenate(
                    [self.splits[s].successes for s in self.heldout_splits]
                ).astype(float)
            else:
                success = self.splits[name].successes.astype(float)
            train_mean = float(train_scores.mean())
            ratio = float(scores.mean()) / train_mean if train_mean > _MIN_SPAN else math.nan
            out[name] = {
                "gap": stats.difference(train_scores, scores),
                "success_gap": stats.rate_difference(train_success, success),
                "transfer_ratio": ratio,
            }
        return out

    # ------------------------------------------------------------------ output

    def table(self) -> str:
        """Markdown: one row per split, then generalisation gap and transfer ratio."""
        summary = self.summary()
        metrics = ["success", "return", "normalised", "length", *self.episode_info_keys]
        head = ["split", "episodes", *metrics]
        lines = [md_row(head), md_row(["---"] * len(head))]
        for name, result in self.splits.items():
            cells = [summary[name].get(m, stats.NAN).format() for m in metrics]
            lines.append(md_row([name, str(result.episodes), *cells]))
        gen = self.generalisation()
        if gen:
            kind = "normalised" if self.normalised else "return"
            head = ["held-out", f"gap ({kind})", "transfer ratio", "gap (success)"]
            lines += ["", md_row(head), md_row(["---"] * len(head))]
            for name, g in gen.items():
                ratio = g["transfer_ratio"]
                assert isinstance(ratio, float)
                lines.append(
                    md_row(
                        [
                            name,
                            str(g["gap"]),
                            "n/a" if math.isnan(ratio) else f"{ratio:.2f}",
                            str(g["success_gap"]),
                        ]
                    )
                )
        return "\n".join(lines)

    def markdown(self) -> str:
        """The whole ``report.md``: what was measured, the tables and how to read them."""
        seeds = ", ".join(f"{s}: {r.seeds[:3]}..." for s, r in self.splits.items())
        return markdown_page(
            [
                f"# Transfer report: {self.policy} on {self.env}",
                "",
                f"- evaluated {self.created} UTC, {self.episodes} episodes per split, "
                f"seed {self.seed}, deterministic={self.deterministic}",
                f"- env kwargs: {json.dumps(self.env_kwargs, sort_keys=True)}",
                f"- first episode seeds (common random numbers): {seeds}",
            ],
            self.table(),
            _NOTES,
            self.versions,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: arrays, seeds, summaries, generalisation and versions."""
        gen = {
            name: {k: (v.to_dict() if isinstance(v, Estimate) else _num(v)) for k, v in g.items()}
            for name, g in self.generalisation().items()
        }
        return {
            "format": FORMAT,
            "env": self.env,
            "env_kwargs": self.env_kwargs,
            "policy": self.policy,
            "seed": self.seed,
            "episodes": self.episodes,
            "deterministic": self.deterministic,
            "created": self.created,
            "episode_info_keys": list(self.episode_info_keys),
            "score_kind": self.score_kind,
            "splits": {name: r.to_dict() for name, r in self.splits.items()},
            "generalisation": gen,
            "versions": self.versions,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferReport:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: ``data`` is not a transfer report.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"not a practicegym transfer report (format must be {FORMAT!r})")
        return cls(
            env=data["env"],
            env_kwargs=dict(data.get("env_kwargs", {})),
            policy=data["policy"],
            seed=int(data["seed"]),
            splits={k: SplitResult.from_dict(v) for k, v in data["splits"].items()},
            episode_info_keys=tuple(data.get("episode_info_keys", ())),
            deterministic=bool(data.get("deterministic", True)),
            created=data.get("created", ""),
            versions=dict(data.get("versions", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> TransferReport:
        """Reads a ``report.json`` (or the folder holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read transfer report {path}: {err}") from None
        return cls.from_dict(data)

    def save(self, out_dir: str | Path) -> Path:
        """Writes ``report.json``, ``report.md`` and ``scores.png`` into ``out_dir``.

        Everything is rendered in memory first and each file replaced atomically,
        ``report.json`` last, so an interruption never leaves a half-written file.
        Returns the path of ``report.json``.
        """
        out = Path(out_dir)
        files: dict[str, bytes | str] = {
            "scores.png": plots.plot_transfer_report(self),
            "report.md": self.markdown(),
            "report.json": json.dumps(self.to_dict(), indent=1, default=json_default),
        }
        atomic_write_all(out, files)
        return out / "report.json"


_NOTES = """\
How to read this: each cell is the mean with a 95% confidence interval over episodes
(Wilson interval for rates, Student-t for means). Normalised score =
(return - random) / (expert - random), with the random policy's and the scripted
expert's mean returns measured on the same scenario seeds of the same split: 1 is
expert level, 0 is chance. Gap = train - held-out (Welch interval; Newcombe's for
success rates); transfer ratio = held-out / train."""


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None
