"""The driver: :func:`run_sweep` joins or starts Ray, schedules runs, retries failures."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.sweep.config import SweepConfig, SweepConfigError, load_config
from agents.sweep.report import scores_text, transfer_reports, write_report
from agents.sweep.spec import expand
from agents.sweep.state import (
    CONFIG,
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    RunRecord,
    SweepState,
    check_new_folder,
    record_result,
)
from agents.sweep.task import RunRejectedError, TrainFn, execute_run

INSTALL_HINT = 'pip install -e ".[sweep]"'


def check_runs(config: SweepConfig) -> None:
    """Checks each distinct run's ``agents.train`` input (seeds aside) before any starts.

    A bad ``--set`` value would otherwise fail every run of the sweep one by one.

    Raises:
        SweepConfigError: A run's arguments are rejected; the message names the run.
    """
    import tempfile

    import envs
    from agents import train

    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="sweep-check-") as tmp:
        for spec in expand(config):
            # Overrides may hold lists and dicts (net_arch, env_kwargs): key on their JSON.
            fields = (spec.env, spec.algo, spec.timesteps, spec.curriculum, spec.overrides)
            key = json.dumps(fields, sort_keys=True, default=repr)
            if key in seen:
                continue
            seen.add(key)
            argv = spec.train_argv(Path(tmp) / "runs")
            try:
                train.prepare(train.build_parser().parse_args(argv))
            except (ValueError, envs.PluginError, SystemExit) as err:  # ConfigError, argparse
                raise SweepConfigError(
                    f"run {spec.run_id} is rejected by agents.train: {err}"
                ) from None


class RayMissingError(RuntimeError):
    """Ray, the optional ``sweep`` extra, is not installed."""


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        out_dir: The sweep folder.
        records: Every run's record, in sweep order.
        report: The ``report.json`` content (runs, failures, grouped report).
        interrupted: The sweep was stopped (Ctrl-C) before every run finished.
    """

    out_dir: Path
    records: tuple[RunRecord, ...]
    report: dict[str, Any]
    interrupted: bool = False

    @property
    def done(self) -> list[RunRecord]:
        """Finished runs."""
        return [r for r in self.records if r.status == DONE]

    @property
    def failed(self) -> list[RunRecord]:
        """Runs that failed every attempt."""
        return [r for r in self.records if r.status == FAILED]

    @property
    def ok(self) -> bool:
        """Every run finished."""
        return not self.interrupted and len(self.done) == len(self.records)

    def transfer_reports(self) -> dict[str, dict[str, list[Any]]]:
        """The finished runs' transfer reports by env and group (:func:`transfer_reports`)."""
        return transfer_reports(SweepState.load(self.out_dir), load_config(self.out_dir / CONFIG))


def run_sweep(
    config: SweepConfig | None,
    out_dir: str | Path,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    num_cpus: int | None = None,
    retries: int | None = None,
    resume: bool = False,
    extend: bool = False,
    progress: bool = True,
    train_fn: TrainFn | None = None,
) -> SweepResult:
    """Runs (or resumes) a sweep on Ray and writes its report.

    Args:
        config: The sweep; ``None`` with ``resume`` reads ``out_dir/sweep.yaml``.
        out_dir: The sweep folder (created; must not hold a sweep unless ``resume``).
        address: Ray cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` starts
            a local Ray (or uses the one already initialised in this process).
        max_concurrent: At most this many runs in flight (``None``: as resources allow).
        num_cpus: CPUs of the local Ray (default: all); not allowed with ``address``.
        retries: Extra attempts per run in this invocation (default: the config's).
        resume: Continue the sweep in ``out_dir``, skipping finished runs.
        extend: With ``resume``: ``config`` may raise the saved budget (``timesteps``, and
            nothing else); every run then continues to it from its final checkpoint
            (:meth:`SweepState.extend`) and is evaluated again.
        progress: Show the progress bar and one line per finished run.
        train_fn: Training entry point called in each task (default ``agents.train.main``).

    Returns:
        The records of every run and the report; failures are recorded, not raised.

    Raises:
        SweepConfigError: Bad arguments, a folder that already holds a sweep (without
            ``resume``) or that holds none (with it), a config differing from the saved one
            (other than a larger budget with ``extend``).
        RayMissingError: Ray is not installed.
    """
    if max_concurrent is not None and max_concurrent < 1:
        raise SweepConfigError(f"max_concurrent must be >= 1, got {max_concurrent}")
    if retries is not None and retries < 0:
        raise SweepConfigError(f"retries must be >= 0, got {retries}")
    if num_cpus is not None and (num_cpus < 1 or address is not None):
        raise SweepConfigError(
            "num_cpus sizes a local Ray and must be >= 1; a cluster (address) keeps its own"
        )
    if extend and (not resume or config is None):
        raise SweepConfigError("extending a sweep needs --resume DIR and the new config")
    out_dir = Path(out_dir).resolve()
    if resume:
        state = SweepState.load(out_dir)
        saved = load_config(out_dir / CONFIG)
        if extend:
            assert config is not None
            state.extend(saved, config)
        elif config is not None and config.to_dict() != saved.to_dict():
            raise SweepConfigError(
                f"the config differs from the one the sweep in {out_dir} started with "
                f"({out_dir / CONFIG}); resume without a config, start a new sweep, or add "
                "--extend if only 'timesteps' grew"
            )
        config = load_config(out_dir / CONFIG)
    elif config is None:
        raise SweepConfigError("a sweep config is required unless resuming")
    else:  # checked again on creation; this one is before Ray starts
        check_new_folder(out_dir)
        check_runs(config)
    ray = _import_ray()
    todo = state.todo() if resume else [s.run_id for s in expand(config)]
    started = _connect(ray, address, num_cpus) if todo else False
    interrupted = False
    try:
        if not resume:
            state = SweepState.create(out_dir, config)
        state.save()
        bar = _Progress(len(state.records), len(state.records) - len(todo), progress)
        if resume:
            bar.line(f"resuming {out_dir}: {len(todo)} of {len(state.records)} runs left")
        evaluation = {
            "episodes": config.evaluation.episodes,
            "splits": config.evaluation.splits,
            "seed": config.evaluation.seed,
        }
        retries = config.retries if retries is None else retries
        try:
            if todo:
                _drive(ray, state, todo, evaluation, config, retries, max_concurrent, train_fn, bar)
        except KeyboardInterrupt:
            interrupted = True
            bar.line(f"interrupted: finished runs are kept; continue with --resume {out_dir}")
        finally:
            for record in state.records.values():
                if record.status == RUNNING:
                    record.status = PENDING
            state.save()
            bar.close()
    finally:
        if started:
            ray.shutdown()
    report = write_report(state, config)
    return SweepResult(out_dir, tuple(state.records.values()), report, interrupted)


def _drive(
    ray: Any,
    state: SweepState,
    todo: list[str],
    evaluation: dict[str, Any],
    config: SweepConfig,
    retries: int,
    max_concurrent: int | None,
    train_fn: TrainFn | None,
    bar: _Progress,
) -> None:
    """Submits runs as Ray tasks, records each result as it lands, retries failures.

    Ray's own task retries are off (``max_retries=0``) so that every attempt, and why it
    failed, is recorded here. An attempt running longer than ``config.timeout_s`` is
    cancelled (its worker killed) and counts as a failure. A run whose arguments
    ``agents.train`` rejects (:class:`RunRejectedError`) is not retried.
    """
    # max_calls=1: every run gets a fresh worker process, like a command line would
    # (no state, threads or GPU memory carried over from the previous run).
    task = ray.remote(max_calls=1, max_retries=0)(execute_run).options(
        num_cpus=config.resources.num_cpus, num_gpus=config.resources.num_gpus
    )
    # Train on what the task declared: the GPU Ray assigned it, or the CPU only.
    device = "cuda" if config.resources.num_gpus > 0 else "cpu"
    queue = deque(todo)
    tries = dict.fromkeys(todo, 0)
    inflight: dict[Any, str] = {}
    deadlines: dict[Any, float] = {}
    timed_out: set[Any] = set()
    limit = max_concurrent or len(todo)
    try:
        while queue or inflight:
            while queue and len(inflight) < limit:
                run_id = queue.popleft()
                record = state.records[run_id]
                record.attempts += 1
                record.status = RUNNING
                tries[run_id] += 1
                attempt_dir = state.out_dir / "runs" / run_id / f"attempt-{record.attempts}"
                ref = task.remote(
                    record.spec.to_dict(), str(attempt_dir), evaluation, train_fn, device
                )
                inflight[ref] = run_id
                if config.timeout_s is not None:
                    deadlines[ref] = time.monotonic() + config.timeout_s
            state.save()
            wait = None
            if deadlines:
                wait = max(0.0, min(deadlines.values()) - time.monotonic())
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=wait)
            if not ready:  # a deadline passed: cancel; the ref then fails and is handled below
                now = time.monotonic()
                for ref, deadline in list(deadlines.items()):
                    if deadline <= now:
                        ray.cancel(ref, force=True)
                        timed_out.add(ref)
                        del deadlines[ref]
                continue
            for ref in ready:
                run_id = inflight.pop(ref)
                deadlines.pop(ref, None)
                record = state.records[run_id]
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:
                    reason = _describe_failure(ray, err)
                    if ref in timed_out:
                        reason = f"TimeoutError: cancelled after timeout_s={config.timeout_s} s"
                    record.errors.append(f"attempt {record.attempts}: {reason}")
                    first = reason.splitlines()[0]
                    rejected = isinstance(getattr(err, "cause", None), RunRejectedError)
                    if tries[run_id] <= retries and not rejected:
                        record.status = PENDING
                        queue.append(run_id)
                        bar.line(f"retry  {run_id} (attempt {record.attempts} failed: {first})")
                    else:
                        record.status = FAILED
                        bar.finish(f"FAILED {run_id} after {record.attempts} attempts: {first}")
                else:
                    record_result(state, record, result)
                    bar.finish(
                        f"done   {run_id} ({record.duration_s:.0f}s, attempt {record.attempts})  "
                        f"{scores_text(result['scores'])}"
                    )
                state.save()
    finally:
        for ref in inflight:
            ray.cancel(ref, force=True)


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connects to Ray; returns whether this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    import logging

    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:  # "local": always a new Ray here, never a stray `ray start` cluster
        kwargs.update(
            address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False
        )
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        if address is None:
            raise SweepConfigError(f"cannot start a local Ray: {err}") from None
        raise SweepConfigError(
            f"cannot join the Ray cluster at {address!r}: {err}. Start one with "
            "`ray start --head` and pass its address ('auto' on one of its nodes), or drop "
            "--address for a local Ray"
        ) from None
    return True


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise RayMissingError(
            f"sweeps run on Ray, which is not installed ({err}). Install the optional extra: "
            f"{INSTALL_HINT}"
        ) from err
    return ray


def _describe_failure(ray: Any, err: BaseException) -> str:
    """One readable reason for a failed attempt."""
    if isinstance(err, ray.exceptions.RayTaskError):
        cause = getattr(err, "cause", None)
        if cause is not None:
            return f"{type(cause).__name__}: {cause}"
        return str(err)
    if isinstance(err, ray.exceptions.WorkerCrashedError):
        return "WorkerCrashedError: the worker process died (killed or crashed) during the run"
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


class _Progress:
    """The overall tqdm bar plus one line per finished run."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.total = total
        self.finished = initial
        self.bar = tqdm(
            total=total,
            initial=initial,
            desc="sweep",
            unit="run",
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._tqdm = tqdm
        self.enabled = enabled

    def line(self, text: str) -> None:
        if self.enabled:
            self._tqdm.write(text)

    def finish(self, text: str) -> None:
        self.finished += 1
        self.bar.update(1)
        self.line(f"[{self.finished}/{self.total}] {text}")

    def close(self) -> None:
        self.bar.close()
