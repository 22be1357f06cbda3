"""The run folder: its layout, atomic writes, checkpoints, and loading a trained policy.

Why this file is long (about 570 lines): it is the run folder's one owner (layout, lock,
checkpoints, orphan clean-up, reading a run back as a policy); the file writing itself is
:mod:`envs.fileio`, the recorded env module :mod:`agents.envmodule`, and model files
:mod:`agents.modelfile`.

Layout (written by ``python -m agents.train``)::

    runs/<env>/<algo>-<seed>-<YYYYmmdd-HHMMSS>/
      config.yaml        resolved TrainConfig
      command.txt        the exact command line
      versions.json      Python and key package versions
      model.zip          final model; vecnormalize.json when observations are normalised
      checkpoints/<step>/  model.zip, vecnormalize.json, curriculum.json, meta.json
      monitor/  tb/  eval/  learning_curve.png  episode.gif | transcript.txt
      .lock              flock held by the one process writing the run (records its pid)

Every file is written atomically (temporary file + rename) and a checkpoint folder
appears under its final name only once complete, so a ``kill -9`` at any moment leaves
either the previous checkpoint or the new one.

A run folder is data, never code: models are loaded without unpickling any of their
entries and statistics are JSON (see :mod:`agents.modelfile`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.envmodule import import_env_module  # re-exported: callers use runs.*
from agents.episodes import takes_masks
from envs.fileio import TMP_PREFIX, atomic_write, versions  # re-exported: callers use runs.*

__all__ = [
    "Checkpoint",
    "ObsNormalizer",
    "RunInUseError",
    "RunInfo",
    "RunLock",
    "RunLockError",
    "RunPolicy",
    "atomic_write",
    "clean_orphans",
    "holder",
    "import_env_module",
    "latest_checkpoint",
    "load_policy",
    "load_run",
    "new_run_dir",
    "truncate_monitors",
    "versions",
]

CONFIG = "config.yaml"
MODEL = "model.zip"
VECNORMALIZE = "vecnormalize.json"
OLD_VECNORMALIZE = "vecnormalize.pkl"  # older runs: refused (pickle), see agents.modelfile
CURRICULUM = "curriculum.json"
CHECKPOINTS = "checkpoints"
MONITOR = "monitor"
LOCK = ".lock"


@dataclass(frozen=True)
class RunInfo:
    """What a run folder says about its run.

    Attributes:
        path: The run folder.
        env: Env short name.
        algo: Algorithm name.
        seed: Training seed.
        env_kwargs: Keyword arguments for ``envs.make``.
        config: The whole resolved config (``config.yaml``).
    """

    path: Path
    env: str
    algo: str
    seed: int
    env_kwargs: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint folder."""

    path: Path
    timesteps: int

    @property
    def model(self) -> Path:
        """The model file."""
        return self.path / MODEL

    @property
    def vecnormalize(self) -> Path | None:
        """VecNormalize statistics, if saved (an old ``.pkl`` is returned to be refused)."""
        return vecnormalize_file(self.path)

    def saved_at(self) -> float:
        """Wall-clock time the checkpoint was written (``meta.json``).

        Raises:
            ValueError: ``meta.json`` is missing or malformed.
        """
        meta = self.path / "meta.json"
        try:
            data = json.loads(meta.read_text())
            saved = data["time"]
            steps = data["timesteps"]
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as err:
            raise ValueError(f"{meta} is missing or malformed ({err})") from None
        if (
            isinstance(saved, bool)
            or not isinstance(saved, (int, float))
            or steps != self.timesteps
        ):
            raise ValueError(f"{meta} does not describe checkpoint {self.path.name}")
        return float(saved)

    @property
    def curriculum(self) -> Path | None:
        """Curriculum scheduler state, if saved."""
        p = self.path / CURRICULUM
        return p if p.exists() else None


# --------------------------------------------------------------------------- writing


def new_run_dir(out: Path, env: str, algo: str, seed: int) -> Path:
    """Creates ``out/<env>/<algo>-<seed>-<timestamp>`` (a suffix avoids collisions)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(out) / env / f"{algo}-{seed}-{stamp}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def write_checkpoint(
    run_dir: Path, timesteps: int, files: Mapping[str, Callable[[Path], None]], keep: int = 3
) -> Checkpoint:
    """Writes a complete checkpoint folder atomically; ``files`` maps name -> writer.

    Only the ``keep`` newest checkpoints are kept.
    """
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))
    try:
        for name, writer in files.items():
            writer(tmp / name)
        (tmp / "meta.json").write_text(json.dumps({"timesteps": timesteps, "time": time.time()}))
        final = root / f"{timesteps:012d}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(final, timesteps)


class RunLockError(ValueError):
    """A run folder's lock cannot be taken (in use, or the folder is not writable)."""


class RunInUseError(RunLockError):
    """Another process holds a run folder's lock."""


class RunLock:
    """One writer per run folder: a non-blocking ``fcntl.flock`` on ``RUN/.lock``.

    The lock is released when the holder exits, however it exits (even ``kill -9``);
    the file stays and records the last holder's pid.

    Raises:
        RunInUseError: On enter, when another process holds the lock.
        RunLockError: On enter, when the lock file cannot be created or opened.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise RunLockError(
                f"run {self.path.parent} cannot be written ({err.strerror}); it needs a "
                f"writable {LOCK} file to train"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInUseError(
                f"run {self.path.parent} is in use by pid {holder}; wait for it to finish "
                "or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def holder(run_dir: Path) -> int | None:
    """The pid holding the run's lock now, or ``None`` (no file changes)."""
    import fcntl

    path = Path(run_dir) / LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


def clean_orphans(run_dir: Path) -> list[Path]:
    """Removes temporary files and checkpoint folders a killed writer left; returns them.

    Call only while holding the run's :class:`RunLock`.
    """
    removed = []
    for folder in (Path(run_dir), Path(run_dir) / CHECKPOINTS):
        if not folder.is_dir():
            continue
        for p in folder.glob(f"{TMP_PREFIX}*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def restore_evaluations(callback: Any, run_dir: Path, until_step: int) -> int:
    """Gives a fresh SB3 ``EvalCallback`` the periodic evaluations a resumed run already made.

    SB3's callback starts empty and rewrites ``eval/evaluations.npz`` at its first
    evaluation, which would erase the learning curve before the checkpoint. Evaluations
    after ``until_step`` are dropped (the resumed run redoes them). Returns how many were
    restored.
    """
    path = Path(run_dir) / "eval" / "evaluations.npz"
    if not path.is_file():
        return 0
    with np.load(path) as data:
        keep = np.asarray(data["timesteps"]) <= until_step
        callback.evaluations_timesteps = np.asarray(data["timesteps"])[keep].tolist()
        callback.evaluations_results = np.asarray(data["results"])[keep].tolist()
        callback.evaluations_length = np.asarray(data["ep_lengths"])[keep].tolist()
        if "successes" in data:
            callback.evaluations_successes = np.asarray(data["successes"])[keep].tolist()
    return int(keep.sum())


def truncate_monitors(run_dir: Path, until: float) -> int:
    """Drops monitor rows of episodes that ended after ``until`` (a checkpoint's time).

    Resuming redoes the steps after the checkpoint; without this their episodes would be
    counted twice in the learning curve. Each file is rewritten atomically. Returns the
    number of rows dropped.
    """
    dropped = 0
    for path in sorted((Path(run_dir) / MONITOR).glob("*.monitor.csv")):
        lines = path.read_text().splitlines(keepends=True)
        if len(lines) < 2 or not lines[0].startswith("#"):
            continue
        try:
            start = float(json.loads(lines[0][1:])["t_start"])
            columns = lines[1].strip().split(",")
            t = columns.index("t")
        except (ValueError, KeyError, TypeError):
            continue
        kept = lines[:2]
        for line in lines[2:]:
            try:
                ended = start + float(line.split(",")[t])
            except (ValueError, IndexError):
                ended = float("inf")  # a torn last row from a kill
            if ended <= until:
                kept.append(line)
        if len(kept) < len(lines):
            dropped += len(lines) - len(kept)
            atomic_write(path, "".join(kept))
    return dropped


# --------------------------------------------------------------------------- reading


def load_run(run_dir: str | Path) -> RunInfo:
    """Reads a run folder's ``config.yaml`` (``pretrained:<name>``: a shipped agent's).

    Raises:
        ValueError: The folder does not exist, has no ``config.yaml``, or the config
            is unreadable or lacks ``env``/``algo``/``seed``.
    """
    from agents import pretrained

    if pretrained.is_reference(run_dir):  # a shipped agent: its folder holds config.yaml
        run_dir = pretrained.resolve(str(run_dir))
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"{path} is not a practicegym run folder (no such directory)")
    config_file = path / CONFIG
    if not config_file.exists():
        raise ValueError(f"{path} is not a practicegym run folder (no {CONFIG})")
    try:
        config = yaml.safe_load(config_file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(f"{config_file} is not readable YAML text ({first})") from None
    missing = [
        k for k in ("env", "algo", "seed") if not isinstance(config, dict) or k not in config
    ]
    if missing:
        raise ValueError(f"{config_file} is not a practicegym run config (missing {missing})")
    seed, env_kwargs = config["seed"], config.get("env_kwargs") or {}
    if isinstance(seed, bool) or not isinstance(seed, int) or not isinstance(env_kwargs, dict):
        raise ValueError(f"{config_file}: seed must be an integer and env_kwargs a mapping")
    if not isinstance(config["env"], str) or not isinstance(config["algo"], str):
        raise ValueError(f"{config_file}: env and algo must be names")
    return RunInfo(
        path=path,
        env=config["env"],
        algo=config["algo"],
        seed=seed,
        env_kwargs=dict(env_kwargs),
        config=config,
    )


def checkpoints(run_dir: str | Path) -> list[Checkpoint]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    found = []
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and p.name.isdigit() and (p / MODEL).exists():
                found.append(Checkpoint(p, int(p.name)))
    return sorted(found, key=lambda c: c.timesteps)


def latest_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """The newest complete checkpoint, or ``None``."""
    found = checkpoints(run_dir)
    return found[-1] if found else None


@dataclass(frozen=True)
class ObsNormalizer:
    """Frozen observation statistics of a VecNormalize, applied to one observation.

    Attributes:
        obs_rms: A RunningMeanStd, or a dict of them per normalised key (dict obs).
        clip_obs: Normalised values are clipped to ``[-clip_obs, clip_obs]``.
        epsilon: Added to the variance.
        enabled: False when the run normalised rewards only.
    """

    obs_rms: Any
    clip_obs: float
    epsilon: float
    enabled: bool

    @classmethod
    def from_vecnormalize(cls, norm: Any) -> ObsNormalizer:
        """Copies the statistics of a (training) VecNormalize."""
        import copy

        enabled = bool(norm.norm_obs)  # obs_rms exists only when observations are normalised
        rms = copy.deepcopy(norm.obs_rms) if enabled else None
        return cls(rms, float(norm.clip_obs), float(norm.epsilon), enabled)

    def normalize_obs(self, observation: Any) -> Any:
        """The observation as the policy saw it in training."""
        if not self.enabled:
            return observation
        if isinstance(self.obs_rms, dict):
            out = dict(observation)
            for key, rms in self.obs_rms.items():
                out[key] = self._apply(observation[key], rms)
            return out
        return self._apply(observation, self.obs_rms)

    def _apply(self, x: Any, rms: Any) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - rms.mean) / np.sqrt(rms.var + self.epsilon)
        return np.clip(z, -self.clip_obs, self.clip_obs).astype(np.float32)


def vecnormalize_file(folder: Path) -> Path | None:
    """The statistics file in ``folder`` (``vecnormalize.json``, or an old ``.pkl``), if any."""
    for name in (VECNORMALIZE, OLD_VECNORMALIZE):
        if (Path(folder) / name).exists():
            return Path(folder) / name
    return None


def load_vecnormalize(path: Path) -> ObsNormalizer:
    """Reads saved VecNormalize statistics as an :class:`ObsNormalizer`.

    Raises:
        ValueError: The file is malformed, or an old pickle (which is never unpickled).
    """
    from agents.modelfile import read_vecnormalize, rms_from_state

    state = read_vecnormalize(path)
    if not state["norm_obs"]:
        return ObsNormalizer(None, state["clip_obs"], state["epsilon"], False)
    obs = state["obs_rms"]
    if "array" in obs:
        rms = rms_from_state(obs["array"])
    else:
        rms = {k: rms_from_state(v) for k, v in obs["keys"].items()}
    return ObsNormalizer(rms, float(state["clip_obs"]), float(state["epsilon"]), True)


class RunPolicy:
    """A trained policy for one unbatched observation, with the run's normalisation.

    ``predict`` has SB3's signature plus ``action_masks`` (passed on to MaskablePPO).
    ``observation_space``/``action_space`` are the env's (SB3 stores image spaces
    channels-first; ``predict`` takes the env's layout).
    """

    def __init__(
        self,
        model: Any,
        obs_normalizer: Any = None,
        observation_space: Any = None,
        action_space: Any = None,
    ) -> None:
        self.model = model
        self.obs_normalizer = obs_normalizer
        self.observation_space = observation_space or model.observation_space
        self.action_space = action_space or model.action_space
        self._masked = takes_masks(model)

    def __getstate__(self) -> dict[str, Any]:
        # Picklable (for evaluation worker processes): the model travels as its zip bytes.
        import io

        buffer = io.BytesIO()
        self.model.save(buffer)
        cls = type(self.model)
        return {
            "model_class": (cls.__module__, cls.__qualname__),
            "model_zip": buffer.getvalue(),
            "obs_normalizer": self.obs_normalizer,
            "observation_space": self.observation_space,
            "action_space": self.action_space,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        import importlib
        import io

        module, name = state["model_class"]
        cls = getattr(importlib.import_module(module), name)
        # These bytes were written by this program's parent process (model.save of a model
        # it loaded safely), never read from a run folder, so SB3's own loader is used.
        model = _load_trusted(cls, io.BytesIO(state["model_zip"]), device="cpu")
        self.__init__(  # type: ignore[misc]
            model,
            state["obs_normalizer"],
            state["observation_space"],
            state["action_space"],
        )

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[Any, Any]:
        """Action for one observation (and the recurrent state, unused here)."""
        if self.obs_normalizer is not None:
            observation = self.obs_normalizer.normalize_obs(observation)
        kwargs: dict[str, Any] = {"deterministic": deterministic}
        if self._masked and action_masks is not None:
            kwargs["action_masks"] = action_masks
        return self.model.predict(observation, state, episode_start, **kwargs)


def load_policy(run_dir: str | Path, device: str = "cpu", checkpoint: bool = False) -> RunPolicy:
    """Loads a run's final model (or, with ``checkpoint``, its latest checkpoint).

    Falls back to the latest checkpoint when the run has no final model (interrupted).
    Nothing in the folder is unpickled: the model's pickled entries come from a template
    built from ``config.yaml`` (:func:`agents.modelfile.load_model`).
    ``pretrained:<name>`` loads a shipped agent (:func:`agents.pretrained.load_pretrained`).

    Raises:
        ValueError: Not a run folder, it holds no model at all, or a file is unreadable,
            malformed or could only be read by running code from it.
    """
    from agents import pretrained
    from agents.config import TrainConfig
    from agents.modelfile import load_model

    if pretrained.is_reference(run_dir):
        return pretrained.load_pretrained(str(run_dir), device=device)

    info = load_run(run_dir)
    model_path = info.path / MODEL
    norm_path = vecnormalize_file(info.path)
    if checkpoint or not model_path.exists():
        latest = latest_checkpoint(info.path)
        if latest is None:
            raise ValueError(f"{info.path} holds no model.zip and no checkpoint")
        model_path, norm_path = latest.model, latest.vecnormalize
    import_env_module(info.config.get("env_module"), run_dir=info.path)
    norm = load_vecnormalize(norm_path) if norm_path is not None else None
    import envs

    env = envs.make(info.env, **info.env_kwargs)
    try:
        config = TrainConfig.from_dict(_with_defaults(info, env))
        model = load_model(
            model_path, config, None, template_env=env, device=device, acting_only=True
        )
    finally:
        env.close()
    return RunPolicy(model, norm, env.observation_space, env.action_space)


def _with_defaults(info: RunInfo, env: Any) -> dict[str, Any]:
    """The run's config with defaults for keys a hand-written ``config.yaml`` may omit."""
    from agents.factory import choose_policy

    data = dict(info.config)
    data.setdefault("timesteps", 1)
    data.setdefault("env_kwargs", info.env_kwargs)
    data.setdefault("algo_kwargs", {})
    data.setdefault("policy_kwargs", {})
    if data.get("policy") in (None, "auto"):
        data["policy"] = choose_policy(env.observation_space)
    return data


def _load_trusted(cls: Any, source: Any, device: str) -> Any:
    # Acting needs no replay buffer: skip building one (HER's also needs a live env).
    no_buffer: dict[str, Any] = {
        "replay_buffer_class": None,
        "replay_buffer_kwargs": {},
        "buffer_size": 1,
    }
    return cls.load(source, device=device, custom_objects=no_buffer if _off_policy(cls) else None)


def _off_policy(cls: type) -> bool:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    return issubclass(cls, OffPolicyAlgorithm)
