"""One run, the body of a Ray task: ``agents.train.main`` then the transfer evaluator."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agents.sweep.spec import RunSpec

TrainFn = Callable[[list[str]], int]


class RunRejectedError(RuntimeError):
    """``agents.train`` rejected the run's arguments (exit status 2): retrying cannot help."""


def execute_run(
    spec: dict[str, Any],
    attempt_dir: str,
    evaluation: dict[str, Any],
    train_fn: TrainFn | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Trains one run with ``agents.train.main`` and evaluates it; the body of a Ray task.

    Training output goes to ``attempt_dir/train.log``. A retry continues what an earlier
    attempt of the run left (finished model or latest checkpoint). The transfer report
    is saved in the run folder (``transfer/``) and returned.

    Args:
        spec: :meth:`RunSpec.to_dict` of the run.
        attempt_dir: ``--out`` folder of this attempt (``<sweep>/runs/<run_id>/attempt-<k>``).
        evaluation: :class:`EvaluationSettings` fields.
        train_fn: The training entry point; ``None`` is ``agents.train.main`` (tests wrap it).
        device: ``--device`` for training: ``cpu`` when the task holds no GPU, ``cuda``
            when it does (``None``: the CLI's ``auto``).

    Raises:
        RuntimeError: Training exited with a non-zero status or left no run folder.
    """
    from agents.evaluation import evaluate_transfer
    from agents.runs import load_policy, load_run

    if train_fn is None:
        from agents.train import main

        train_fn = main
    run = RunSpec.from_dict(spec)
    out = Path(attempt_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (
        open(out / "train.log", "a", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        run_dir = _train(run, out, train_fn, log, device)
    train_s = time.perf_counter() - start
    info = load_run(run_dir)
    report = evaluate_transfer(
        load_policy(run_dir),
        info.env,
        splits=None if evaluation["splits"] is None else list(evaluation["splits"]),
        episodes=evaluation["episodes"],
        seed=evaluation["seed"],
        env_kwargs=info.env_kwargs,
        progress=False,
        label=run.run_id,
    )
    report.save(run_dir / "transfer")
    return {
        "run_id": run.run_id,
        "run_dir": str(run_dir),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "train_s": train_s,
        "duration_s": time.perf_counter() - start,
        "score_kind": report.score_kind,
        "scores": split_scores(report),
        "transfer": report.to_dict(),
    }


def _train(run: RunSpec, out: Path, train_fn: TrainFn, log: Any, device: str | None) -> Path:
    """Trains the run, continuing what an earlier, killed attempt left; returns the run folder.

    An earlier attempt's finished model is kept (only the evaluation is redone) unless it
    was trained to a smaller budget than the run's (an extended sweep); that model's final
    checkpoint, or an unfinished attempt's latest one, is continued with
    ``agents.train --resume RUN --timesteps BUDGET``; otherwise training starts afresh
    under ``out``.
    """
    from agents.runs import MODEL, latest_checkpoint

    earlier = _earlier_run(out)
    checkpoint = None if earlier is None else latest_checkpoint(earlier)
    # A finished run's last checkpoint is its final step; one below the budget means the
    # model.zip beside it is from before an extension.
    if (
        earlier is not None
        and (earlier / MODEL).is_file()
        and (checkpoint is None or checkpoint.timesteps >= run.timesteps)
    ):
        print(f"[sweep] {earlier} holds a finished model (left by an earlier attempt); evaluating")
        return earlier
    if earlier is not None and checkpoint is not None:
        print(
            f"[sweep] resuming {earlier} from its checkpoint at {checkpoint.timesteps} steps "
            f"to {run.timesteps} (left by an earlier attempt)"
        )
        argv = ["--resume", str(earlier), "--timesteps", str(run.timesteps), "--no-progress"]
        run_dir = earlier
        if device is not None:
            argv += ["--device", device]
    else:
        argv, run_dir = run.train_argv(out, device), None
    print(f"[sweep] python -m agents.train {' '.join(argv)}")
    rc = train_fn(argv)
    if rc != 0:
        log.flush()
        tail = _tail(out / "train.log")
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        error = RunRejectedError if rc == 2 else RuntimeError
        raise error(
            f"agents.train exited with status {rc}: {last}\nend of {out / 'train.log'}:\n{tail}"
        )
    run_dir = run_dir or find_run_dir(out)
    if run_dir is None:
        raise RuntimeError(f"agents.train returned 0 but left no run folder under {out}")
    return run_dir


def _earlier_run(attempt_dir: Path) -> Path | None:
    """The newest run folder an earlier attempt of the same run left, if any."""
    siblings = (s for s in attempt_dir.parent.glob("attempt-*") if s != attempt_dir)
    return _newest(d for d in map(find_run_dir, siblings) if d is not None)


def find_run_dir(root: Path) -> Path | None:
    """The training run folder under ``root`` (the newest holding a ``config.yaml``)."""
    root = Path(root)
    if (root / "config.yaml").is_file():
        return root
    return _newest(p.parent for p in root.rglob("config.yaml") if "checkpoints" not in p.parts)


def _newest(paths: Iterable[Path]) -> Path | None:
    """The most recently modified of ``paths`` (``None`` if there are none)."""
    return max(paths, key=lambda p: p.stat().st_mtime, default=None)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def split_scores(report: Any) -> dict[str, float]:
    """Split -> the run's mean score (normalised when the env has baselines, else return)."""
    return {split: float(report.scores(split).mean()) for split in report.splits}
