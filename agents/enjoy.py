"""Watch or record a trained agent: ``python -m agents.enjoy RUN_DIR [--episodes N]``.

Plays episodes of the run's env (same ``env_kwargs``) with the trained policy, printing
return and success per episode. ``--record out.gif`` saves the first episode's frames
(``.mp4`` too when ``imageio[ffmpeg]`` or ``imageio[pyav]`` is installed); for
text-rendered envs (``ansi``) it saves a transcript instead. A suffix that cannot be
written exits with code 2 before any episode is played.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents import episodes, runs
from agents.cli_types import UsageError, cli_main, positive_int, seed_int

__all__ = ["VIDEO_SUFFIXES", "build_parser", "check_video_path", "main", "play_episode"]

PROG = "python -m agents.enjoy"

# Video formats --record writes for image-rendered envs (.mp4 needs an imageio backend).
VIDEO_SUFFIXES = (".gif", ".mp4")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--help`` documents every flag."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Play (and optionally record) a trained agent from a run folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="run folder of agents.train, or pretrained:NAME for a shipped agent",
    )
    p.add_argument("--episodes", type=positive_int, default=3, help="episodes to play")
    p.add_argument("--split", default="train", help="scenario split to play on")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the first episode")
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="save the first episode: .gif/.mp4 for image-rendered envs, any name (e.g. "
        ".txt) for a transcript of text-rendered envs",
    )
    p.add_argument(
        "--checkpoint", action="store_true", help="use the latest checkpoint, not model.zip"
    )
    p.add_argument(
        "--stochastic", action="store_true", help="sample actions instead of the greedy action"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="torch device")
    p.add_argument(
        "--scenario",
        metavar="FILE#N",
        help="replay failure N (0-based) of a failures.json of 'python -m agents.probe RUN "
        "adversarial': its scenario and seed (the seed replaces --seed)",
    )
    return p


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """Runs the CLI in-process; returns the exit code (see :mod:`agents.cli_types`)."""
    args = build_parser().parse_args(argv)
    try:
        info = runs.load_run(args.run_dir)
        policy = runs.load_policy(info.path, device=args.device, checkpoint=args.checkpoint)
        options, args.seed = _forced(args, info)
        env = _make(info, args.split, record=args.record is not None)
        try:
            if options is not None:
                env.unwrapped.scenario_space.validate(options["scenario"], partial=True)
            if args.record is not None and env.render_mode == "rgb_array":
                check_video_path(args.record)
        except ValueError:
            env.close()
            raise
    except ValueError as err:
        raise UsageError(err) from None
    for episode in range(args.episodes):
        frames, total, success = play_episode(
            env, policy, args.seed + episode, not args.stochastic, options
        )
        print(f"episode {episode}: return {total:.3f}, success {success}")
        if episode == 0 and args.record is not None:
            _save(args.record, frames, env)
            print(f"recorded: {args.record}")
    env.close()
    return 0


def _forced(args: argparse.Namespace, info: runs.RunInfo) -> tuple[dict | None, int]:
    """Reset options and first seed: a saved failure's with ``--scenario``, else none."""
    if args.scenario is None:
        return None, args.seed
    from agents.probe.search import load_failure

    failure = load_failure(args.scenario)
    if envs.resolve(failure.env).name != envs.resolve(info.env).name:
        raise ValueError(
            f"--scenario {args.scenario!r} is from env {failure.env!r}, not {info.env!r}"
        )
    return {"scenario": failure.scenario}, failure.seed


def _make(info: runs.RunInfo, split: str, *, record: bool) -> Any:
    runs.import_env_module(info.config.get("env_module"), run_dir=info.path)
    env = envs.make(info.env, split=split, **info.env_kwargs)
    modes = env.metadata.get("render_modes", [])
    if not record:
        return env
    env.close()
    mode = "rgb_array" if "rgb_array" in modes else "ansi" if "ansi" in modes else None
    if mode is None:
        raise ValueError(f"env {info.env!r} renders neither rgb_array nor ansi; cannot record")
    return envs.make(info.env, split=split, render_mode=mode, **info.env_kwargs)


def check_video_path(path: Path) -> None:
    """Raises ValueError unless ``path`` has a video suffix this install can write."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(
            f"--record {str(path)!r}: cannot write {suffix or 'a file without suffix'!r} "
            f"videos; use one of {', '.join(VIDEO_SUFFIXES)}"
        )
    if suffix == ".mp4" and not any(importlib.util.find_spec(m) for m in ("imageio_ffmpeg", "av")):
        raise ValueError(
            f"--record {str(path)!r}: .mp4 needs imageio's ffmpeg or pyav backend "
            "(pip install 'imageio[ffmpeg]'); use .gif, which always works"
        )
    if not path.resolve().parent.is_dir():
        raise ValueError(f"--record {str(path)!r}: folder {str(path.parent)!r} does not exist")


def play_episode(
    env: Any,
    policy: Any,
    seed: int,
    deterministic: bool = True,
    options: dict[str, Any] | None = None,
) -> tuple[list, float, bool]:
    """Plays one episode from ``env.reset(seed=seed, options=options)``.

    Returns the rendered frames (empty unless the env has a ``render_mode``), the return
    and ``info["is_success"]`` (:func:`agents.episodes.play_episode` does the playing).
    """
    episode = episodes.play_episode(
        env,
        policy,
        seed=seed,
        options=options,
        deterministic=deterministic,
        render=env.render_mode is not None,
    )
    return episode.frames, episode.ret, episode.success


def _save(path: Path, frames: list, env: Any) -> None:
    from agents.artifacts import text_deltas, write_video

    if env.render_mode == "ansi":
        runs.atomic_write(path, "\n".join(text_deltas(frames)) + "\n")
    else:
        fps = int(env.metadata.get("render_fps", 10) or 10)
        write_video(path, [np.asarray(f, dtype=np.uint8) for f in frames], fps)


if __name__ == "__main__":
    sys.exit(main())
