"""A lookahead planner that drives with meta-actions by trying each one on a copy of the env.

The use case env copies exist for (tree search and open-loop planners, as rl-agents drives
highway-env): at every step the planner deep-copies the env once per meta-action, plays
that action and then ``IDLE`` for a few steps on the copy, and picks the action whose
discounted return was best, a termination without success (a crash, leaving the road)
counting as a heavy loss. Only the public Gymnasium API and ``copy.deepcopy`` are used,
so it drives any discrete-action practicegym env whose copies are faithful.
:class:`ReplayCopyable` makes any deterministic env copyable by replaying it from its
seed: slower, but exact, a yardstick where an env's own copies are missing or unfaithful.

Usage::

    python examples/planner.py --seed 3 --density 50                  # planner vs IDLE
    python examples/planner.py --seed 3 --density 50 --copies replay  # copies by replay

Example:
    >>> import envs
    >>> env = envs.make("driving-highway", action_type="discrete")
    >>> _ = env.reset(seed=0)
    >>> LookaheadPlanner(depth=2).act(env) in range(5)
    True
    >>> env.close()
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

META_ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
IDLE = 1


@dataclass(frozen=True)
class LookaheadPlanner:
    """Chooses the meta-action whose short rollout on an env copy scores best.

    Attributes:
        depth: Steps simulated per candidate: the action, then ``IDLE``.
        gamma: Discount of the rollout's rewards.
        failure_penalty: Subtracted when a rollout terminates without success.
    """

    depth: int = 8
    gamma: float = 0.95
    failure_penalty: float = 100.0

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")

    def act(self, env: gym.Env) -> int:
        """The best meta-action in ``env``'s current state (ties go to ``IDLE``).

        Args:
            env: A mid-episode env with a ``Discrete`` action space; it is not stepped.
        """
        n = int(env.action_space.n)  # type: ignore[attr-defined]
        candidates = [IDLE, *(a for a in range(n) if a != IDLE)]
        scores = {action: self.score(env, action) for action in candidates}
        return max(candidates, key=lambda a: scores[a])  # first maximum: IDLE on ties

    def score(self, env: gym.Env, action: int) -> float:
        """Discounted return of ``action`` then ``IDLE`` on a copy of ``env``."""
        sim = copy.deepcopy(env)
        try:
            total = 0.0
            for t in range(self.depth):
                _, reward, terminated, truncated, info = sim.step(action if t == 0 else IDLE)
                total += self.gamma**t * float(reward)
                if terminated and not info.get("is_success", False):
                    return total - self.failure_penalty
                if terminated or truncated:
                    break
            return total
        finally:
            sim.close()


class ReplayCopyable(gym.Wrapper):
    """Makes a deterministic env copyable by replay, whatever its ``deepcopy`` does.

    A copy is a fresh env from ``make_env``, reset with the same seed and options and
    given the same actions: exact for any env that is deterministic under a seed, at a
    cost that grows with the episode's length. A yardstick for envs whose own copies
    are missing or unfaithful.

    Args:
        make_env: Builds a fresh env (no argument).
    """

    def __init__(self, make_env: Callable[[], gym.Env]) -> None:
        super().__init__(make_env())
        self._make_env = make_env
        self._start: tuple[int, dict[str, Any] | None] | None = None
        self._actions: list[Any] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Resets the env; ``seed`` is required, since copies replay from it."""
        if seed is None:
            raise ValueError("ReplayCopyable needs reset(seed=...): copies replay from the seed")
        self._start, self._actions = (seed, copy.deepcopy(options)), []
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Steps the env and remembers ``action`` for copies."""
        self._actions.append(action)
        return self.env.step(action)

    def __deepcopy__(self, memo: dict[int, Any]) -> ReplayCopyable:
        new = ReplayCopyable(self._make_env)
        if self._start is not None:
            seed, options = self._start
            new.reset(seed=seed, options=copy.deepcopy(options))
            for action in self._actions:
                new.step(action)
        return new


@dataclass(frozen=True)
class EpisodeResult:
    """How one episode went.

    Attributes:
        episode_return: Sum of rewards.
        steps: Steps taken.
        terminated: Whether it ended by termination.
        crashed: ``info["crashed"]`` at the end (``False`` when the env has no such key).
        success: ``info["is_success"]`` at the end.
    """

    episode_return: float
    steps: int
    terminated: bool
    crashed: bool
    success: bool


def run_episode(
    env: gym.Env,
    policy: Callable[[gym.Env], int],
    *,
    seed: int,
    options: dict[str, Any] | None = None,
    max_steps: int = 1000,
) -> EpisodeResult:
    """Plays one episode of ``policy`` (a function of the env) from ``reset(seed=seed)``."""
    env.reset(seed=seed, options=options)
    total, info, terminated = 0.0, {}, False
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 - steps is reported
        _, reward, terminated, truncated, info = env.step(policy(env))
        total += float(reward)
        if terminated or truncated:
            break
    return EpisodeResult(
        episode_return=total,
        steps=steps,
        terminated=bool(terminated),
        crashed=bool(info.get("crashed", False)),
        success=bool(info.get("is_success", False)),
    )


def idle_policy(env: gym.Env) -> int:
    """Always ``IDLE``: keep lane and target speed."""
    return IDLE


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the planner and the IDLE policy on one highway episode and prints both."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="reset seed of the episode")
    parser.add_argument(
        "--density", type=float, default=50.0, help="traffic density, vehicles/km/lane"
    )
    parser.add_argument("--depth", type=int, default=8, help="planner rollout steps")
    parser.add_argument("--max-steps", type=int, default=150, help="episode step cap")
    parser.add_argument(
        "--copies",
        choices=("deepcopy", "replay"),
        default="deepcopy",
        help="how the planner copies the env: copy.deepcopy, or replay from the seed",
    )
    args = parser.parse_args(argv)

    import envs

    def make_env() -> gym.Env:
        return envs.make("driving-highway", action_type="discrete")

    planner = LookaheadPlanner(depth=args.depth)
    options = {"scenario": {"traffic_density": args.density}}
    for label, policy in (("IDLE", idle_policy), ("planner", planner.act)):
        env = ReplayCopyable(make_env) if args.copies == "replay" else make_env()
        try:
            result = run_episode(
                env, policy, seed=args.seed, options=options, max_steps=args.max_steps
            )
        finally:
            env.close()
        print(
            f"{label:8s} steps {result.steps:4d}  return {result.episode_return:8.2f}  "
            f"crashed {result.crashed}  success {result.success}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
