"""Renders the env gallery's pictures from the envs themselves.

Run from the repository root after changing an env's looks or its expert::

    PYTHONPATH=. python docs/render_gallery.py            # every built-in env
    PYTHONPATH=. python docs/render_gallery.py driving    # one env

Outputs land in ``docs/assets/gallery/`` and are committed (the docs build does not
render, so it stays fast and needs no simulator):

- ``<env>-<split>.gif``: the scripted expert (``envs.make_expert``) in one episode on
  ``train`` and on every held-out split (``rgb_array`` envs), a few frames at low
  resolution (seed 0; robot: the longest of seeds 0-4, since reaching can take one step);
- ``<env>-birdseye.png``: the 64x64 ``birdseye`` observation under ``train`` (top row)
  and ``heldout-visual`` visuals (bottom row), for the driving envs;
- ``<env>-<split>.txt``: a transcript of the expert (``ansi`` envs: dialogue).

The text of each env page (docstring, scenario-space table) is generated at build time
by ``docs/hooks.py``; only these pictures are pre-rendered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

import envs

OUT = Path(__file__).parent / "assets" / "gallery"
SEED = 0

# Per family: most steps in one GIF, keep every k-th frame, and the spatial stride.
# Robot frames cost ~40 ms each on CPU (PyBullet's TinyRenderer): keep them few.
BUDGETS = {
    "driving": {"steps": 80, "every": 2, "stride": 2},
    "robot": {"steps": 40, "every": 1, "stride": 2, "seeds": 5},
}
HOLD = 3  # the last frame shows this many times, so a short episode's end is visible


def _family(name: str) -> str:
    return name.split("-")[0]


def _episode_seed(name: str, split: str) -> int:
    """The seed to show: ``SEED``, or the longest expert episode of ``seeds`` seeds.

    Only for families with ``seeds`` in their budget: the reach expert can finish in
    one step, which makes no picture.
    """
    budget = BUDGETS[_family(name)]
    if "seeds" not in budget:
        return SEED
    env = envs.make(name, split=split)
    expert = envs.make_expert(name, env)
    lengths = []
    for seed in range(SEED, SEED + budget["seeds"]):
        obs, _ = env.reset(seed=seed)
        length = 0
        while length < budget["steps"]:
            obs, _, terminated, truncated, _ = env.step(expert.predict(obs)[0])
            length += 1
            if terminated or truncated:
                break
        lengths.append(length)
    env.close()
    return SEED + int(np.argmax(lengths))


def _frames(name: str, split: str) -> list[np.ndarray]:
    budget = BUDGETS[_family(name)]
    env = envs.make(name, split=split, render_mode="rgb_array")
    expert = envs.make_expert(name, env)
    obs, _ = env.reset(seed=_episode_seed(name, split))
    frames = []
    for t in range(budget["steps"]):
        if t % budget["every"] == 0:
            frame = env.render()
            frames.append(frame[:: budget["stride"], :: budget["stride"]])
        action, _ = expert.predict(obs, deterministic=True)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            frames += [env.render()[:: budget["stride"], :: budget["stride"]]] * HOLD
            break
    env.close()
    return frames


def render_gif(name: str, split: str) -> Path:
    """Writes the expert's episode on ``split`` as a GIF and returns its path."""
    frames = _frames(name, split)
    fps = envs.make(name).metadata.get("render_fps", 5) / BUDGETS[_family(name)]["every"]
    path = OUT / f"{name}-{split}.gif"
    iio.imwrite(path, np.stack(frames), duration=1000 / fps, loop=0)
    return path


def render_birdseye(name: str, samples: int = 4, scale: int = 2) -> Path:
    """Writes a grid of ``birdseye`` observations: train on top, heldout-visual below."""
    rows = []
    for split in ("train", "heldout-visual"):
        env = envs.make(name, split=split, obs_type="birdseye")
        tiles = []
        for seed in range(samples):
            obs, _ = env.reset(seed=seed)
            tile = np.repeat(np.repeat(obs, scale, axis=0), scale, axis=1)
            tiles.append(np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        env.close()
        rows.append(np.concatenate(tiles, axis=1))
    path = OUT / f"{name}-birdseye.png"
    iio.imwrite(path, np.concatenate(rows, axis=0))
    return path


def render_transcript(name: str, split: str, max_turns: int = 12) -> Path:
    """Writes the expert's dialogue on ``split`` (``render_mode="ansi"``) as text."""
    env = envs.make(name, split=split, render_mode="ansi")
    expert = envs.make_expert(name, env)
    obs, info = env.reset(seed=SEED)
    for _ in range(max_turns):
        masks = env.unwrapped.action_masks()
        action, _ = expert.predict(obs, deterministic=True, action_masks=masks)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    scenario = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in info["scenario"].items()
    )
    text = f"# scenario: {scenario}\n# success: {info.get('is_success')}\n{env.render()}"
    env.close()
    path = OUT / f"{name}-{split}.txt"
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def render_env(name: str) -> list[Path]:
    """Every picture of env ``name``."""
    env = envs.make(name)
    modes = env.metadata.get("render_modes", [])
    splits = env.unwrapped.scenario_space.split_names
    obs_types = "birdseye" if _family(name) == "driving" else None
    env.close()
    paths = []
    for split in splits:
        if "rgb_array" in modes:
            paths.append(render_gif(name, split))
        elif "ansi" in modes:
            paths.append(render_transcript(name, split))
    if obs_types == "birdseye":
        paths.append(render_birdseye(name))
    return paths


def main(argv: list[str] | None = None) -> int:
    """Renders the gallery of the named envs (all built-ins by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="env short names (default: every built-in)")
    args = parser.parse_args(argv)
    names = args.names or [s.name for s in envs.iter_specs() if s.plugin is None]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        for path in render_env(name):
            print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
