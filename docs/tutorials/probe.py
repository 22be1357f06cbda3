"""Tutorial: probe where a policy breaks, on a map and by adversarial search.

Run from the repository root::

    python docs/tutorials/probe.py                       # the driving expert
    python docs/tutorials/probe.py --policy runs/driving/ppo-0-...   # a trained run
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agents.probe import cli as probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="expert", help="run folder, 'expert' or 'random'")
    parser.add_argument("--env", default="driving", help="env (for 'expert' and 'random')")
    parser.add_argument("--grid", default="4x4", help="map cells per axis")
    parser.add_argument("--episodes", type=int, default=4, help="episodes per map cell")
    parser.add_argument("--budget", type=int, default=40, help="episodes of the search")
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial-probe"), help="output")
    args = parser.parse_args(argv)
    env = ["--env", args.env] if args.policy in ("expert", "random") else []

    # 1. A map: success over two scenario parameters, the others drawn from `train`, the
    #    same episode seeds in every cell (common random numbers). The PNG outlines the
    #    train region and marks each held-out split that differs on these axes.
    map_dir = args.out / "map"
    grid = ["--grid", args.grid, "--episodes", str(args.episodes)]
    axes = ["--axes", "curvature", "friction"]
    code = probe.main([args.policy, "map", *env, *axes, *grid, "--out", str(map_dir)])
    if code:
        return code
    cells = json.loads((map_dir / "map.json").read_text())
    print("map axes:", [axis["name"] for axis in cells["axes"]], "->", map_dir / "map.png")

    # 2. An adversarial search over the whole scenario space (and the episode seed) for
    #    failures, beside random sampling at the same budget. Each failure replays with
    #    `python -m agents.enjoy RUN --scenario failures.json#N`.
    search_dir = args.out / "search"
    search = ["--budget", str(args.budget), "--bounds", "space", "--out", str(search_dir)]
    code = probe.main([args.policy, "adversarial", *env, *search, "--no-progress"])
    if code:
        return code
    failures = json.loads((search_dir / "failures.json").read_text())
    print(f"{len(failures['failures'])} failures found; the worst:", failures["failures"][:1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
