"""Transfer maps: success rate and mean return on a grid over two scenario parameters.

Numeric axes span the parameter's whole supported range (so the train region and the
held-out regions both show); a categorical axis takes each of its choices as a column.
Every cell plays the same episode seeds (common random numbers): the parameters off the
map are drawn from the chosen split with those seeds, so cells differ only in the two
mapped values. ``split="all"`` draws the other parameters from their whole ranges.

Example:
    >>> from envs.scenarios import Continuous, ScenarioSpace
    >>> space = ScenarioSpace(
    ...     [Continuous("gap", 0.0, 2.0), Continuous("wind", 0.0, 1.0)],
    ...     {"train": {"gap": (0.0, 1.0)}, "heldout-a": {"gap": (1.5, 2.0)},
    ...      "heldout-b": {"wind": 0.0, "gap": (1.2, 1.4)}},
    ... )
    >>> make_axis(space, "gap", 3).values
    [0.0, 1.0, 2.0]
    >>> region_spans(space, "train", make_axis(space, "gap", 3))
    [(0.0, 1.0)]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.evaluation.rollout import episode_seeds
from agents.probe.target import Episode, Target
from envs.scenarios import Categorical, Choice, Fixed, Integer, Range, ScenarioSpace

__all__ = [
    "ALL",
    "Axis",
    "ProbeMap",
    "compute_map",
    "make_axis",
    "plot_map",
    "region_spans",
]

ALL = "all"  # the --split value that draws off-map parameters from their whole ranges
DEFAULT_SIZE = 12
MAP_STREAM = "probe-map"  # episode seeds of map cells (common random numbers)


@dataclass(frozen=True)
class Axis:
    """One map axis: a scenario parameter and the values its cells take."""

    name: str
    kind: str
    values: list[Any]
    unit: str = ""

    @property
    def categorical(self) -> bool:
        """Whether the axis is a categorical parameter (one column per choice)."""
        return self.kind == "categorical"

    def edges(self) -> np.ndarray:
        """Cell edges in plot coordinates (indices for categorical axes)."""
        if self.categorical:
            return np.arange(len(self.values) + 1) - 0.5
        v = np.asarray(self.values, dtype=float)
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {"name": self.name, "kind": self.kind, "values": self.values, "unit": self.unit}


def make_axis(space: ScenarioSpace, name: str, size: int | None = None) -> Axis:
    """The axis of parameter ``name`` with ``size`` cells (``None``: the default).

    Raises:
        ValueError: Unknown parameter (names the valid ones), a size for a categorical
            parameter other than its number of choices, or a size below 2.
    """
    param = space.param(name)
    if isinstance(param, Categorical):
        if size is not None and size != len(param.choices):
            raise ValueError(
                f"axis {name!r} is categorical: its cells are its {len(param.choices)} "
                f"choices {list(param.choices)}, so --grid must give it "
                f"{len(param.choices)} (or leave --grid out)"
            )
        return Axis(name, param.kind, list(param.choices))
    size = DEFAULT_SIZE if size is None else size
    if size < 2:
        raise ValueError(f"axis {name!r} needs a grid of at least 2 cells, got {size}")
    grid = np.linspace(param.low, param.high, size)
    if isinstance(param, Integer):
        values: list[Any] = sorted({round(float(v)) for v in grid})
    else:
        values = [float(v) for v in grid]
    return Axis(name, param.kind, values, param.unit)


def region_spans(space: ScenarioSpace, split: str, axis: Axis) -> list[tuple[float, float]]:
    """Where ``split`` lies along ``axis``, as spans in plot coordinates."""
    dist = space.distribution(split).dists[axis.name]  # type: ignore[attr-defined]
    if axis.categorical:
        allowed = set(dist.values) if isinstance(dist, Choice) else {dist.value}
        inside = [i for i, v in enumerate(axis.values) if v in allowed]
        spans: list[tuple[float, float]] = []
        for i in inside:
            if spans and spans[-1][1] == i - 0.5:
                spans[-1] = (spans[-1][0], i + 0.5)
            else:
                spans.append((i - 0.5, i + 0.5))
        return spans
    pad = 0.5 if axis.kind == Integer.kind else 0.0
    if isinstance(dist, Range):
        return [(float(dist.low) - pad, float(dist.high) + pad)]
    assert isinstance(dist, Fixed)
    edges = axis.edges()
    half = max(pad, float(np.min(np.diff(edges))) / 4)
    return [(float(dist.value) - half, float(dist.value) + half)]


def _differs(space: ScenarioSpace, split: str, axes: Sequence[Axis]) -> bool:
    """Whether ``split`` differs from train along either axis (worth marking)."""
    return any(region_spans(space, split, a) != region_spans(space, "train", a) for a in axes)


@dataclass
class ProbeMap:
    """A computed map: ``success[i, j]`` and ``mean_return[i, j]`` at ``(x[i], y[j])``.

    Attributes:
        env: Env name.
        policy: Label of the policy.
        split: Where the off-map parameters come from (a split name or ``all``).
        axes: ``(x, y)``.
        seed: Seed of the episode seeds.
        episodes: Episodes per cell.
        returns: ``[nx, ny, episodes]`` returns.
        successes: ``[nx, ny, episodes]`` success flags.
        regions: ``{split: [[x_span, y_span], ...]}`` for train and each held-out split
            that differs from train on these axes (spans in plot coordinates).
    """

    env: str
    policy: str
    split: str
    axes: tuple[Axis, Axis]
    seed: int
    episodes: int
    returns: np.ndarray
    successes: np.ndarray
    regions: dict[str, list[list[tuple[float, float]]]]

    @property
    def success(self) -> np.ndarray:
        """Success rate per cell, ``[nx, ny]``."""
        return self.successes.mean(axis=-1)

    @property
    def mean_return(self) -> np.ndarray:
        """Mean return per cell, ``[nx, ny]``."""
        return self.returns.mean(axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (``map.json``)."""
        return {
            "env": self.env,
            "policy": self.policy,
            "split": self.split,
            "axes": [a.to_dict() for a in self.axes],
            "seed": self.seed,
            "episodes": self.episodes,
            "success": self.success.round(4).tolist(),
            "mean_return": self.mean_return.round(4).tolist(),
            "returns": self.returns.round(4).tolist(),
            "successes": self.successes.astype(int).tolist(),
            "regions": {
                k: [[list(s) for s in rect] for rect in v] for k, v in self.regions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeMap:
        """Inverse of :meth:`to_dict`."""
        axes = tuple(Axis(**a) for a in data["axes"])
        return cls(
            env=data["env"],
            policy=data["policy"],
            split=data["split"],
            axes=(axes[0], axes[1]),
            seed=int(data["seed"]),
            episodes=int(data["episodes"]),
            returns=np.asarray(data["returns"], dtype=float),
            successes=np.asarray(data["successes"], dtype=bool),
            regions={
                k: [[(float(s[0]), float(s[1])) for s in rect] for rect in v]
                for k, v in data["regions"].items()
            },
        )

    def save(self, out_dir: str | Path, stem: str = "map") -> list[Path]:
        """Writes ``<stem>.json`` and ``<stem>.png`` into ``out_dir``; returns the paths."""
        from agents.runs import atomic_write

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, png_path = out / f"{stem}.json", out / f"{stem}.png"
        atomic_write(json_path, json.dumps(self.to_dict(), indent=1) + "\n")
        atomic_write(png_path, plot_map(self))
        return [json_path, png_path]


def compute_map(
    target: Target,
    axes: Sequence[str],
    *,
    grid: Sequence[int | None] = (None, None),
    episodes: int = 20,
    split: str = "train",
    seed: int = 0,
    workers: int = 1,
    progress: bool = False,
) -> ProbeMap:
    """Plays ``episodes`` per cell of the ``axes[0] x axes[1]`` grid.

    Raises:
        ValueError: Bad axes (unknown, twice the same, categorical with a grid size),
            an unknown split, or ``episodes < 1``.
    """
    space = target.space()
    x, y = check_map_inputs(space, axes, grid, split)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    seeds = episode_seeds(seed, MAP_STREAM, episodes)
    base = _off_map_scenarios(space, split, seeds)
    cells = [(xv, yv) for xv in x.values for yv in y.values]
    plan = [
        Episode(s, {**(b or {}), x.name: xv, y.name: yv})
        for xv, yv in cells
        for s, b in zip(seeds, base, strict=True)
    ]
    results = target.play(
        plan,
        split="train" if split == ALL else split,
        workers=workers,
        progress=progress,
        desc=f"map {x.name} x {y.name}",
    )
    shape = (len(x.values), len(y.values), episodes)
    regions = {
        s: [[xs, ys] for xs in region_spans(space, s, x) for ys in region_spans(space, s, y)]
        for s in space.split_names
        if s == "train" or _differs(space, s, (x, y))
    }
    return ProbeMap(
        env=target.env,
        policy=target.label,
        split=split,
        axes=(x, y),
        seed=seed,
        episodes=episodes,
        returns=np.array([r.ret for r in results]).reshape(shape),
        successes=np.array([r.success for r in results]).reshape(shape),
        regions=regions,
    )


def check_map_inputs(
    space: ScenarioSpace, axes: Sequence[str], grid: Sequence[int | None], split: str
) -> tuple[Axis, Axis]:
    """Validates a map's axes, grid and split; returns the two axes (ValueError if bad)."""
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(
            f"a map needs two different axes, got {list(axes)}; valid: {space.param_names}"
        )
    if split != ALL and split not in space.split_names:
        raise ValueError(f"unknown split {split!r}; valid: {[*space.split_names, ALL]}")
    x, y = (make_axis(space, a, g) for a, g in zip(axes, grid, strict=True))
    return x, y


def _off_map_scenarios(
    space: ScenarioSpace, split: str, seeds: Sequence[int]
) -> list[dict[str, Any] | None]:
    """Forced values of the parameters off the map, per episode (``None``: the split's)."""
    if split != ALL:
        return [None] * len(seeds)
    whole = space.distribution_from_dict(
        {
            p.name: list(p.choices) if isinstance(p, Categorical) else [p.low, p.high]
            for p in space.params
        }
    )
    return [whole.sample(np.random.default_rng(s)) for s in seeds]


def plot_map(m: ProbeMap) -> bytes:
    """The map as a PNG: success rate and mean return, train outlined, held-out marked."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    x, y = m.axes
    fig, panels = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, values, title, cmap in (
        (panels[0], m.success, "success rate", "RdYlGn"),
        (panels[1], m.mean_return, "mean return", "viridis"),
    ):
        vmin, vmax = (0.0, 1.0) if title == "success rate" else (None, None)
        mesh = ax.pcolormesh(x.edges(), y.edges(), values.T, cmap=cmap, vmin=vmin, vmax=vmax)
        fig.colorbar(mesh, ax=ax, label=title)
        for k, (split, rects) in enumerate(m.regions.items()):
            train = split == "train"
            colour = "black" if train else colours[k % len(colours)]
            for n, (xs, ys) in enumerate(rects):
                ax.add_patch(
                    Rectangle(
                        (xs[0], ys[0]),
                        xs[1] - xs[0],
                        ys[1] - ys[0],
                        fill=False,
                        edgecolor=colour,
                        linewidth=2.5 if train else 1.8,
                        linestyle="-" if train else "--",
                        label=split if n == 0 else None,
                    )
                )
        for axis, set_ticks, set_labels, set_label in (
            (x, ax.set_xticks, ax.set_xticklabels, ax.set_xlabel),
            (y, ax.set_yticks, ax.set_yticklabels, ax.set_ylabel),
        ):
            if axis.categorical:
                set_ticks(range(len(axis.values)))
                set_labels([str(v) for v in axis.values])
            set_label(f"{axis.name} [{axis.unit}]" if axis.unit else axis.name)
        ax.set_xlim(x.edges()[0], x.edges()[-1])
        ax.set_ylim(y.edges()[0], y.edges()[-1])
        ax.set_title(f"{title} ({m.episodes} episodes per cell)")
    panels[0].legend(loc="upper left", bbox_to_anchor=(0, -0.14), ncol=3, fontsize=8)
    fig.suptitle(f"{m.env}: {m.policy}, other parameters from {m.split}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
