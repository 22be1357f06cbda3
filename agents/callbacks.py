"""SB3 callbacks of the training CLI: checkpoints, stop-on-signal and progress summaries."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["CheckpointCallback", "StopFlag", "StopOnSignal", "SummaryCallback", "catch_signals"]


class CheckpointCallback(BaseCallback):
    """Calls ``save(num_timesteps)`` every ``freq`` timesteps (summed over workers).

    Args:
        freq: Timesteps between checkpoints; 0 disables periodic checkpoints.
        save: Writes one checkpoint (atomically) for the given timestep count.
    """

    def __init__(self, freq: int, save: Callable[[int], Any], verbose: int = 0) -> None:
        super().__init__(verbose)
        self.freq = freq
        self.save = save
        self._next = 0

    def _on_training_start(self) -> None:
        if self.freq > 0:
            self._next = (self.num_timesteps // self.freq + 1) * self.freq

    def _on_step(self) -> bool:
        if self.freq > 0 and self.num_timesteps >= self._next:
            self.save(self.num_timesteps)
            self._next = (self.num_timesteps // self.freq + 1) * self.freq
        return True


class StopFlag:
    """Set by a signal handler; read by :class:`StopOnSignal`."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def set(self, signum: int) -> None:
        """Records the signal that asked training to stop."""
        self.signum = signum

    def __bool__(self) -> bool:
        return self.signum is not None


class StopOnSignal(BaseCallback):
    """Ends ``learn`` at the next step once ``flag`` is set (SIGINT/SIGTERM)."""

    def __init__(self, flag: StopFlag) -> None:
        super().__init__()
        self.flag = flag

    def _on_step(self) -> bool:
        return not self.flag


@contextmanager
def catch_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Routes SIGINT and SIGTERM to ``flag`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda signum, frame: flag.set(signum))
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SummaryCallback(BaseCallback):
    """Prints one line every ``every`` seconds: steps, steps/s, episodes, success, return.

    Success and return are means over the model's recent-episode buffer (last 100
    episodes, from the Monitor wrappers).
    """

    def __init__(self, total: int, every: float, print_fn: Callable[[str], Any] = print) -> None:
        super().__init__()
        self.total = total
        self.every = every
        self.print_fn = print_fn
        self._t0 = 0.0
        self._steps0 = 0
        self._last = 0.0

    def _on_training_start(self) -> None:
        self._t0 = self._last = time.monotonic()
        self._steps0 = self.num_timesteps

    def _on_step(self) -> bool:
        now = time.monotonic()
        if self.every > 0 and now - self._last >= self.every:
            self._last = now
            self.print_fn(self.line(now))
        return True

    def line(self, now: float) -> str:
        """The summary line at time ``now``."""
        rate = (self.num_timesteps - self._steps0) / max(now - self._t0, 1e-9)
        episodes = list(self.model.ep_info_buffer or [])
        parts = [f"steps {self.num_timesteps}/{self.total}", f"{rate:.0f} steps/s"]
        if episodes:
            ret = np.mean([e["r"] for e in episodes])
            parts.append(f"return {ret:.2f}")
            succ = [e["is_success"] for e in episodes if "is_success" in e]
            if succ:
                parts.append(f"success {np.mean(succ):.2f} (last {len(succ)} ep)")
        return " | ".join(parts)
