"""Shared output for benchmarks: JSON + markdown table + PNG chart, with machine facts."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

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
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or ''}",
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


def median_rate(run: Callable[[], int], repeats: int) -> tuple[float, list[float]]:
    """Runs ``run`` (which returns a count of steps) ``repeats`` times; median steps/s."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


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
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    load = meta["load_average"]
    load_text = f" Load average (1/5/15 min) when written: {load}." if load else ""
    header = (
        f"# {name}\n\nMeasured {meta['date']} on {meta['machine']}, Python {meta['python']}."
        f"{load_text}\n"
        f"Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items() if v)}.\n\n"
    )
    (out / f"{name}.md").write_text(header + table + "\n")
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
