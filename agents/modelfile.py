"""Model files and normalisation statistics read as data, never as code.

Why this file is long (about 510 lines): it is the one place that reads and writes what a
run folder holds besides JSON (models, VecNormalize statistics, replay buffers), kept
together so that the no-unpickling guarantee can be reviewed in one file.

A Stable-Baselines3 ``model.zip`` stores some of its attributes (spaces, schedules, the
policy class...) as cloudpickled ``":serialized:"`` entries in its ``data`` member;
``cls.load`` would unpickle them, running whatever code a crafted file carries. Here
every such entry is supplied through SB3's ``custom_objects`` from a *template* model
built from the run's own ``config.yaml`` (same algorithm, policy, spaces and
hyperparameters), so SB3 never unpickles anything: the weights are tensors read with
``torch.load(weights_only=True)``. A file with a serialized entry the template cannot
supply is refused.

VecNormalize statistics are saved as JSON (``vecnormalize.json``) and restored into a
fresh ``VecNormalize``; an older ``vecnormalize.pkl`` is refused with a message, since
unpickling it could run code.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from agents.cli_types import UsageError, cli_main

__all__ = [
    "UnsafeFileError",
    "load_model",
    "model_kwargs",
    "read_vecnormalize",
    "restore_vecnormalize",
    "rms_from_state",
    "serialized_keys",
    "template_model",
    "vecnormalize_state",
    "write_vecnormalize",
]

SERIALIZED = ":serialized:"
# Attributes that only carry the state of an interrupted rollout or logging; SB3 rebuilds
# them when learning starts (and discards ``_last_obs`` when loading with an env anyway).
_RESET_KEYS: dict[str, Any] = {
    "_last_obs": None,
    "_last_original_obs": None,
    "_last_episode_starts": None,
    "ep_info_buffer": None,
    "ep_success_buffer": None,
}
# A replay buffer is never needed for acting; template models allocate a small one.
_TEMPLATE_BUFFER_SIZE = 64
VECNORMALIZE_FORMAT = "practicegym-vecnormalize/1"


class UnsafeFileError(ValueError):
    """A run file could only be read by running code from it; the message says what to do."""


# --------------------------------------------------------------------------- models


def serialized_keys(source: str | Path | IO[bytes]) -> set[str]:
    """Names of the ``":serialized:"`` (cloudpickled) entries of a model file's ``data``.

    Reads the JSON only; nothing is deserialised.

    Raises:
        ValueError: Not a zip file or no readable ``data`` member.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{_name(source)} is not a readable SB3 model file ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{_name(source)} is not an SB3 model file (data is not a mapping)")
    return {k for k, v in data.items() if isinstance(v, dict) and SERIALIZED in v}


def _name(source: Any) -> str:
    return str(source) if isinstance(source, (str, Path)) else "the model file"


def model_kwargs(config: Any, n_actions: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SB3 constructor ``algo_kwargs`` and ``policy_kwargs`` of a :class:`TrainConfig`."""
    from agents.algo_kwargs import build_algo_kwargs, build_policy_kwargs

    algo_kwargs = build_algo_kwargs(config.algo, config.algo_kwargs, n_actions)
    if config.run.her:
        from stable_baselines3 import HerReplayBuffer

        algo_kwargs["replay_buffer_class"] = HerReplayBuffer
    policy_kwargs = build_policy_kwargs(config.policy_kwargs)
    if config.perception:
        from agents import perception

        policy_kwargs.update(
            perception.extractor_policy_kwargs(
                config.perception["path"], finetune=config.perception["finetune"]
            )
        )
    if config.augment is not None:
        from agents.perception.augment import augment_policy_kwargs

        policy_kwargs.update(augment_policy_kwargs(config.augment, seed=config.seed))
    return algo_kwargs, policy_kwargs


def template_model(config: Any, env: Any, *, buffer: bool = True) -> Any:
    """A fresh model of ``config`` on ``env`` with a small replay buffer (no files written).

    Args:
        config: The run's :class:`agents.config.TrainConfig`.
        env: A Gymnasium env or VecEnv with the run's spaces (it is not stepped).
        buffer: False builds off-policy templates without HER (acting needs no buffer).
    """
    from agents.algo_kwargs import algo_class

    shape = getattr(env.action_space, "shape", None) or (1,)
    algo_kwargs, policy_kwargs = model_kwargs(config, int(shape[0]) if shape else 1)
    if isinstance(algo_kwargs.get("buffer_size"), int):
        algo_kwargs["buffer_size"] = min(algo_kwargs["buffer_size"], _TEMPLATE_BUFFER_SIZE)
    if not buffer and algo_kwargs.pop("replay_buffer_class", None) is not None:
        algo_kwargs.pop("replay_buffer_kwargs", None)  # HER's options
    with warnings.catch_warnings():
        # The template is never trained: PPO's "mini-batch size ... n_envs=1" advice is
        # about this one-env template, not the run's vector env.
        warnings.filterwarnings("ignore", message="You have specified a mini-batch size")
        return algo_class(config.algo)(
            config.policy,
            env,
            policy_kwargs=policy_kwargs,
            seed=config.seed,
            device="cpu",
            verbose=0,
            **algo_kwargs,
        )


def load_model(
    source: str | Path | IO[bytes],
    config: Any,
    env: Any,
    *,
    template_env: Any = None,
    device: str = "cpu",
    acting_only: bool = False,
    **kwargs: Any,
) -> Any:
    """Loads an SB3 model file without unpickling anything from it.

    Every ``":serialized:"`` entry of the file is replaced by the value a template model
    built from ``config`` has (or by a fresh value for rollout/logging state).

    Args:
        source: The ``model.zip`` (path or binary file object).
        config: The run's :class:`agents.config.TrainConfig`.
        env: Env passed to ``cls.load`` (``None`` to load for acting only).
        template_env: Env the template is built on (default ``env``); it must have the
            run's spaces.
        device: Torch device.
        acting_only: Skip the replay buffer (``buffer_size=1``, no HER).
        **kwargs: Passed on to ``cls.load`` (e.g. ``tensorboard_log``).

    Raises:
        UnsafeFileError: The file has a serialized entry no template value supplies.
        ValueError: The file is unreadable or does not fit the config.
    """
    from agents.algo_kwargs import algo_class

    if hasattr(source, "seek"):
        source.seek(0)
    keys = serialized_keys(source)
    if hasattr(source, "seek"):
        source.seek(0)
    template = template_model(
        config, template_env if template_env is not None else env, buffer=not acting_only
    )
    state_dicts, _ = template._get_torch_save_params()
    unsaved = {*template._excluded_save_params(), *(n.split(".")[0] for n in state_dicts)}
    supplied: dict[str, Any] = {}
    for key in sorted(keys):
        if key in _RESET_KEYS:
            supplied[key] = _RESET_KEYS[key]
        elif key in vars(template) and key not in unsaved:  # never "env", "policy", ...
            supplied[key] = vars(template)[key]
        else:
            raise UnsafeFileError(
                f"{_name(source)} carries a pickled entry {key!r} that a {config.algo} model "
                "does not have; refusing to unpickle it (it could run code)"
            )
    if acting_only:
        supplied.update(_acting_only(template))
    del template
    cls = algo_class(config.algo)
    try:
        return cls.load(source, env=env, device=device, custom_objects=supplied, **kwargs)
    except RuntimeError as err:  # torch: state_dict size/key mismatch
        first = str(err).strip().splitlines()[-1].strip() if str(err).strip() else ""
        raise ValueError(
            f"{_name(source)} does not match the run's config.yaml (env {config.env!r}, its "
            f"env_kwargs and policy): {first}"
        ) from None
    except ValueError:
        raise
    except Exception as err:  # whatever a damaged file makes SB3's reader raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ValueError(
            f"{_name(source)} is damaged or not an SB3 model ({type(err).__name__}: {first})"
        ) from None


def _acting_only(template: Any) -> dict[str, Any]:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    if not isinstance(template, OffPolicyAlgorithm):
        return {}
    # Acting needs no replay buffer: skip building one (HER's also needs a live env).
    return {"replay_buffer_class": None, "replay_buffer_kwargs": {}, "buffer_size": 1}


# --------------------------------------------------------------------------- VecNormalize


def _rms_state(rms: Any) -> dict[str, Any]:
    return {
        "mean": np.asarray(rms.mean, dtype=np.float64).tolist(),
        "var": np.asarray(rms.var, dtype=np.float64).tolist(),
        "count": float(rms.count),
    }


def vecnormalize_state(norm: Any) -> dict[str, Any]:
    """The statistics and settings of a VecNormalize as plain JSON-able data."""
    obs: Any = None
    if norm.norm_obs:
        rms = norm.obs_rms
        obs = {k: _rms_state(v) for k, v in rms.items()} if isinstance(rms, dict) else None
        obs = {"keys": obs} if obs is not None else {"array": _rms_state(rms)}
    return {
        "format": VECNORMALIZE_FORMAT,
        "norm_obs": bool(norm.norm_obs),
        "norm_reward": bool(norm.norm_reward),
        "norm_obs_keys": None if norm.norm_obs_keys is None else list(norm.norm_obs_keys),
        "clip_obs": float(norm.clip_obs),
        "clip_reward": float(norm.clip_reward),
        "gamma": float(norm.gamma),
        "epsilon": float(norm.epsilon),
        "obs_rms": obs,
        "ret_rms": _rms_state(norm.ret_rms),
    }


def write_vecnormalize(norm: Any, path: Path) -> None:
    """Writes a VecNormalize's statistics as JSON (float64 values round-trip exactly)."""
    Path(path).write_text(json.dumps(vecnormalize_state(norm)) + "\n")


def read_vecnormalize(path: Path) -> dict[str, Any]:
    """Reads and checks ``vecnormalize.json``; an old ``.pkl`` is refused.

    Raises:
        UnsafeFileError: ``path`` is a pickle (older practicegym runs).
        ValueError: The file is unreadable or malformed.
    """
    path = Path(path)
    if path.suffix == ".pkl":
        raise UnsafeFileError(pickle_refusal(path))
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(state, dict) or state.get("format") != VECNORMALIZE_FORMAT:
        raise ValueError(f"{path} is not a {VECNORMALIZE_FORMAT} file")
    try:
        _check_state(state)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is malformed ({type(err).__name__}: {err})") from None
    return state


def pickle_refusal(path: Path) -> str:
    """The message for an old pickled statistics file."""
    return (
        f"{path} is a pickle written by an older practicegym; unpickling it could run code, "
        "so it is not read. If you trust its source, convert it with "
        f"`python -m agents.modelfile --trust-pickles {path}` (writes vecnormalize.json)"
    )


def _check_state(state: Mapping[str, Any]) -> None:
    for key in ("clip_obs", "clip_reward", "gamma", "epsilon"):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"{key} must be a number, got {value!r}")
    for key in ("norm_obs", "norm_reward"):
        if not isinstance(state[key], bool):
            raise ValueError(f"{key} must be true or false")
    keys = state["norm_obs_keys"]
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise ValueError("norm_obs_keys must be a list of names or null")
    rms_from_state(state["ret_rms"])
    if state["norm_obs"]:
        obs = state["obs_rms"]
        if not isinstance(obs, dict) or set(obs) not in ({"array"}, {"keys"}):
            raise ValueError("obs_rms must be {array: ...} or {keys: {...}}")
        if "array" in obs:
            rms_from_state(obs["array"])
        else:
            for value in obs["keys"].values():
                rms_from_state(value)


def rms_from_state(data: Mapping[str, Any]) -> Any:
    """A RunningMeanStd from saved ``{mean, var, count}`` (shapes and types checked)."""
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    mean = np.asarray(data["mean"], dtype=np.float64)
    var = np.asarray(data["var"], dtype=np.float64)
    count = data["count"]
    if mean.shape != var.shape:
        raise ValueError(f"mean shape {mean.shape} != var shape {var.shape}")
    if isinstance(count, bool) or not isinstance(count, (int, float)):
        raise ValueError(f"count must be a number, got {count!r}")
    rms = RunningMeanStd(shape=mean.shape)
    rms.mean, rms.var, rms.count = mean, var, float(count)
    return rms


def restore_vecnormalize(state: Mapping[str, Any], venv: Any) -> Any:
    """A fresh ``VecNormalize`` over ``venv`` with the statistics of ``state``.

    Raises:
        ValueError: The statistics do not fit ``venv``'s observations.
    """
    from stable_baselines3.common.vec_env import VecNormalize

    norm = VecNormalize(
        venv,
        norm_obs=state["norm_obs"],
        norm_reward=state["norm_reward"],
        norm_obs_keys=state["norm_obs_keys"],
        clip_obs=state["clip_obs"],
        clip_reward=state["clip_reward"],
        gamma=state["gamma"],
        epsilon=state["epsilon"],
    )
    norm.ret_rms = rms_from_state(state["ret_rms"])
    if state["norm_obs"]:
        obs = state["obs_rms"]
        if "array" in obs:
            rms = rms_from_state(obs["array"])
            _same_shape(rms, norm.obs_rms, "observations")
            norm.obs_rms = rms
        else:
            loaded = {k: rms_from_state(v) for k, v in obs["keys"].items()}
            if set(loaded) != set(norm.obs_rms):
                raise ValueError(
                    f"saved statistics cover keys {sorted(loaded)}, the env normalises "
                    f"{sorted(norm.obs_rms)}"
                )
            for key, rms in loaded.items():
                _same_shape(rms, norm.obs_rms[key], f"observation key {key!r}")
            norm.obs_rms = loaded
    return norm


def _same_shape(loaded: Any, fresh: Any, what: str) -> None:
    if loaded.mean.shape != fresh.mean.shape:
        raise ValueError(
            f"saved statistics for {what} have shape {loaded.mean.shape}, the env's "
            f"{fresh.mean.shape}"
        )


# --------------------------------------------------------------------------- replay buffers

REPLAY_BUFFER = "replay_buffer.npz"
OLD_REPLAY_BUFFER = "replay_buffer.pkl"


def _buffer_arrays(buffer: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, value in vars(buffer).items():
        if isinstance(value, np.ndarray) and value.dtype != object:
            arrays[name] = value
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, np.ndarray) and v.dtype != object for v in value.values())
        ):
            for key, array in value.items():
                arrays[f"{name}/{key}"] = array
    return arrays


def write_replay_buffer(buffer: Any, path: Path) -> None:
    """Writes a replay buffer's arrays and position as NPZ (no pickle).

    Raises:
        ValueError: The buffer keeps per-step info dicts (HER with ``copy_info_dict``),
            which have no array form.
    """
    if getattr(buffer, "copy_info_dict", False):
        raise ValueError("a HER buffer with copy_info_dict cannot be saved as data")
    arrays = _buffer_arrays(buffer)
    arrays["__pos__"] = np.asarray(buffer.pos, dtype=np.int64)
    arrays["__full__"] = np.asarray(buffer.full, dtype=bool)
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def check_replay_buffer(path: Path) -> None:
    """Checks ``path`` is an NPZ of plain arrays (an old pickle is refused).

    Raises:
        UnsafeFileError: ``path`` is a pickle.
        ValueError: Unreadable, or it holds object arrays.
    """
    path = Path(path)
    if path.suffix == ".pkl":
        raise UnsafeFileError(
            f"{path} is a pickled replay buffer from an older practicegym; unpickling it "
            "could run code, so it is not read: delete it to resume with an empty buffer"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                _ = data[name]  # reading each member checks it
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable replay buffer ({err})") from None


def read_replay_buffer(buffer: Any, path: Path) -> None:
    """Fills a freshly built replay buffer from :func:`write_replay_buffer`'s NPZ.

    Raises:
        ValueError: The file does not match the buffer (names, shapes, dtypes).
    """
    check_replay_buffer(path)
    fresh = _buffer_arrays(buffer)
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files) - {"__pos__", "__full__"}
        if names != set(fresh) or not {"__pos__", "__full__"} <= set(data.files):
            raise ValueError(f"{path} holds arrays {sorted(names)}, the buffer {sorted(fresh)}")
        for name in sorted(names):
            array = data[name]
            if array.shape != fresh[name].shape or array.dtype != fresh[name].dtype:
                raise ValueError(
                    f"{path}: {name} is {array.dtype}{array.shape}, the buffer's "
                    f"{fresh[name].dtype}{fresh[name].shape}"
                )
            fresh[name][...] = array
        pos, full = int(data["__pos__"]), bool(data["__full__"])
    if not 0 <= pos < buffer.buffer_size:
        raise ValueError(f"{path}: position {pos} outside the buffer")
    buffer.pos, buffer.full = pos, full


# --------------------------------------------------------------------------- conversion


def convert_pickle(path: Path) -> Path:
    """Converts a trusted old ``vecnormalize.pkl`` to ``vecnormalize.json`` beside it.

    This unpickles ``path``: only for files whose source you trust.
    """
    import pickle

    from agents.runs import atomic_write

    with open(path, "rb") as f:
        norm = pickle.load(f)
    out = Path(path).with_suffix(".json")
    atomic_write(out, json.dumps(vecnormalize_state(norm)) + "\n")
    return out


PROG = "python -m agents.modelfile"


@cli_main(PROG)
def main(argv: list[str] | None = None) -> int:
    """``python -m agents.modelfile --trust-pickles FILE...``: convert old pickles."""
    import argparse

    p = argparse.ArgumentParser(
        prog=PROG,
        description="Convert old vecnormalize.pkl files to vecnormalize.json. Unpickling "
        "runs whatever code the file carries: convert only files from a source you trust.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="vecnormalize.pkl files")
    p.add_argument(
        "--trust-pickles",
        action="store_true",
        help="required: confirms you trust these files (unpickling can run code)",
    )
    args = p.parse_args(argv)
    if not args.trust_pickles:
        raise UsageError("pass --trust-pickles to confirm you trust these files")
    for path in args.files:
        if path.suffix != ".pkl" or not path.is_file():
            raise UsageError(f"{path} is not a .pkl file")
    for path in args.files:
        print(f"wrote {convert_pickle(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
