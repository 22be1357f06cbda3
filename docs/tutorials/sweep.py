"""Tutorial: a sweep of runs on Ray, locally or on a cluster.

Run from the repository root (needs the ``sweep`` extra: ``pip install -e ".[sweep]"``)::

    python docs/tutorials/sweep.py                       # Ray on this machine, 2 CPUs
    python docs/tutorials/sweep.py --address auto        # on a cluster's head node
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from agents import sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="driving", help="env short name")
    parser.add_argument("--timesteps", type=int, default=10_000, help="steps per run")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per curriculum")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes a split")
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial-sweep"))
    parser.add_argument("--address", help="Ray cluster to join ('auto', 'ray://HEAD:10001')")
    args = parser.parse_args(argv)

    # 1. A sweep is a YAML file: envs x algos x curricula x seeds x `set:` overrides.
    config = {
        "name": "tutorial",
        "envs": [args.env],
        "algos": ["ppo"],
        "curricula": ["uniform", "linear"],
        "seeds": list(range(args.seeds)),
        "timesteps": args.timesteps,
        "set": {"run.eval_episodes": [2], "run.record_video": [False], "run.n_envs": [2]},
        "group_by": ["curriculum"],
        "resources": {"num_cpus": 1, "num_gpus": 0},
        "evaluation": {"episodes": args.episodes, "seed": 0},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "sweep.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))

    # 2. Run it: each run is `agents.train` in a Ray task; each finished run is evaluated
    #    on every split; the sweep ends with a grouped rliable report (report.md).
    #    Without --address Ray starts here; with one it joins that cluster.
    where = ["--address", args.address] if args.address else ["--num-cpus", "2"]
    status = sweep.main([str(path), "--out", str(args.out / "sweep"), *where, "--no-progress"])
    if status == 0:
        print((args.out / "sweep" / "report.md").read_text()[:2000])
    return status


if __name__ == "__main__":
    raise SystemExit(main())
