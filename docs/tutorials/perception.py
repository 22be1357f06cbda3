"""Tutorial: train a perception CNN on rendered frames, then a modular policy on top.

Run from the repository root (defaults take a few minutes)::

    python docs/tutorials/perception.py --frames 4000 --epochs 5 --timesteps 20000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents import perception, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4000, help="training frames")
    parser.add_argument("--epochs", type=int, default=5, help="perception epochs")
    parser.add_argument("--timesteps", type=int, default=20_000, help="RL training steps")
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial"), help="output root")
    args = parser.parse_args(argv)
    data, model = args.out / "perception-data", args.out / "perception-model"
    quiet = ["--no-progress"]

    # 1. Collect: the expert drives (with action noise) on `train`; every 64x64 birdseye
    #    frame is stored with privileged labels read from the simulator (lateral
    #    offset, heading error, curvature ahead, lead gap, ...). No downloads.
    steps = [
        ["collect", "--env", "driving", "--frames", str(args.frames), "--out", str(data),
         "--workers", "1", "--overwrite", *quiet],
        # 2. Train a small CNN to regress the labels; --augment adds photometric noise.
        ["train", "--data", str(data), "--out", str(model), "--epochs", str(args.epochs),
         "--augment", "--overwrite", *quiet],
        # 3. Per-split error on fresh frames: heldout-visual shows what colours, noise and
        #    blur never seen in training do to it.
        ["eval", "--model", str(model), "--env", "driving", "--frames", "200", *quiet],
    ]  # fmt: skip
    for argv_ in steps:
        status = perception.main(argv_)
        if status != 0:
            return status

    # 4. The modular policy: the trained trunk becomes the (frozen) feature extractor of
    #    an SB3 policy on birdseye observations. Drop --perception for SB3's end-to-end
    #    CNN; add --perception-finetune to train the trunk with RL as well.
    return train.main(
        [
            "--env", "driving",
            "--obs-type", "birdseye",
            "--perception", str(model),
            "--timesteps", str(args.timesteps),
            "--out", str(args.out),
            "--set", "run.eval_episodes=5",
            "--set", "run.record_video=false",
            "--no-progress",
        ]
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
