"""The command line: ``python -m agents.sweep CONFIG.yaml`` or ``--resume DIR [--extend]``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from agents.cli_types import (
    EXIT_INTERRUPTED,
    UsageError,
    cli_main,
    nonneg_int,
    positive_int,
)
from agents.sweep.config import SweepConfigError, load_config
from agents.sweep.driver import RayMissingError, run_sweep
from agents.sweep.state import STATE

PROG = "python -m agents.sweep"


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns 0 if every run finished, 1 if some failed.

    Bad input (config, folders, flags, Ray missing) prints one message and returns 2; an
    interrupted sweep returns 130.
    """
    args = _parser().parse_args(argv)
    try:
        if args.resume is not None and args.out is not None:
            raise SweepConfigError(
                "--resume DIR continues the sweep in DIR; do not also give --out"
            )
        if args.config is None and args.resume is None:
            raise SweepConfigError("give a sweep CONFIG.yaml (or --resume DIR)")
        if args.extend and (args.resume is None or args.config is None):
            raise SweepConfigError(
                "--extend needs --resume DIR and the new CONFIG.yaml (its larger 'timesteps')"
            )
        config = load_config(args.config) if args.config is not None else None
        if args.resume is not None:
            out_dir = args.resume
        else:
            assert config is not None
            out_dir = (
                args.out or Path("runs/sweeps") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            )
        result = run_sweep(
            config,
            out_dir,
            address=args.address,
            max_concurrent=args.max_concurrent,
            num_cpus=args.num_cpus,
            retries=args.retries,
            resume=args.resume is not None,
            extend=args.extend,
            progress=not args.no_progress,
        )
    except (SweepConfigError, RayMissingError) as err:
        raise UsageError(err) from None
    report_md = result.out_dir / "report.md"
    print(f"\nsweep folder: {result.out_dir}\nreport: {report_md}")
    if result.failed:
        print(f"{len(result.failed)} run(s) failed; reasons in {report_md} and {STATE}")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return 0 if result.ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run a sweep (envs x algos x curricula x seeds x --set values) on Ray: every run "
            "is agents.train, evaluated on every split; ends with the grouped rliable report."
        ),
        epilog=(
            "Local: python -m agents.sweep examples/sweeps/point-curricula.yaml --num-cpus 2. "
            "Cluster: start it with `ray start --head` (and `ray start --address HEAD:6379` on "
            "workers), then add --address auto on the head or --address ray://HEAD:10001. "
            "Exit status: 0 every run finished, 1 some failed (see report.md), 2 bad input, "
            "130 interrupted (continue with --resume)."
        ),
    )
    parser.add_argument("config", nargs="?", help="sweep YAML file (optional with --resume)")
    parser.add_argument(
        "--address",
        help="join this Ray cluster ('auto', 'HOST:6379' or 'ray://HOST:10001') instead of "
        "starting a local Ray",
    )
    parser.add_argument(
        "--num-cpus",
        type=positive_int,
        metavar="N",
        help="CPUs of the local Ray (default: all); not with --address",
    )
    parser.add_argument(
        "--max-concurrent",
        type=positive_int,
        metavar="N",
        help="at most N runs at once (default: as resources allow)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="sweep folder (default: runs/sweeps/<name>-<YYYYmmdd-HHMMSS>)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the sweep in DIR; finished runs are not redone",
    )
    parser.add_argument(
        "--extend",
        action="store_true",
        help="with --resume DIR and CONFIG.yaml: CONFIG raises the sweep's 'timesteps' "
        "(nothing else may differ); every run continues to the new budget from its final "
        "checkpoint and is evaluated again (earlier results kept as results/<run>@t<old>.json)",
    )
    parser.add_argument(
        "--retries",
        type=nonneg_int,
        metavar="K",
        help="extra attempts per failed or killed run (default: the "
        "config's 'retries', 2 if unset)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar or per-run lines"
    )
    return parser
