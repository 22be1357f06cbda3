"""The SB3 bridge: :class:`CurriculumCallback` runs a scheduler inside ``model.learn``.

It feeds every worker's episode results to the scheduler and sends its decisions back.

How decisions reach workers. SB3 ``VecEnv`` s reset a worker *inside* the ``step`` call
that ends its episode, so when the callback sees an episode end, that worker's next
episode has already been drawn. A decision therefore takes effect from the worker's
*next-but-one* episode (one episode of delay per worker):

* shared schedulers (``uniform``, ``linear``, ``stages``): after any episode end, when the
  scheduler's distribution changed, it is sent to all workers at once (workers in
  mid-episode use it from their very next reset);
* per-worker schedulers (``learning-progress``, ``plr``): the worker whose episode just
  ended receives its own draw (a bin's distribution or a one-level replay).

Distributions travel as plain dicts (``Distribution.to_dict()``) through
``env_method("set_distribution", ...)``, which works with ``DummyVecEnv``,
``SubprocVecEnv`` and batched Gymnasium vector envs (``agents.vecenv.GymVectorAdapter``
routes it to each world) and through ``VecNormalize``/``VecMonitor`` wrappers. The callback
tracks which scheduler ``version`` each worker's episode was drawn under, so schedulers
never credit the delayed episodes to the wrong decision. Workers' first episodes come
from the distribution the envs were built with (pass ``scheduler.distribution()`` as the
env's split to avoid even that).

Logged under ``curriculum/``: the scheduler's :meth:`metrics` (difficulty, per-bin
success and sampling weights, ...), the recent success rate and pushes made.
"""

from __future__ import annotations

import json
import os
from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from curricula.base import CurriculumScheduler

__all__ = ["CurriculumCallback"]


class CurriculumCallback(BaseCallback):
    """Runs a curriculum inside ``model.learn`` (see the module docstring).

    Args:
        scheduler: The curriculum.
        verbose: 1 prints each change of a shared distribution.
        log_every: Record metrics every this many rollouts (rollout end is when SB3
            dumps its logs for on-policy algorithms).

    Example:
        >>> import envs, curricula
        >>> from stable_baselines3 import PPO
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> venv = make_vec_env(lambda: envs.make("point"), n_envs=2, seed=0)
        >>> space = venv.get_attr("scenario_space")[0]
        >>> sched = curricula.make_scheduler("linear", space, seed=0, total_timesteps=256)
        >>> model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1,
        ...             policy_kwargs={"net_arch": [16]}, seed=0)
        >>> _ = model.learn(256, callback=curricula.CurriculumCallback(sched))
        >>> sched.difficulty > 0
        True
    """

    def __init__(
        self, scheduler: CurriculumScheduler, verbose: int = 0, log_every: int = 1
    ) -> None:
        super().__init__(verbose)
        if not isinstance(scheduler, CurriculumScheduler):
            raise ValueError(
                f"scheduler must be a CurriculumScheduler, got {type(scheduler).__name__}"
            )
        self.scheduler = scheduler
        self.log_every = max(1, int(log_every))
        self.pushes = 0
        self._rollouts = 0
        self._last_shared: str | None = None
        self._active_version: list[int | None] = []
        self._started_version: list[int | None] = []
        self._returns = np.zeros(0)
        self._lengths = np.zeros(0, dtype=int)
        self._recent_success: deque[float] = deque(maxlen=100)
        self._step_scenarios: list[list[dict[str, Any]]] = []

    # ------------------------------------------------------------------ SB3 hooks

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        if len(self._active_version) != n:  # first learn(); later calls continue episodes
            self._returns = np.zeros(n)
            self._lengths = np.zeros(n, dtype=int)
            self._started_version = [None] * n
            self._active_version = [None] * n
        if getattr(self.scheduler, "wants_value_l1", False) and not hasattr(
            self.model, "rollout_buffer"
        ):
            raise ValueError(
                "plr score 'value-l1' needs an on-policy algorithm with a rollout buffer "
                f"(PPO, A2C); {type(self.model).__name__} has none; use 'return-surprise'"
            )
        self.scheduler.on_timesteps(self.num_timesteps)
        try:
            if self.scheduler.per_worker:
                for i in range(n):
                    self._push(self.scheduler.distribution(i), [i])
            else:
                self._push_shared(force=True)
        except AttributeError as err:  # the first push: the envs cannot take a distribution
            raise ValueError(
                "the training envs have no set_distribution(); curricula need practicegym "
                f"ScenarioEnvs (or wrappers forwarding it): {err}"
            ) from None

    def _on_rollout_start(self) -> None:
        self._step_scenarios = []

    def _on_step(self) -> bool:
        self.scheduler.on_timesteps(self.num_timesteps)
        dones = np.asarray(self.locals["dones"])
        infos = self.locals["infos"]
        rewards = np.asarray(self.locals.get("rewards", np.zeros(len(dones))), dtype=float)
        self._returns += rewards.reshape(-1)[: len(self._returns)]
        self._lengths += 1
        if getattr(self.scheduler, "wants_value_l1", False):
            self._step_scenarios.append([info.get("scenario") for info in infos])
        finished = [int(i) for i in np.flatnonzero(dones)]
        for i in finished:
            self._finish_episode(i, infos[i])
        if finished:
            if self.scheduler.per_worker:
                for i in finished:
                    self._push(self.scheduler.distribution(i), [i])
            else:
                self._push_shared()
        return True

    def _on_rollout_end(self) -> None:
        if getattr(self.scheduler, "wants_value_l1", False):
            self._score_value_l1()
        self._rollouts += 1
        if self._rollouts % self.log_every:
            return
        for key, value in self.scheduler.metrics().items():
            self.logger.record(f"curriculum/{key}", value)
        if self._recent_success:
            self.logger.record("curriculum/success_rate", float(np.mean(self._recent_success)))
        self.logger.record("curriculum/pushes", self.pushes)
        self.logger.record("curriculum/episodes", self.scheduler.episodes)

    # ------------------------------------------------------------------- helpers

    def _finish_episode(self, i: int, info: dict[str, Any]) -> None:
        scenario = info.get("scenario")
        if scenario is None:
            raise ValueError(
                f"worker {i} ended an episode without info['scenario']; curricula need a "
                "practicegym ScenarioEnv (or any env reporting its scenario in info)"
            )
        episode = info.get("episode")
        if episode is not None:
            ret, length = float(episode["r"]), int(episode["l"])
        else:
            ret, length = float(self._returns[i]), int(self._lengths[i])
        success = info.get("is_success")
        self.scheduler.update_on_episode(
            scenario,
            ret,
            length,
            None if success is None else bool(success),
            worker=i,
            version=self._started_version[i],
        )
        if success is not None:
            self._recent_success.append(float(success))
        # The auto-reset inside this step drew the next episode under the active version.
        self._started_version[i] = self._active_version[i]
        self._returns[i] = 0.0
        self._lengths[i] = 0

    def _push_shared(self, force: bool = False) -> None:
        dist = self.scheduler.distribution()
        key = json.dumps(dist.to_dict(), sort_keys=True)
        if force or key != self._last_shared:
            self._last_shared = key
            self._push(dist, None)
            if self.verbose:
                print(f"curriculum: {self.scheduler.name} -> {dist.to_dict()}")

    def _push(self, dist: Any, indices: list[int] | None) -> None:
        self.training_env.env_method("set_distribution", dist.to_dict(), indices=indices)
        targets = range(len(self._active_version)) if indices is None else indices
        for i in targets:
            self._active_version[i] = self.scheduler.version
        self.pushes += 1

    def _score_value_l1(self) -> None:
        buffer = getattr(self.model, "rollout_buffer", None)
        advantages = getattr(buffer, "advantages", None)
        starts = getattr(buffer, "episode_starts", None)
        steps = len(self._step_scenarios)
        if advantages is None or steps == 0:
            return
        advantages = np.asarray(advantages)[:steps]
        starts = np.asarray(starts)[:steps]
        n_envs = advantages.shape[1]
        for env in range(n_envs):
            begin = 0
            for t in range(steps):
                last = t == steps - 1 or bool(starts[t + 1, env])
                if last:
                    scenario = self._step_scenarios[t][env]
                    if scenario is not None:
                        segment = advantages[begin : t + 1, env]
                        self.scheduler.observe_score(  # type: ignore[attr-defined]
                            scenario, float(np.abs(segment).mean())
                        )
                    begin = t + 1

    def save_state(self, path: str | os.PathLike) -> None:
        """Writes the scheduler's state as JSON (for checkpoints)."""
        self.scheduler.save(path)
