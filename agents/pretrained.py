"""Pretrained agents shipped inside the package: ``agents.load_pretrained("driving")``.

Each agent is a folder ``agents/pretrained_agents/<name>/`` of data only:

- ``config.yaml``: the source run's resolved config (read with ``yaml.safe_load``);
- ``policy.pt``: the policy's weights alone (a torch state dict, read with
  ``torch.load(weights_only=True)``);
- ``obs_norm.npz``: observation statistics, only when the run normalised observations
  (``allow_pickle=False``);
- ``card.json`` / ``card.md``: the model card — method, seed, budget, source run and study,
  its transfer table and its train success with a 95% interval.

Nothing in the folder is executed: the model is rebuilt from ``config.yaml`` (algorithm,
policy class and ``policy_kwargs`` by name) and the weights are loaded into it. Anywhere a
run folder is accepted, ``pretrained:<name>`` names a shipped agent::

    python -m agents.enjoy pretrained:driving
    python -m agents.evaluate pretrained:driving --episodes 50
    python -m agents.pretrained list
    python -m agents.pretrained export RUN_DIR --name driving --method uniform
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import shutil
import tempfile
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.cli_types import UsageError, cli_main
from envs.fileio import shown_path

__all__ = [
    "PREFIX",
    "SHIPPED",
    "export",
    "is_reference",
    "load_card",
    "load_pretrained",
    "main",
    "names",
    "resolve",
]

PREFIX = "pretrained:"
SHIPPED = Path(__file__).resolve().parent / "pretrained_agents"
POLICY = "policy.pt"
OBS_NORM = "obs_norm.npz"
CARD = "card.json"
MAX_BYTES = 5 * 1024 * 1024  # what one shipped agent may weigh


def is_reference(value: str | Path) -> bool:
    """Whether ``value`` names a shipped agent: ``pretrained:<name>`` or its folder."""
    if str(value).startswith(PREFIX):
        return True
    path = Path(value).resolve()
    return path.parent == SHIPPED.resolve() and (path / CARD).is_file()


def names(root: Path | None = None) -> list[str]:
    """The shipped agents (folders holding a model card)."""
    root = root or SHIPPED
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CARD).is_file())


def resolve(name: str | Path, root: Path | None = None) -> Path:
    """The folder of a shipped agent, from ``driving`` or ``pretrained:driving``.

    Raises:
        ValueError: No such agent (with a suggestion and the valid names).
    """
    root = root or SHIPPED
    key = str(name).removeprefix(PREFIX)
    if Path(key).resolve().parent == root:  # the folder itself
        key = Path(key).name
    valid = names(root)
    if key not in valid:
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"no pretrained agent {key!r}.{hint} Shipped: {valid or 'none'} (in {root})"
        )
    return root / key


def load_card(name: str | Path, root: Path | None = None) -> dict[str, Any]:
    """The model card (``card.json``) of a shipped agent."""
    return json.loads((resolve(name, root) / CARD).read_text())


def load_pretrained(name: str, device: str = "cpu", root: Path | None = None) -> Any:
    """Loads a shipped agent as a policy for one observation (``agents.runs.RunPolicy``).

    Args:
        name: ``driving``, ``dialogue``, ... or ``pretrained:driving``.
        device: Torch device.
        root: Folder of the shipped agents (tests pass their own).

    Raises:
        ValueError: Unknown name, or files that do not match the config.
    """
    import torch

    import envs
    from agents.algo_kwargs import algo_class, build_policy_kwargs
    from agents.config import TrainConfig
    from agents.runs import ObsNormalizer, RunPolicy

    folder = resolve(name, root)
    config = TrainConfig.from_dict(yaml.safe_load((folder / "config.yaml").read_text()))
    env = envs.make(config.env, **config.env_kwargs)
    try:
        from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

        cls = algo_class(config.algo)
        extra: dict[str, Any] = {}
        if issubclass(cls, OffPolicyAlgorithm):
            extra = {"buffer_size": 1, "learning_starts": 0}
        model = cls(
            config.policy,
            env,
            policy_kwargs=build_policy_kwargs(config.policy_kwargs),
            device=device,
            verbose=0,
            **extra,
        )
        weights = torch.load(folder / POLICY, map_location=device, weights_only=True)
        try:
            model.policy.load_state_dict(weights)
        except RuntimeError as err:
            raise ValueError(f"{folder / POLICY} does not fit {config.algo}: {err}") from None
        norm = None
        if (folder / OBS_NORM).is_file():
            norm = _read_obs_norm(folder / OBS_NORM)
        elif config.run.normalize_obs:
            raise ValueError(f"{folder} normalised observations in training but has no {OBS_NORM}")
        return RunPolicy(
            model,
            None if norm is None else ObsNormalizer(**norm),
            env.observation_space,
            env.action_space,
        )
    finally:
        env.close()


def _read_obs_norm(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as data:
        arrays = dict(data)
    clip, eps = float(arrays.pop("clip_obs")), float(arrays.pop("epsilon"))
    keys = sorted({k.rsplit("/", 1)[0] for k in arrays})
    rms = {k: types.SimpleNamespace(mean=arrays[f"{k}/mean"], var=arrays[f"{k}/var"]) for k in keys}
    obs_rms: Any = rms.pop("", None) if list(rms) == [""] else rms
    return {"obs_rms": obs_rms, "clip_obs": clip, "epsilon": eps, "enabled": True}


def _write_obs_norm(path: Path, norm: Any) -> None:
    rms = norm.obs_rms if isinstance(norm.obs_rms, dict) else {"": norm.obs_rms}
    arrays = {
        f"{k}/{a}": np.asarray(getattr(r, a)) for k, r in rms.items() for a in ("mean", "var")
    }
    np.savez(path, clip_obs=norm.clip_obs, epsilon=norm.epsilon, **arrays)  # type: ignore[arg-type]


# ============================================================================ export


def export(
    run_dir: str | Path,
    name: str,
    *,
    method: str,
    study: str | None = None,
    root: Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Ships a finished run as ``root/<name>/`` with its model card.

    The card's numbers come from the run's own transfer report (``RUN_DIR/transfer``, as
    the sweep and ``agents.evaluate`` write it): per split success with Wilson 95%
    intervals and the normalised score, on the report's episode seeds.

    Args:
        run_dir: A finished run folder with a ``transfer/report.json``.
        name: The agent's name (``pretrained:<name>``).
        method: How it practised (the study's method name), for the card.
        study: Where the comparison it was chosen from lives (a results file).
        root: Destination of shipped agents.
        overwrite: Replace an agent of the same name.

    Raises:
        ValueError: Not a finished run, no transfer report, an existing agent without
            ``overwrite``, or the weights over :data:`MAX_BYTES`.
    """
    import torch

    from agents.evaluation import TransferReport
    from agents.runs import load_policy, load_run

    root = root or SHIPPED
    info = load_run(run_dir)
    report_path = info.path / "transfer" / "report.json"
    if not report_path.is_file():
        raise ValueError(f"{info.path} has no transfer/report.json; evaluate it first")
    if not name.replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits and '-', got {name!r}")
    dest = root / name
    if dest.exists() and not overwrite:
        raise ValueError(f"{dest} exists; pass overwrite=True (--overwrite) to replace it")
    policy = load_policy(info.path)
    report = TransferReport.load(report_path)
    config = dict(info.config)
    config["device"] = "auto"
    with tempfile.TemporaryDirectory(dir=root.parent if root.parent.is_dir() else None) as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        torch.save(policy.model.policy.state_dict(), folder / POLICY)
        if policy.obs_normalizer is not None and policy.obs_normalizer.enabled:
            _write_obs_norm(folder / OBS_NORM, policy.obs_normalizer)
        (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        size = sum(p.stat().st_size for p in folder.iterdir())
        if size > MAX_BYTES:
            raise ValueError(f"{name}: {size} bytes of weights exceed {MAX_BYTES}")
        card = _card(info, report, name=name, method=method, study=study, size=size)
        (folder / CARD).write_text(json.dumps(card, indent=1) + "\n")
        (folder / "card.md").write_text(card_markdown(card))
        root.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(folder), dest)
    return dest


def _card(
    info: Any, report: Any, *, name: str, method: str, study: str | None, size: int
) -> dict[str, Any]:
    summary = report.summary()
    splits = {
        split: {
            "success": summary[split]["success"].to_dict(),
            "normalised": summary[split]["normalised"].to_dict(),
            "return": summary[split]["return"].to_dict(),
        }
        for split in report.splits
    }
    config = info.config
    return {
        "name": name,
        "env": info.env,
        "env_kwargs": info.env_kwargs,
        "algo": info.algo,
        "method": method,
        "curriculum": config.get("curriculum"),
        "seed": info.seed,
        "timesteps": config.get("timesteps"),
        "hyperparameters": {
            "run": config.get("run"),
            "algo": config.get("algo_kwargs"),
            "policy": config.get("policy_kwargs"),
        },
        "source_run": shown_path(info.path),
        "study": study,
        "evaluation": {"episodes": report.episodes, "seed": report.seed, "splits": splits},
        "size_bytes": size,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": report.versions,
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """The model card for people."""

    def est(d: Mapping[str, Any]) -> str:
        if d.get("value") is None:
            return "—"
        if d.get("low") is None:
            return f"{d['value']:.2f}"
        return f"{d['value']:.2f} [{d['low']:.2f}, {d['high']:.2f}]"

    rows = [
        f"| {split} | {est(v['success'])} | {est(v['normalised'])} |"
        for split, v in card["evaluation"]["splits"].items()
    ]
    ev = card["evaluation"]
    return "\n".join(
        [
            f"# pretrained:{card['name']}",
            "",
            f"- env: `{card['env']}` {card['env_kwargs'] or ''}; algorithm: {card['algo']}; "
            f"method: `{card['method']}`; seed {card['seed']}; budget {card['timesteps']:,} steps",
            f"- chosen from: {card['study'] or 'not stated'}",
            f"- source run: `{card['source_run']}`; weights {card['size_bytes']:,} bytes",
            f"- hyperparameters: `{json.dumps(card['hyperparameters'])}`",
            "",
            f"Transfer table ({ev['episodes']} episodes per split, evaluation seed {ev['seed']}, "
            "deterministic actions; 95% intervals: Wilson for success, Student-t for the score):",
            "",
            "| split | success [95% CI] | normalised score [95% CI] |",
            "|---|---|---|",
            *rows,
            "",
            "Load: `agents.load_pretrained(" + repr(card["name"]) + ")`; play: "
            f"`python -m agents.enjoy pretrained:{card['name']}`; evaluate: "
            f"`python -m agents.evaluate pretrained:{card['name']}`.",
            "",
        ]
    )


# ============================================================================ the CLI


PROG = "python -m agents.pretrained"


@cli_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    """``list`` the shipped agents or ``export`` a run as one; exit 2 on bad input."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the shipped agents and their cards' train success")
    ex = sub.add_parser("export", help="ship a finished run as pretrained:NAME")
    ex.add_argument("run_dir", type=Path, help="finished run folder with transfer/report.json")
    ex.add_argument("--name", required=True, help="agent name, e.g. driving")
    ex.add_argument("--method", required=True, help="how it practised (the study's method)")
    ex.add_argument("--study", help="results file it was chosen from")
    ex.add_argument("--root", type=Path, help="destination folder (default: the package's)")
    ex.add_argument("--overwrite", action="store_true", help="replace an agent of that name")
    args = parser.parse_args(None if argv is None else list(argv))
    if args.command == "list":
        for name in names():
            card = load_card(name)
            train = card["evaluation"]["splits"].get("train", {}).get("success", {})
            print(
                f"{name}: {card['env']} {card['algo']} {card['method']} seed {card['seed']}, "
                f"train success {train.get('value')}"
            )
        return 0
    try:
        dest = export(
            args.run_dir,
            args.name,
            method=args.method,
            study=args.study,
            root=args.root,
            overwrite=args.overwrite,
        )
    except ValueError as err:
        raise UsageError(err) from None
    print(f"shipped {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
