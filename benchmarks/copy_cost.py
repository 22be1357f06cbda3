"""Cost of copying an env mid-episode: ``copy.deepcopy`` and a ``pickle`` round trip.

What a lookahead planner pays per candidate (``examples/planner.py``), next to the cost of
one step of the same env and, for the robot envs, of moving an existing env to a snapshot
(``get_state`` / ``set_state``). Each env is made through ``envs.make`` (wrappers included),
reset with a seed and stepped 10 times; then each copy is timed alone (and closed
untimed), median of ``--repeats``, wall-clock and process CPU time. The pickle size is
that of the whole env.

Usage::

    python -m benchmarks.copy_cost             # writes benchmarks/results/copy_cost.*
    python -m benchmarks.copy_cost --repeats 3 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import envs  # noqa: E402
from agents.cli_types import positive_int  # noqa: E402
from benchmarks import report  # noqa: E402

#: (label, env name, kwargs, note)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("driving", "driving", {}, "batch-of-one arrays copied (faithful)"),
    (
        "driving-highway discrete",
        "driving-highway",
        {"action_type": "discrete"},
        "batch-of-one arrays copied (faithful)",
    ),
    ("robot-reach", "robot-reach", {}, "new PyBullet client, scene rebuilt, state restored"),
    ("robot-push", "robot-push", {}, "new PyBullet client, scene rebuilt, state restored"),
    ("dialogue", "dialogue", {}, ""),
]


def _timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median wall and CPU milliseconds of ``run`` (its result is closed untimed)."""
    wall, cpu = [], []
    for _ in range(repeats):
        with report.stopwatch() as t:
            result = run()
        cpu.append(t.cpu * 1e3)
        wall.append(t.wall * 1e3)
        if hasattr(result, "close"):
            result.close()
    return {"wall_ms": statistics.median(wall), "cpu_ms": statistics.median(cpu)}


def measure(name: str, kwargs: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Deepcopy, pickle round trip and one step of env ``name``, mid-episode."""
    env = envs.make(name, **kwargs)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(10):
            if any(env.step(env.action_space.sample())[2:4]):
                env.reset()
        payload = pickle.dumps(env)
        results = {
            "deepcopy": _timed(lambda: copy.deepcopy(env), repeats),
            "pickle_round_trip": _timed(lambda: pickle.loads(pickle.dumps(env)), repeats),
            "pickle_bytes": len(payload),
        }
        base = env.unwrapped
        if hasattr(base, "get_state") and hasattr(base, "set_state"):  # RobotEnv snapshots
            scratch = copy.deepcopy(env).unwrapped
            snapshot = base.get_state()
            results["snapshot_restore"] = _timed(
                lambda: scratch.set_state(base.get_state()), repeats
            )
            results["restore"] = _timed(lambda: scratch.set_state(snapshot), repeats)
            scratch.close()
        twin = copy.deepcopy(env)  # steps are timed on a copy: the original stays put
        action = env.action_space.sample()

        def step() -> None:
            if any(twin.step(action)[2:4]):
                twin.reset()

        results["step"] = _timed(step, max(repeats, 50))
        twin.close()
        return results
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=positive_int, default=20, help="timed copies per case (median)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    report.check_out(parser, args.out)
    load_before = os.getloadavg()
    cases = {}
    for label, name, kwargs, note in CASES:
        cases[label] = {
            "env": name,
            "kwargs": kwargs,
            "note": note,
            **measure(name, kwargs, args.repeats),
        }
        print(f"{label}: {cases[label]}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    rows = [
        [
            label,
            f"{c['deepcopy']['wall_ms']:.3g} ms",
            f"{c['deepcopy']['cpu_ms']:.3g} ms",
            f"{c['pickle_round_trip']['wall_ms']:.3g} ms",
            f"{c['pickle_round_trip']['cpu_ms']:.3g} ms",
            f"{c['pickle_bytes'] / 1024:.1f} KiB",
            f"{c['step']['cpu_ms']:.3g} ms",
            f"{c['deepcopy']['cpu_ms'] / c['step']['cpu_ms']:.1f}",
            f"{c['snapshot_restore']['cpu_ms']:.3g} ms" if "snapshot_restore" in c else "—",
            c["note"],
        ]
        for label, c in cases.items()
    ]
    table = report.markdown_table(
        [
            "env (mid-episode, via envs.make)",
            "deepcopy wall",
            "deepcopy CPU",
            "pickle round trip wall",
            "pickle round trip CPU",
            "pickle size",
            "one step CPU",
            "deepcopy / step (CPU)",
            "get_state + set_state CPU",
            "note",
        ],
        rows,
    )
    table += (
        f"\n\nMedian of {args.repeats} copies per case (steps: of {max(args.repeats, 50)}), "
        "each copy closed untimed. get_state + set_state: a snapshot of the env moved into "
        "an existing env built with the same arguments (RobotEnv; no new client). "
        "Load average (1 min) before/after: "
        f"{load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} cores: CPU time "
        "is the fairer number on a shared machine.\n"
    )
    data = {
        "repeats": args.repeats,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cases": cases,
    }
    path = report.write("copy_cost", data, table, args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
