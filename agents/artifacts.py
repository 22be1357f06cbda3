"""What a finished run leaves besides the model: the transfer table, learning curve and video.

:func:`finish` evaluates the trained policy on ``train`` and every held-out split
(``agents.evaluation.evaluate_transfer``), prints the table, saves it under ``eval/``,
plots ``learning_curve.png`` from the Monitor CSVs and records one evaluation episode
as ``episode.gif`` (``rgb_array`` envs) or ``transcript.txt`` (``ansi`` envs).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents import runs
from agents.config import TrainConfig

__all__ = [
    "finish",
    "learning_curve",
    "record_episode",
    "short_table",
    "text_deltas",
    "write_video",
]


def finish(run_dir: Path, config: TrainConfig, policy: Any, *, progress: bool = True) -> None:
    """Evaluates, prints the table, and writes the curve and the episode recording."""
    from agents.evaluation import EVAL_SEED, evaluate_transfer

    report = evaluate_transfer(
        policy,
        config.env,
        episodes=config.run.eval_episodes,
        seed=EVAL_SEED,  # as agents.evaluate: one model, one number
        env_kwargs=config.env_kwargs or None,
        n_workers=config.run.eval_workers,
        progress=progress,
    )
    report.save(run_dir / "eval")
    print(short_table(report))
    print(f"full transfer report: {run_dir / 'eval' / 'report.md'}")
    learning_curve(run_dir / "monitor", run_dir / "learning_curve.png", title=_title(config))
    if config.run.record_video:
        path = record_episode(policy, config, run_dir, seed=config.seed + 777)
        if path is not None:
            print(f"recorded one evaluation episode: {path}")


def short_table(report: Any) -> str:
    """Markdown table of success and return (95% intervals) per split of a TransferReport."""
    summary = report.summary()
    lines = ["| split | episodes | success | return |", "| --- | --- | --- | --- |"]
    for split, result in report.splits.items():
        success, ret = summary[split]["success"].format(), summary[split]["return"].format()
        lines.append(f"| {split} | {result.episodes} | {success} | {ret} |")
    return "\n".join(lines)


def _title(config: TrainConfig) -> str:
    return f"{config.env} — {config.algo} seed {config.seed}"


def learning_curve(monitor_dir: Path, out: Path, *, title: str = "", window: int = 50) -> bool:
    """Plots episode return and success (rolling means) against timesteps; False if no data."""
    from stable_baselines3.common.monitor import LoadMonitorResultsError, load_results

    try:
        df = load_results(str(monitor_dir))
    except LoadMonitorResultsError:  # no monitor file yet: no curve
        return False
    if df.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.cumsum(df["l"].to_numpy())
    win = max(1, min(window, len(df) // 5 or 1))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, df["r"].rolling(win, min_periods=1).mean(), color="tab:blue")
    ax.set_xlabel("timesteps")
    ax.set_ylabel(f"episode return (mean of {win})", color="tab:blue")
    if "is_success" in df:
        ax2 = ax.twinx()
        success = df["is_success"].astype(float).rolling(win, min_periods=1).mean()
        ax2.plot(steps, success, color="tab:green")
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("success rate", color="tab:green")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    runs.atomic_write(out, buf.getvalue())
    return True


def record_episode(
    policy: Any, config: TrainConfig, out_dir: Path, *, seed: int = 0, path: Path | None = None
) -> Path | None:
    """Runs one ``train`` episode; saves a GIF/MP4 (rgb_array) or a transcript (ansi).

    Returns the file written, or ``None`` when the env renders neither way.
    """
    from agents.episodes import play_episode

    spec_modes = _render_modes(config)
    if "rgb_array" in spec_modes:
        mode = "rgb_array"
    elif "ansi" in spec_modes:
        mode = "ansi"
    else:
        return None
    env = envs.make(config.env, render_mode=mode, **config.env_kwargs)
    try:
        episode = play_episode(env, policy, seed=seed, render=True, record_actions=True)
    finally:
        env.close()
    frames = episode.frames
    lines = [f"scenario: {episode.scenario}"] + [
        f"action {np.asarray(action).tolist()} -> reward {reward:+.3f}"
        for action, reward in episode.actions
    ]
    summary = f"return {episode.ret:.3f}, success {episode.success}"
    if mode == "ansi":
        target = path or out_dir / "transcript.txt"
        text = "\n".join(
            f"{line}\n{frame}" for line, frame in zip(lines, text_deltas(frames), strict=True)
        )
        runs.atomic_write(target, f"{text}\n{summary}\n")
        return target
    target = path or out_dir / "episode.gif"
    fps = int(env.metadata.get("render_fps", 10) or 10)
    write_video(target, [np.asarray(f, dtype=np.uint8) for f in frames], fps)
    return target


def text_deltas(frames: list[Any]) -> list[str]:
    """Each text frame, minus the previous one when it only appends to it (chat logs)."""
    out, previous = [], ""
    for frame in map(str, frames):
        out.append(frame[len(previous) :].lstrip("\n") if frame.startswith(previous) else frame)
        previous = frame
    return out


def _render_modes(config: TrainConfig) -> list[str]:
    env = envs.make(config.env, **config.env_kwargs)
    modes = list(env.metadata.get("render_modes", []))
    env.close()
    return modes


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Writes frames as a looping GIF, or a video for other suffixes (atomically)."""
    import imageio.v3 as iio

    def write(tmp: Path) -> None:
        if path.suffix == ".gif":
            iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
        else:
            iio.imwrite(tmp, np.stack(frames), extension=path.suffix, fps=fps)

    runs.atomic_write(path, write)
