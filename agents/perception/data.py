"""Perception datasets rendered from our own envs: frames (or words) + privileged labels.

A dataset is a folder of compressed shards plus one metadata file::

    DIR/
      metadata.json           env, split, seed, shard seeds, label names and units, shapes
      shard-00000.npz         frames uint8 (N, H, W, C), labels float32 (N, L), episodes int64 (N,)
      shard-00001.npz
      ...

Frames come from ``env.unwrapped.perception_frame()`` and labels from
``env.unwrapped.perception_labels()`` (the perception hooks of the envs). The env samples
a scenario from the split at every reset, so the split's visual parameters (colours,
brightness, noise...) are randomised across episodes. Actions come from the env's scripted
expert mixed with noise (a per-episode noise scale plus occasional uniformly random
actions), so the states cover more than the expert's narrow path.

Envs with the *text* hooks instead (``perception_text()``, ``perception_semantics()``:
the dialogue env's user utterance and its true act) give text datasets of the same
layout, ``"kind": "text"`` in the metadata and shards holding ``texts`` and ``semantics``
(unicode arrays, no pickle) plus ``episodes``; ``frames`` counts utterances there.
:mod:`agents.perception.text` trains and evaluates on them.

Each shard is rendered by an independent task seeded from
``np.random.SeedSequence(seed).spawn(n_shards)``, so the dataset is the same for a given
seed whatever the number of worker processes.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shutil
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.config import from_mapping

__all__ = [
    "DATASET_FORMAT",
    "CollectConfig",
    "Dataset",
    "collect",
    "dataset_kind",
    "load_dataset",
    "randomised_distribution",
    "render_frames",
    "render_texts",
]

DATASET_FORMAT = "practicegym-perception-dataset/1"
METADATA_FILE = "metadata.json"
EPISODE_STRIDE = 1_000_000  # global episode id = shard index * stride + episode in shard
TEXT_HOOKS = ("perception_text", "perception_semantics")
RANDOMISE = ("none", "visual")
#: The held-out split whose parameters are the visual ones (never rendered by randomised
#: collection).
VISUAL_SPLIT = "heldout-visual"
#: Randomised ranges stop this fraction of a parameter's span short of a held-out range.
HELDOUT_MARGIN = 0.01


@dataclass(frozen=True)
class CollectConfig:
    """How a dataset is collected.

    Attributes:
        env: Short env name (``driving``, ``robot-reach``, ...), see ``envs.names()``.
        split: Scenario split whose (visual) parameters are sampled at every reset.
        frames: Number of frames in the dataset.
        seed: Root seed; the dataset is a function of it (and of the other fields).
        workers: Worker processes rendering shards in parallel (1 = in this process).
        shard_size: Frames per shard file.
        noise: Largest per-episode action-noise scale (fraction of the action half-range
            for Box actions, probability of a random action for Discrete ones).
        random_action_prob: Probability that a step takes a uniformly random action.
        every: Record one frame every ``every`` steps (1 = every step).
        env_kwargs: Extra keyword arguments for ``envs.make``.
        randomise: ``"none"`` (sample ``split`` as it is) or ``"visual"``: widen the
            split's visual parameters as far as the env's scenario space allows without
            using any held-out value (see :func:`randomised_distribution`); the exact
            distribution is written to the metadata. Needs ``split="train"``.
    """

    env: str
    split: str = "train"
    frames: int = 10_000
    seed: int = 0
    workers: int = 1
    shard_size: int = 2_000
    noise: float = 0.3
    random_action_prob: float = 0.1
    every: int = 1
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    randomise: str = "none"

    def __post_init__(self) -> None:
        if self.randomise not in RANDOMISE:
            raise ValueError(f"randomise must be one of {list(RANDOMISE)}, got {self.randomise!r}")
        if self.randomise != "none" and self.split != "train":
            raise ValueError(
                f"randomise={self.randomise!r} widens the train split; got split {self.split!r}"
            )
        checks = {
            "frames": self.frames >= 1,
            "workers": self.workers >= 1,
            "shard_size": self.shard_size >= 1,
            "every": self.every >= 1,
            "seed": self.seed >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"{name} must be >= {0 if name == 'seed' else 1}, got {getattr(self, name)!r}"
                )
        for name in ("noise", "random_action_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CollectConfig:
        """Builds a config from a plain dict; unknown keys or bad values raise ``ValueError``."""
        return from_mapping(cls, data, what="collect config")


@dataclass
class Dataset:
    """A loaded perception dataset (all shards concatenated).

    Attributes:
        frames: ``uint8`` array ``(N, H, W, C)``.
        labels: ``float32`` array ``(N, L)`` in the units of ``label_units``.
        episodes: ``int64`` array ``(N,)``: globally unique episode id of each frame.
        label_names: Names of the ``L`` label columns.
        label_units: Unit of each label.
        metadata: The dataset's ``metadata.json`` (for several folders, the first one's
            with ``sources`` listing all).
    """

    frames: np.ndarray
    labels: np.ndarray
    episodes: np.ndarray
    label_names: list[str]
    label_units: list[str]
    metadata: dict[str, Any]

    def __len__(self) -> int:
        return len(self.frames)


def randomised_distribution(space: Any) -> tuple[dict[str, Any], list[str]]:
    """The ``--randomise visual`` distribution of a scenario space, and its visual params.

    The visual parameters are those :data:`VISUAL_SPLIT` changes. Each keeps ``train``'s
    value set, widened as follows, never reaching a value of any held-out split:

    * categorical (colours): ``train``'s choices only (no held-out colour is ever drawn);
    * continuous (contrast, brightness, noise, blur): from the space's bound on the far
      side of the held-out range up to :data:`HELDOUT_MARGIN` of the span short of it,
      so the range covers ``train``'s and extends away from the held-out values but never
      brackets them (the held-out range stays outside, not inside, what is practised).

    Args:
        space: A :class:`envs.scenarios.ScenarioSpace` with a :data:`VISUAL_SPLIT` split.

    Returns:
        ``(distribution dict for set_distribution, visual parameter names)``.

    Raises:
        ValueError: The space has no :data:`VISUAL_SPLIT` split.
    """
    if VISUAL_SPLIT not in space.split_names:
        raise ValueError(
            f"randomised collection needs a {VISUAL_SPLIT!r} split; this env has "
            f"{space.split_names}"
        )
    train = space.distribution("train").to_dict()
    visual_split = space.distribution(VISUAL_SPLIT).to_dict()
    visual = [k for k, v in visual_split.items() if v != train[k]]
    heldout = [space.distribution(s).to_dict() for s in space.heldout_splits]
    dist = dict(train)
    for name in visual:
        from envs.scenarios import Continuous

        param = space.param(name)
        if not isinstance(param, Continuous):
            continue  # categorical (and integer): train's values only
        low_t, high_t = _bounds(train[name])
        low, high = float(param.low), float(param.high)
        margin = HELDOUT_MARGIN * (high - low)
        for other in heldout:
            if other[name] == train[name]:
                continue
            low_h, high_h = _bounds(other[name])
            if high_h <= low_t:  # held out below train: stay above it
                low = max(low, high_h + margin)
            elif low_h >= high_t:  # held out above train: stay below it
                high = min(high, low_h - margin)
            else:  # overlapping: keep train's range
                low, high = max(low, low_t), min(high, high_t)
        dist[name] = [min(low, low_t), max(high, high_t)]
    return dist, visual


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _bounds(value: Any) -> tuple[float, float]:
    if isinstance(value, list) and _numeric(value):
        return float(min(value)), float(max(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    return float("nan"), float("nan")


def _distribution(cfg: CollectConfig) -> dict[str, Any] | None:
    """The distribution dict ``cfg`` collects from (``None``: the split as it is)."""
    if cfg.randomise == "none":
        return None
    import envs

    made = envs.make(cfg.env, **dict(cfg.env_kwargs))
    try:
        return randomised_distribution(made.unwrapped.scenario_space)[0]
    finally:
        made.close()


def _visual_names(env: Any) -> list[str]:
    space = getattr(env, "scenario_space", None)
    if space is None or VISUAL_SPLIT not in space.split_names:
        return []
    return randomised_distribution(space)[1]


def _summarise(scenarios: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """``{param: [min, max]}`` (numbers) or sorted values (categories) over ``scenarios``."""
    out: dict[str, Any] = {}
    for name in names:
        values = [sc[name] for sc in scenarios]
        if values and _numeric(values):
            out[name] = [float(min(values)), float(max(values))]
        else:
            out[name] = sorted({str(v) for v in values})
    return out


def _merge_seen(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for name, value in part.items():
            if name not in out:
                out[name] = list(value)
            elif value and isinstance(value[0], float):
                out[name] = [min(out[name][0], value[0]), max(out[name][1], value[1])]
            else:
                out[name] = sorted(set(out[name]) | set(value))
    return out


# ---------------------------------------------------------------- rendering


def _hooks(env: Any, env_name: str) -> tuple[Any, Any, dict[str, str]]:
    base = env.unwrapped
    missing = [h for h in ("perception_frame", "perception_labels") if not hasattr(base, h)]
    if missing:
        raise ValueError(
            f"env {env_name!r} ({type(base).__name__}) lacks the perception hooks {missing}; "
            "perception needs envs implementing perception_frame() and perception_labels() "
            "(driving, robot-reach, robot-push)"
        )
    units = dict(getattr(type(base), "perception_label_units", {}) or {})
    return base.perception_frame, base.perception_labels, units


class _NoisyExpert:
    """The env's scripted expert (or random actions when it has none) plus noise."""

    def __init__(self, env: Any, env_name: str, rng: np.random.Generator, cfg: CollectConfig):
        import envs

        self.space = env.action_space
        self.rng = rng
        self.cfg = cfg
        try:
            self.expert = envs.make_expert(env_name, env)
        except ValueError:
            self.expert = None
        self.scale = 0.0
        self.space.seed(int(rng.integers(2**31 - 1)))
        if isinstance(self.space, spaces.Box):
            finite = np.isfinite(self.space.low) & np.isfinite(self.space.high)
            self._low = np.where(finite, self.space.low, -1.0)
            self._high = np.where(finite, self.space.high, 1.0)
            self._half = (self._high - self._low) / 2

    def new_episode(self) -> None:
        self.scale = float(self.rng.uniform(0.0, self.cfg.noise))

    def _random(self) -> Any:
        space = self.space
        if isinstance(space, spaces.Box):
            return self.rng.uniform(self._low, self._high).astype(space.dtype)
        if isinstance(space, spaces.Discrete):
            return int(space.start + self.rng.integers(space.n))
        return space.sample()

    def act(self, obs: Any) -> Any:
        if self.expert is None or self.rng.random() < self.cfg.random_action_prob:
            return self._random()
        action, _ = self.expert.predict(obs, deterministic=True)
        space = self.space
        if isinstance(space, spaces.Box):
            noisy = self.rng.normal(0.0, self.scale, size=space.shape) * self._half
            noisy += action
            return noisy.clip(space.low, space.high).astype(space.dtype)
        if self.rng.random() < self.scale:
            return self._random()
        return action


def _walk(env: Any, cfg: CollectConfig, n: int, rng: np.random.Generator) -> Iterator[int]:
    """Drives ``env`` with the noisy expert; yields the episode index at each of ``n`` samples.

    The caller reads the env's hooks at each yield (after a reset or a step).
    """
    policy = _NoisyExpert(env, cfg.env, rng, cfg)
    count, episode, step = 0, -1, 0
    done = True
    obs = None
    while count < n:
        if done:
            obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
            policy.new_episode()
            episode += 1
            step = 0
            done = False
        else:
            obs, _, terminated, truncated, _ = env.step(policy.act(obs))
            done = terminated or truncated
            step += 1
        if step % cfg.every:
            continue
        yield episode
        count += 1


def render_frames(
    cfg: CollectConfig,
    n_frames: int,
    seed: np.random.SeedSequence | int,
    seen: list[dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, str]]:
    """Renders ``n_frames`` frames and labels in this process.

    Args:
        cfg: Collection config (env, split, noise, ...).
        n_frames: How many frames to render.
        seed: Seed of this run (an int or a ``SeedSequence``).
        seen: When given, receives one dict: the range (numbers) or set (categories) of
            each visual parameter over the episodes rendered.

    Returns:
        ``(frames, labels, episodes, label_names, label_units)``; ``episodes`` counts
        episodes from 0 within this call.

    Raises:
        ValueError: The env lacks the perception hooks or its hooks return bad data.
    """
    import envs

    rng = np.random.default_rng(seed)
    if _has_batched_hooks(cfg.env):
        return _render_frames_batched(cfg, n_frames, rng, seen)
    env = envs.make(cfg.env, split=cfg.split, **dict(cfg.env_kwargs))
    scenarios: list[dict[str, Any]] = []
    try:
        frame_fn, label_fn, units = _hooks(env, cfg.env)
        dist = _distribution(cfg)
        if dist is not None:
            env.unwrapped.set_distribution(dist)
        frames: np.ndarray | None = None
        labels = np.empty((n_frames, 0), dtype=np.float32)
        episodes = np.empty(n_frames, dtype=np.int64)
        names: list[str] = []
        for count, episode in enumerate(_walk(env, cfg, n_frames, rng)):
            if episode == len(scenarios) and hasattr(env.unwrapped, "scenario"):
                scenarios.append(dict(env.unwrapped.scenario))
            frame = np.asarray(frame_fn())
            values = label_fn()
            if frames is None:
                if frame.dtype != np.uint8 or frame.ndim != 3:
                    raise ValueError(
                        f"{cfg.env}: perception_frame() must return a uint8 HxWxC image, got "
                        f"dtype {frame.dtype} shape {frame.shape}"
                    )
                names = list(values)
                if not names:
                    raise ValueError(f"{cfg.env}: perception_labels() returned no labels")
                frames = np.empty((n_frames, *frame.shape), dtype=np.uint8)
                labels = np.empty((n_frames, len(names)), dtype=np.float32)
            elif list(values) != names:
                raise ValueError(
                    f"{cfg.env}: perception_labels() keys changed from {names} to {list(values)}"
                )
            frames[count] = frame
            labels[count] = [float(values[k]) for k in names]
            episodes[count] = episode
        unit_map = {k: str(units.get(k, "")) for k in names}
        assert frames is not None
        if seen is not None:
            seen.append(_summarise(scenarios, _visual_names(env.unwrapped)))
        return frames, labels, episodes, names, unit_map
    finally:
        env.close()


#: Worlds of the native batch that render side by side during collection.
BATCH_WORLDS = 64


def _has_batched_hooks(env_name: str) -> bool:
    """Whether ``env_name`` has a native batch with batched perception hooks and world views.

    Such an env (driving) collects through one vector env: every world is driven by its
    own noisy expert (through ``world(k)``) and all frames of a step are drawn in one call.
    """
    import envs
    from envs.registry import _load

    entry = envs.resolve(env_name).vector_entry_point
    if entry is None:
        return False
    cls = _load(entry)
    return all(hasattr(cls, h) for h in ("perception_frames", "perception_labels", "world"))


def _render_frames_batched(
    cfg: CollectConfig,
    n_frames: int,
    rng: np.random.Generator,
    seen: list[dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, str]]:
    """:func:`render_frames` through the env's native batch (see :func:`_has_batched_hooks`).

    ``min(BATCH_WORLDS, n_frames)`` worlds run side by side, each with its own noisy expert
    and episode seeds drawn from ``rng``; a step records the frames of the worlds whose
    episode step is a multiple of ``cfg.every`` (a world's first frame is its reset frame,
    its last the frame its episode ended on). Episodes are numbered in the order they start.
    """
    import envs

    num = min(BATCH_WORLDS, n_frames)
    venv = envs.make_vec(cfg.env, num, split=cfg.split, **dict(cfg.env_kwargs))
    try:
        units = dict(venv.get_world_attr(0, "perception_label_units") or {})
        dist = _distribution(cfg)
        if dist is not None:
            venv.set_distribution(dist)
        policies = [_NoisyExpert(venv.world(k), cfg.env, rng, cfg) for k in range(num)]
        seeds = [int(s) for s in rng.integers(2**31 - 1, size=num)]
        obs, _ = venv.reset(seed=seeds)
        scenarios = [dict(venv.get_world_attr(k, "scenario")) for k in range(num)]
        for policy in policies:
            policy.new_episode()
        episode = np.arange(num)
        started = num
        step = np.zeros(num, dtype=np.int64)
        frames = labels = None
        names: list[str] = []
        episodes = np.empty(n_frames, dtype=np.int64)
        count = 0
        ended = np.zeros(num, dtype=bool)
        while True:
            take = np.flatnonzero(step % cfg.every == 0)[: n_frames - count]
            if len(take):
                batch = venv.perception_frames()[take]
                values = venv.perception_labels()
                if frames is None:
                    names = list(values)
                    frames = np.empty((n_frames, *batch.shape[1:]), dtype=np.uint8)
                    labels = np.empty((n_frames, len(names)), dtype=np.float32)
                assert labels is not None
                rows = slice(count, count + len(take))
                frames[rows] = batch
                labels[rows] = np.stack([np.asarray(values[k])[take] for k in names], axis=1)
                episodes[rows] = episode[take]
                count += len(take)
            if count >= n_frames:
                break
            actions = [policy.act(o) for policy, o in zip(policies, obs, strict=True)]
            obs, _, terminated, truncated, _ = venv.step(np.asarray(actions))
            # NEXT_STEP autoreset: a world that ended last step was reset by this one.
            step += 1
            for k in np.flatnonzero(ended).tolist():
                step[k], episode[k] = 0, started
                started += 1
                policies[k].new_episode()
                scenarios.append(dict(venv.get_world_attr(k, "scenario")))
            ended = terminated | truncated
        assert frames is not None and labels is not None
        if seen is not None:
            seen.append(_summarise(scenarios, _visual_names(venv)))
        return frames, labels, episodes, names, {k: str(units.get(k, "")) for k in names}
    finally:
        venv.close()


def render_texts(
    cfg: CollectConfig, n: int, seed: np.random.SeedSequence | int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renders ``n`` utterances and their semantics in this process (text hooks).

    Returns:
        ``(texts, semantics, episodes)``: unicode arrays (no pickle needed to store
        them) and episode indices counted from 0 within this call.

    Raises:
        ValueError: The env lacks the text hooks.
    """
    import envs

    rng = np.random.default_rng(seed)
    env = envs.make(cfg.env, split=cfg.split, **dict(cfg.env_kwargs))
    try:
        base = env.unwrapped
        if not all(hasattr(base, h) for h in TEXT_HOOKS):
            raise ValueError(f"env {cfg.env!r} lacks the text perception hooks {list(TEXT_HOOKS)}")
        texts: list[str] = []
        sems: list[str] = []
        episodes = np.empty(n, dtype=np.int64)
        for count, episode in enumerate(_walk(env, cfg, n, rng)):
            texts.append(base.perception_text())
            sems.append(base.perception_semantics())
            episodes[count] = episode
        return np.asarray(texts, dtype=str), np.asarray(sems, dtype=str), episodes
    finally:
        env.close()


def dataset_kind(env: str, env_kwargs: Mapping[str, Any] | None = None) -> str:
    """``"text"`` for envs with only the text hooks, else ``"frames"``."""
    import envs

    made = envs.make(env, **dict(env_kwargs or {}))
    try:
        base = made.unwrapped
        has_text = all(hasattr(base, h) for h in TEXT_HOOKS)
        return "text" if has_text and not hasattr(base, "perception_frame") else "frames"
    finally:
        made.close()


def _shard_plan(cfg: CollectConfig) -> list[tuple[int, int, np.random.SeedSequence]]:
    n_shards = math.ceil(cfg.frames / cfg.shard_size)
    seeds = np.random.SeedSequence(cfg.seed).spawn(n_shards)
    sizes = [min(cfg.shard_size, cfg.frames - i * cfg.shard_size) for i in range(n_shards)]
    return [(i, sizes[i], seeds[i]) for i in range(n_shards)]


def _render_task(
    task: tuple[CollectConfig, int, int, np.random.SeedSequence, str | None, str],
) -> dict[str, Any]:
    cfg, index, size, seed, out_dir, kind = task
    arrays: dict[str, np.ndarray]
    if kind == "text":
        texts, sems, episodes = render_texts(cfg, size, seed)
        arrays = {"texts": texts, "semantics": sems}
        result: dict[str, Any] = {"index": index, "names": [], "units": {}, "n": size}
    else:
        seen: list[dict[str, Any]] = []
        frames, labels, episodes, names, units = render_frames(cfg, size, seed, seen)
        arrays = {"frames": frames, "labels": labels}
        result = {"index": index, "names": names, "units": units, "n": size, "seen": seen[0]}
        result["frame_shape"] = list(frames.shape[1:])
    arrays["episodes"] = episodes + index * EPISODE_STRIDE
    if out_dir is None:
        result.update(arrays)
    else:
        name = f"shard-{index:05d}.npz"
        np.savez_compressed(Path(out_dir) / name, **arrays)
        result["file"] = name
    return result


def _run_tasks(
    cfg: CollectConfig, out_dir: str | None, progress: bool, desc: str, kind: str = "frames"
) -> Iterator[dict[str, Any]]:
    tasks = [(cfg, i, n, s, out_dir, kind) for i, n, s in _shard_plan(cfg)]
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.frames, desc=desc, unit="frame", disable=not progress)
    try:
        if cfg.workers == 1 or len(tasks) == 1:
            for task in tasks:
                result = _render_task(task)
                bar.update(result["n"])
                yield result
            return
        # fork keeps envs registered at run time (tests, notebooks) visible in workers.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(min(cfg.workers, len(tasks))) as pool:
            for result in pool.imap(_render_task, tasks):
                bar.update(result["n"])
                yield result
    finally:
        bar.close()


def _check_consistent(results: Sequence[dict[str, Any]]) -> None:
    first = results[0]
    for r in results[1:]:
        if r["names"] != first["names"]:
            raise ValueError(f"label names differ between shards: {first['names']} vs {r['names']}")


def collect(
    cfg: CollectConfig, out: str | os.PathLike, *, overwrite: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Renders a dataset into folder ``out`` and returns its metadata.

    Shards are written into ``<out>.partial`` and the folder is renamed to ``out`` only
    when complete, so an interrupted run never leaves a half dataset under ``out``.

    Args:
        cfg: What to collect.
        out: Dataset folder to create.
        overwrite: Replace an existing dataset at ``out`` (only a folder holding a
            ``metadata.json`` is ever removed).
        progress: Show a tqdm progress bar.

    Raises:
        FileExistsError: ``out`` exists (and ``overwrite`` is false, or it is not a dataset).
        ValueError: Bad env, split or hooks.
    """
    import envs

    out = Path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError(
                f"{out} already exists; refusing to overwrite it (pass --overwrite to replace "
                "a dataset, or choose another --out)"
            )
        if not (out / METADATA_FILE).is_file():
            raise FileExistsError(f"{out} exists and is not a perception dataset; not removing it")
    spec = envs.resolve(cfg.env)
    _check_split(cfg.env, cfg.split, cfg.env_kwargs)
    kind = dataset_kind(cfg.env, cfg.env_kwargs)
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    start = time.perf_counter()
    try:
        desc = f"collect {cfg.env}/{cfg.split}"
        results = list(_run_tasks(cfg, str(partial), progress, desc, kind))
        _check_consistent(results)
        seconds = time.perf_counter() - start
        meta = {
            "format": DATASET_FORMAT,
            "kind": kind,
            "env": spec.name,
            "env_id": spec.env_id,
            "split": cfg.split,
            "seed": cfg.seed,
            "config": {k: v for k, v in asdict(cfg).items() if k != "workers"},
            "frames": cfg.frames,
            "frame_shape": results[0].get("frame_shape", []),
            "label_names": results[0]["names"],
            "label_units": [results[0]["units"][k] for k in results[0]["names"]],
            "shards": [
                {
                    "file": r["file"],
                    "frames": r["n"],
                    "seed_entropy": str(seed.entropy),
                    "seed_spawn_key": list(seed.spawn_key),
                }
                for r, (_, _, seed) in zip(results, _shard_plan(cfg), strict=True)
            ],
            "randomise": cfg.randomise,
            "distribution": _distribution(cfg),
            "visual_seen": _merge_seen([r["seen"] for r in results if "seen" in r]),
            "collect_seconds": round(seconds, 3),
            "frames_per_second": round(cfg.frames / seconds, 1),
            "workers": cfg.workers,
        }
        (partial / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return meta


def render_in_memory(cfg: CollectConfig, *, progress: bool = False) -> Dataset:
    """Renders ``cfg.frames`` frames into memory (used by evaluation); nothing is written."""
    _check_split(cfg.env, cfg.split, cfg.env_kwargs)
    results = list(_run_tasks(cfg, None, progress, f"render {cfg.env}/{cfg.split}"))
    _check_consistent(results)
    first = results[0]
    return Dataset(
        frames=np.concatenate([r["frames"] for r in results]),
        labels=np.concatenate([r["labels"] for r in results]),
        episodes=np.concatenate([r["episodes"] for r in results]),
        label_names=first["names"],
        label_units=[first["units"][k] for k in first["names"]],
        metadata={"env": cfg.env, "split": cfg.split, "seed": cfg.seed, "frames": cfg.frames},
    )


def env_splits(env: str, env_kwargs: Mapping[str, Any] | None = None) -> list[str]:
    """The split names of env ``env`` (``train`` first, then the held-out ones)."""
    import envs

    made = envs.make(env, **dict(env_kwargs or {}))
    try:
        space = getattr(made.unwrapped, "scenario_space", None)
        if space is None:
            raise ValueError(f"env {env!r} is not a practicegym ScenarioEnv (no scenario_space)")
        return list(space.split_names)
    finally:
        made.close()


def evaluation_configs(
    env: str | None,
    model_meta: Mapping[str, Any],
    model_dir: str | os.PathLike,
    *,
    splits: Sequence[str] | None,
    frames: int,
    seed: int,
    workers: int,
    env_kwargs: Mapping[str, Any] | None,
) -> list[CollectConfig]:
    """One fresh-data :class:`CollectConfig` per split to evaluate a perception model on.

    Args:
        env: Env short name; ``None`` takes the model's.
        model_meta: The model's ``model.json`` contents.
        model_dir: The model folder, for error messages.
        splits: Splits to evaluate (``None``: all of the env's).
        frames: Frames (or utterances) per split.
        seed: Collection seed, the same for every split.
        workers: Collection worker processes.
        env_kwargs: Extra ``envs.make`` kwargs.

    Raises:
        ValueError: No env known, or a split the env does not have.
    """
    env = env or model_meta.get("env")
    if not env:
        raise ValueError(f"{model_dir}: model.json names no env; pass --env")
    all_splits = env_splits(env, env_kwargs)
    chosen = list(splits) if splits else all_splits
    unknown = [s for s in chosen if s not in all_splits]
    if unknown:
        raise ValueError(f"unknown splits {unknown} for env {env!r}; valid: {all_splits}")
    return [
        CollectConfig(
            env=env,
            split=split,
            frames=frames,
            seed=seed,
            workers=workers,
            shard_size=max(1, -(-frames // workers)),
            env_kwargs=dict(env_kwargs or {}),
        )
        for split in chosen
    ]


def _check_split(env: str, split: str, env_kwargs: Mapping[str, Any]) -> None:
    valid = env_splits(env, env_kwargs)
    if split not in valid:
        raise ValueError(f"unknown split {split!r} for env {env!r}; valid: {valid}")


# ------------------------------------------------------------------ loading


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Reads and checks a dataset folder's ``metadata.json``.

    Raises:
        ValueError: ``path`` is not a dataset folder or its metadata is malformed.
    """
    path = Path(path)
    meta_path = path / METADATA_FILE
    if not path.is_dir():
        raise ValueError(f"dataset folder {path} does not exist")
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a perception dataset (no {METADATA_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
        raise ValueError(f"{meta_path}: format must be {DATASET_FORMAT!r}")
    required = ["env", "split", "shards"]
    if meta.get("kind", "frames") == "frames":
        required += ["label_names", "label_units", "frame_shape"]
    missing = [k for k in required if k not in meta]
    if missing:
        raise ValueError(f"{meta_path} lacks keys {missing}")
    return meta


def load_dataset(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> Dataset:
    """Loads one or more dataset folders (same env, labels and frame shape) into memory.

    Raises:
        ValueError: A folder is missing, malformed, or incompatible with the first one.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError("no dataset folder given")
    frames, labels, episodes = [], [], []
    first: dict[str, Any] | None = None
    for k, path in enumerate(paths):
        meta = read_metadata(path)
        if first is None:
            first = meta
        else:
            for key in ("label_names", "frame_shape"):
                if meta[key] != first[key]:
                    raise ValueError(
                        f"dataset {path} has {key} {meta[key]}, but {paths[0]} has {first[key]}"
                    )
        for shard in meta["shards"]:
            file = Path(path) / shard["file"]
            try:
                with np.load(file, allow_pickle=False) as data:
                    f, lab, ep = data["frames"], data["labels"], data["episodes"]
            except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
                raise ValueError(f"cannot read shard {file}: {type(err).__name__}: {err}") from None
            if list(f.shape[1:]) != list(meta["frame_shape"]) or lab.shape != (
                len(f),
                len(meta["label_names"]),
            ):
                raise ValueError(f"shard {file} has shapes that disagree with its metadata")
            frames.append(f)
            labels.append(lab.astype(np.float32))
            # Keep episode ids unique across folders.
            episodes.append(ep.astype(np.int64) + k * EPISODE_STRIDE * 100_000)
    assert first is not None
    meta = dict(first)
    meta["sources"] = [str(p) for p in paths]
    return Dataset(
        frames=np.concatenate(frames),
        labels=np.concatenate(labels),
        episodes=np.concatenate(episodes),
        label_names=list(first["label_names"]),
        label_units=list(first["label_units"]),
        metadata=meta,
    )
