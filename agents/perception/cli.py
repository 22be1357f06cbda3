r"""``python -m agents.perception collect|train|eval``: the perception command line.

Examples::

    python -m agents.perception collect --env driving --split train --frames 50000 \\
        --out data/driving-train --workers 2
    python -m agents.perception train --data data/driving-train --out models/driving
    python -m agents.perception eval --model models/driving --env driving --frames 2000

The same commands make a text NLU for the dialogue env (text datasets and models are
recognised by their metadata; ``--frames`` then counts utterances)::

    python -m agents.perception collect --env dialogue --frames 20000 --out data/dialogue
    python -m agents.perception train --data data/dialogue --out models/nlu --augment
    python -m agents.perception eval --model models/nlu --frames 2000

Bad input (unknown env or split, missing folder, existing output, bad numbers) prints
``error: ...`` and returns exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.cli_types import (
    fraction,
    json_object,
    nonneg_int,
    positive_float,
    positive_int,
    worker_count,
)

__all__ = ["build_parser", "main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The ``collect``/``train``/``eval`` argument parser (``--help`` documents every flag)."""
    parser = _Parser(
        prog="python -m agents.perception",
        description="Perception modules: render labelled frames from practicegym envs, train "
        "a CNN to regress the labels, evaluate it on every split (held-out visuals included).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    default_workers = max(1, min(os.cpu_count() or 1, 8))

    c = sub.add_parser("collect", help="render a labelled dataset from an env")
    c.add_argument("--env", required=True, help="env short name, e.g. driving, robot-reach")
    c.add_argument("--split", default="train", help="scenario split to sample (default: train)")
    c.add_argument("--frames", type=positive_int, default=10_000, help="number of frames")
    c.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    c.add_argument("--seed", type=nonneg_int, default=0, help="root seed (default 0)")
    c.add_argument(
        "--workers",
        type=worker_count,
        default=default_workers,
        help=f"rendering processes (default {default_workers}; the result does not depend on it)",
    )
    c.add_argument("--shard-size", type=positive_int, default=2_000, help="frames per shard")
    c.add_argument(
        "--noise",
        type=fraction,
        default=0.3,
        help="largest per-episode expert action noise, fraction of the action half-range",
    )
    c.add_argument(
        "--random-action-prob",
        type=fraction,
        default=0.1,
        help="probability of a uniformly random action at each step",
    )
    c.add_argument("--every", type=positive_int, default=1, help="keep one frame every N steps")
    c.add_argument(
        "--env-kwargs",
        type=json_object,
        default={},
        help='extra envs.make kwargs as a JSON object, e.g. \'{"task": "push"}\'',
    )
    c.add_argument(
        "--randomise",
        choices=("none", "visual"),
        default="none",
        help="visual: widen the train split's visual parameters (contrast, brightness, noise, "
        "blur) as far as the scenario space allows without any held-out value, train's "
        "colours only; the distribution and the values rendered go into metadata.json "
        "(needs --split train; default none)",
    )
    c.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    t = sub.add_parser("train", help="train a perception CNN on dataset folder(s)")
    t.add_argument("--data", required=True, nargs="+", type=Path, help="dataset folder(s)")
    t.add_argument("--out", required=True, type=Path, help="model folder to write")
    t.add_argument("--epochs", type=positive_int, default=30, help="max epochs (default 30)")
    t.add_argument("--batch-size", type=positive_int, default=128, help="batch size")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    t.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    t.add_argument(
        "--val-fraction", type=fraction, default=0.1, help="fraction of episodes for validation"
    )
    t.add_argument(
        "--patience", type=positive_int, default=5, help="early-stopping patience (epochs)"
    )
    t.add_argument(
        "--channels",
        type=positive_int,
        nargs="+",
        default=[16, 32, 64, 64],
        help="frames: conv channels of the trunk, one per stride-2 layer (default: 16 32 64 64)",
    )
    t.add_argument(
        "--embed-dim",
        type=positive_int,
        default=None,
        help="frames: trunk embedding size = the policy's features (default 256); text: word "
        "and trigram vector size (default 64)",
    )
    t.add_argument(
        "--filters", type=positive_int, default=64, help="text: filters per width (default 64)"
    )
    t.add_argument(
        "--widths",
        type=positive_int,
        nargs="+",
        default=[2, 3, 4],
        help="text: convolution widths in tokens, 1 to 5 (default: 2 3 4)",
    )
    t.add_argument(
        "--augment",
        nargs="?",
        const="recipe",
        default=None,
        metavar="SPEC",
        help="augmentation of training batches. frames: 'none', 'all', 'recipe' or a "
        "comma-separated list of families (shift, randconv, colour, channels, blur-noise; see "
        "agents.perception.augment); default and bare --augment: 'recipe', the ablation's "
        "choice (benchmarks/results/perception-transfer.md). text: word dropout and typos, on "
        "with --augment (any SPEC but 'none'), off by default",
    )
    t.add_argument(
        "--preprocess",
        choices=("recipe", "none", "frame-norm"),
        default="recipe",
        help="frames: input preprocessing of the trunk; frame-norm standardises each image's "
        "channels (default 'recipe', the ablation's choice)",
    )
    t.add_argument("--seed", type=nonneg_int, default=0, help="seed (default 0)")
    t.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto uses CUDA when present, else CPU",
    )
    t.add_argument("--overwrite", action="store_true", help="replace a model at --out")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    e = sub.add_parser("eval", help="per-split error of a model on fresh frames")
    e.add_argument("--model", required=True, type=Path, help="model folder")
    e.add_argument("--env", default=None, help="env to render (default: the model's env)")
    e.add_argument("--frames", type=positive_int, default=1_000, help="frames per split")
    e.add_argument("--splits", nargs="+", default=None, help="splits (default: all)")
    e.add_argument("--seed", type=nonneg_int, default=1_000_003, help="rendering seed")
    e.add_argument(
        "--workers", type=worker_count, default=default_workers, help="rendering processes"
    )
    e.add_argument(
        "--env-kwargs", type=json_object, default={}, help="extra envs.make kwargs (JSON)"
    )
    e.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="inference device"
    )
    e.add_argument(
        "--out", type=Path, default=None, help="JSON report path (default MODEL/eval-ENV.json)"
    )
    e.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _check_env(env: str | None, env_kwargs: dict[str, Any]) -> None:
    """Builds one env up front so bad ``--env-kwargs`` are a usage error, not a traceback."""
    if env is None:  # eval without --env uses the model's env, checked there
        return
    import envs

    envs.resolve(env)  # an unknown name raises its own did-you-mean ValueError
    try:
        made = envs.make(env, **env_kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"env {env!r} rejected --env-kwargs {json.dumps(env_kwargs)}: {err}; pass only "
            f"keyword arguments the env accepts (see the env's docstring, Arguments)"
        ) from None
    made.close()


def _check_out(out: Path, flag: str = "--out") -> None:
    """Raises ValueError unless ``out`` is (or can be created as) a writable folder.

    Nothing is created: the nearest existing folder above ``out`` must be writable.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {str(out)!r} exists and is not a folder; pass a folder path")
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"{flag} {str(out)!r}: {str(existing)!r} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {str(out)!r} cannot be written (no permission in {existing})")


def _collect(args: argparse.Namespace) -> int:
    from agents.perception.data import CollectConfig, collect

    _check_env(args.env, args.env_kwargs)
    _check_out(args.out)
    cfg = CollectConfig(
        env=args.env,
        split=args.split,
        frames=args.frames,
        seed=args.seed,
        workers=args.workers,
        shard_size=args.shard_size,
        noise=args.noise,
        random_action_prob=args.random_action_prob,
        every=args.every,
        env_kwargs=args.env_kwargs,
        randomise=args.randomise,
    )
    meta = collect(cfg, args.out, overwrite=args.overwrite, progress=not args.no_progress)
    print(
        f"wrote {meta['frames']} frames of {meta['env']}/{meta['split']} to {args.out} "
        f"({len(meta['shards'])} shards, {meta['frames_per_second']:.0f} frames/s "
        f"with {meta['workers']} workers); "
        + (
            "text: utterances and their semantics"
            if meta["kind"] == "text"
            else f"labels: {', '.join(meta['label_names'])}"
        )
    )
    return 0


def _data_kind(paths: Sequence[Path]) -> str:
    from agents.perception.data import read_metadata

    return read_metadata(paths[0]).get("kind", "frames")


def _model_kind(model: Path) -> str:
    meta_path = Path(model) / "model.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return "frames"  # the frame loader names what is wrong
    from agents.perception.text import TEXT_MODEL_FORMAT

    return (
        "text" if isinstance(meta, dict) and meta.get("format") == TEXT_MODEL_FORMAT else "frames"
    )


def _train_text(args: argparse.Namespace) -> int:
    from agents.perception.text import TextConfig, train_text_model

    cfg = TextConfig(
        embed_dim=args.embed_dim or TextConfig.embed_dim,
        filters=args.filters,
        widths=tuple(args.widths),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        val_fraction=args.val_fraction,
        augment=args.augment not in (None, "none"),
        seed=args.seed,
        device=args.device,
    )
    info = train_text_model(
        args.data, args.out, cfg, overwrite=args.overwrite, progress=not args.no_progress
    )
    print(
        f"trained on {info['train_utterances']} utterances ({info['val_utterances']} validation), "
        f"best epoch {info['best_epoch']}, {info['train_seconds']} s on {info['device']}; "
        f"saved to {args.out}"
    )
    print(" ".join(f"{k} {v:.3f}" for k, v in info["val_metrics"].items() if k != "utterances"))
    return 0


def _train(args: argparse.Namespace) -> int:
    from agents.perception.training import (
        RECIPE_AUGMENT,
        RECIPE_PREPROCESS,
        TrainConfig,
        train,
    )

    _check_out(args.out)
    if _data_kind(args.data) == "text":
        return _train_text(args)

    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        val_fraction=args.val_fraction,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        augment=RECIPE_AUGMENT if args.augment in (None, "recipe") else args.augment,
        preprocess=RECIPE_PREPROCESS if args.preprocess == "recipe" else args.preprocess,
        channels=tuple(args.channels),
        embed_dim=args.embed_dim or TrainConfig.embed_dim,
    )
    info = train(args.data, args.out, cfg, overwrite=args.overwrite, progress=not args.no_progress)
    print(
        f"trained on {info['train_frames']} frames ({info['val_frames']} validation), best "
        f"epoch {info['best_epoch']}, {info['train_seconds']} s on {info['device']}; "
        f"saved to {args.out}"
    )
    print("| label | unit | val MAE | val R² |\n|---|---|---|---|")
    for name, unit in zip(info["label_names"], info["label_units"], strict=True):
        m = info["val_metrics"][name]
        r2 = "n/a" if m["r2"] is None else f"{m['r2']:.3f}"
        print(f"| {name} | {unit or '-'} | {m['mae']:.4g} | {r2} |")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from agents.perception.evaluation import evaluate, format_table, save_report

    _check_env(args.env, args.env_kwargs)
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out {str(args.out)!r} is a folder; pass a JSON file path")
    _check_out(args.out.parent if args.out is not None else Path(args.model), "--out folder")
    common = {
        "splits": args.splits,
        "seed": args.seed,
        "workers": args.workers,
        "env_kwargs": args.env_kwargs,
        "device": args.device,
        "progress": not args.no_progress,
    }
    if _model_kind(args.model) == "text":
        from agents.perception.text import evaluate_text, format_text_table

        report = evaluate_text(args.model, args.env, utterances=args.frames, **common)
        table = format_text_table(report)
    else:
        report = evaluate(args.model, args.env, frames=args.frames, **common)
        table = format_table(report)
    out = args.out or Path(args.model) / f"eval-{report['env']}.json"
    save_report(report, out)
    print(table)
    print(f"report: {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the perception CLI; returns the exit status (2 on bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as err:
        parser.print_usage(sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    handlers = {"collect": _collect, "train": _train, "eval": _eval}
    try:
        return handlers[args.command](args)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
