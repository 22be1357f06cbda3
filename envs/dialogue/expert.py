"""PyDial-style handcrafted dialogue policy (HDC), the ``dialogue`` env's scripted expert.

It reads the system's belief state (``env.unwrapped.tracker`` — what the dialogue
manager knows, never the user's goal) and follows PyDial's HDC rules: answer pending
user requests about the offered venue; confirm a slot whose top belief is uncertain;
ask for unfilled slots while several venues match; otherwise offer the best match.

>>> from envs.dialogue.env import DialogueEnv
>>> env = DialogueEnv()
>>> policy = HandcraftedPolicy(env)
>>> obs, info = env.reset(seed=3, options={"scenario": {"ser": 0.0, "unfriendly": 0.0}})
>>> done = False
>>> while not done:
...     action, _ = policy.predict(obs)
...     obs, reward, terminated, truncated, info = env.step(action)
...     done = terminated or truncated
>>> info["is_success"]
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.dialogue.env import INFORM_ACT, OFFER, S

__all__ = ["CONFIRM_THRESHOLD", "HandcraftedPolicy"]

CONFIRM_THRESHOLD = 0.7  # confirm a slot whose top belief is below this
MAX_ASKS = 2  # ask for a slot at most this often


class HandcraftedPolicy:
    """Rule-based dialogue manager over the env's belief tracker.

    Args:
        env: A ``DialogueEnv`` (wrappers allowed; ``env.unwrapped`` is read).
        confirm_threshold: Top belief below which a slot is confirmed before offering.
    """

    def __init__(self, env: Any, confirm_threshold: float = CONFIRM_THRESHOLD) -> None:
        self.env = env
        self.confirm_threshold = confirm_threshold

    def act(self) -> int:
        """The next summary act for the env's current belief state."""
        base = self.env.unwrapped
        t = base.tracker
        dom = base.domain
        n = dom.n_slots
        if t.offered >= 0 and t.requested and t.offer_consistent() and not t.offer_rejected:
            return INFORM_ACT
        for s in range(n):
            if t.top[s] >= 0 and not t.confirmed[s] and t.top_p[s] < self.confirm_threshold:
                return S + s
        if t.matches > 1:
            for s in range(n):
                if t.top[s] < 0 and t.asked[s] < MAX_ASKS:
                    return s
        if max(t.top) < 0:
            return 0
        return OFFER

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        action_masks: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """SB3-style ``predict`` for one unbatched observation (reads the env's belief)."""
        return np.asarray(self.act()), state
