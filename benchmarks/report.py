"""What every benchmark shares: timing (wall and CPU), the --out check, and its results files.

Results are ``<name>.json`` + ``<name>.md`` (:func:`write`, atomically, with the date, the
machine, its load and the package versions) and optionally a PNG chart (:func:`bar_chart`).
Timings come from :func:`stopwatch` (wall-clock and process CPU time together: CPU time is
the fairer number on a shared machine) and :func:`step_rate` (random-action env loops).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from envs.fileio import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "practicegym",
    "gymnasium",
    "stable-baselines3",
    "numpy",
    "torch",
    "pybullet",
    "highway-env",
    "panda-gym",
)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, where ``platform.processor()``
    is empty); ``""`` when unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_name() -> str:
    """Architecture, core count and CPU model, e.g. ``x86_64, 2 cores, AMD EPYC``."""
    parts = (platform.machine(), f"{os.cpu_count()} cores", cpu_model())
    return ", ".join(part for part in parts if part)


def machine() -> dict[str, Any]:
    """Date, machine and package versions to store beside every number."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_name(),
        "python": platform.python_version(),
        "load_average": load_average(),
        "versions": versions,
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or ``None`` where the OS has none.

    Stored beside every number: other work on the machine while a benchmark ran.
    """
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


@dataclass
class Timing:
    """Seconds measured by :func:`stopwatch` (filled in when its block ends)."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Timing]:
    """Times the block: wall-clock (``perf_counter``) and this process's CPU time."""
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - wall
        timing.cpu = time.process_time() - cpu


def step_rate(env: Any, actions: Sequence[Any]) -> dict[str, float]:
    """Steps ``env`` (already reset) through ``actions``, resetting at episode ends.

    Returns:
        ``steps``, ``resets``, ``wall_s``, ``cpu_s`` and the rates ``wall_rate`` and
        ``cpu_rate`` (steps per second; resets included in the time).
    """
    resets = 0
    with stopwatch() as timing:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
                resets += 1
    steps = len(actions)
    return {
        "steps": steps,
        "resets": resets,
        "wall_s": timing.wall,
        "cpu_s": timing.cpu,
        "wall_rate": steps / timing.wall,
        "cpu_rate": steps / timing.cpu,
    }


def check_out(parser: argparse.ArgumentParser, out: Path | None) -> None:
    """A usage error (exit 2, nothing written) when ``--out`` names a file, not a folder."""
    if out is not None and out.exists() and not out.is_dir():
        parser.error(f"--out must be a folder, but {out} is a file")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return "—" if value is None else str(value)


def write(name: str, data: dict[str, Any], table: str, out: Path | None = None) -> Path:
    """Writes ``<name>.json`` and ``<name>.md`` under ``out`` (default benchmarks/results)."""
    out = out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    meta = machine()
    payload = {"benchmark": name, **meta, **data}
    atomic_write(out / f"{name}.json", json.dumps(payload, indent=2, default=str))
    load = meta["load_average"]
    load_text = f" Load average (1/5/15 min) when written: {load}." if load else ""
    header = (
        f"# {name}\n\nMeasured {meta['date']} on {meta['machine']}, Python {meta['python']}."
        f"{load_text}\n"
        f"Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items() if v)}.\n\n"
    )
    atomic_write(out / f"{name}.md", header + table + "\n")
    return out / f"{name}.json"


def bar_chart(
    path: Path,
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    xlabel: str,
    log: bool = True,
) -> None:
    """A horizontal bar chart PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1.5))
    ax.barh(list(labels), list(values), color="tab:blue")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
