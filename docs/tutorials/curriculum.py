"""Tutorial: practise under a curriculum, on any env's scenario space.

Run from the repository root::

    python docs/tutorials/curriculum.py --timesteps 20000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import curricula
import envs
from agents import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="driving", help="env short name")
    parser.add_argument("--timesteps", type=int, default=20_000, help="training steps")
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial"), help="runs root")
    args = parser.parse_args(argv)

    # 1. A scheduler works on the scenario space alone: no env-specific code.
    env = envs.make(args.env)
    space = env.unwrapped.scenario_space
    env.close()
    print("schedulers:", list(curricula.SCHEDULERS))
    sched = curricula.make_scheduler("linear", space, seed=0, total_timesteps=args.timesteps)
    rng = np.random.default_rng(0)
    for step in (0, args.timesteps // 2, args.timesteps):
        sched.on_timesteps(step)
        scenario = space.sample(rng, sched.distribution())
        some = {k: scenario[k] for k in space.param_names[:3]}
        print(f"t={step}: difficulty {sched.difficulty:.2f}, e.g. {some} ...")

    # Every proposal is checked against `train`: a curriculum never practises on a
    # held-out split (that would leak the test set into training).
    try:
        sched.check_within_train(space.distribution(space.heldout_splits[0]))
    except curricula.CurriculumGuardError as err:
        print("refused:", str(err)[:100], "...")

    # 2. Episode results drive adaptive schedulers (here fed by hand; in training the
    #    CurriculumCallback reads them from every worker's info).
    lp = curricula.make_scheduler(
        "learning-progress", space, seed=0, total_timesteps=args.timesteps
    )
    for _ in range(20):
        scenario = space.sample(rng, lp.distribution())
        lp.update_on_episode(scenario, episode_return=1.0, length=10, success=True)
    print("learning-progress metrics:", dict(list(lp.metrics().items())[:4]))

    # 3. Train with one: `python -m agents.train --env driving --curriculum linear`
    #    (stages read their YAML from --curriculum-config, e.g.
    #    examples/curricula/driving-stages.yaml). The scheduler state is checkpointed
    #    with the model, so --resume continues the curriculum.
    return train.main(
        [
            "--env", args.env,
            "--curriculum", "linear",
            "--timesteps", str(args.timesteps),
            "--out", str(args.out),
            "--set", "run.eval_episodes=5",
            "--set", "run.record_video=false",
            "--no-progress",
        ]
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
