"""RunControl: pause, resume, step and reset a training run from another thread. The training thread asks
`next_action()` before each epoch and, when told to pause, blocks in `wait_while_paused()` on a Condition."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RunControl:
    """Thread-safe lab-instrument controls of one run; cancel() also wakes a paused run so it can end."""

    def __init__(self, cancel: threading.Event | None = None, heartbeat: Callable[[], None] | None = None,
                 heartbeat_seconds: float = 10.0):
        self.cancel_event = cancel or threading.Event()
        self.heartbeat, self.heartbeat_seconds = heartbeat, heartbeat_seconds   # called while paused (touch the store)
        self._cond = threading.Condition()
        self._paused = False
        self._budget: int | None = None          # epochs left to train before pausing (step)
        self._reset = False

    def pause(self) -> None:
        """Pause before the next epoch."""
        with self._cond:
            self._paused, self._budget = True, None
            self._cond.notify_all()

    def resume(self) -> None:
        """Train on until the run ends."""
        with self._cond:
            self._paused, self._budget = False, None
            self._cond.notify_all()

    def step(self, n: int = 1) -> None:
        """Train n more epochs, then pause."""
        if n < 1:
            raise ValueError(f"step: n must be >= 1, not {n}")
        with self._cond:
            self._paused, self._budget = False, n
            self._cond.notify_all()

    def reset(self) -> None:
        """Re-initialise the run (same seed) before the next epoch; paused stays paused."""
        with self._cond:
            self._reset = True
            self._cond.notify_all()

    def cancel(self) -> None:
        """End the run (it ends "cancelled"), paused or not."""
        with self._cond:
            self.cancel_event.set()
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def next_action(self) -> str:
        """For the training thread, before each epoch: "reset", "pause" or "train" (which uses one step)."""
        with self._cond:
            if self._reset:
                self._reset = False
                return "reset"
            if self._budget == 0:
                self._paused, self._budget = True, None
            if self._paused:
                return "pause"
            if self._budget is not None:
                self._budget -= 1
            return "train"

    def _awake(self) -> bool:
        return not self._paused or self._reset or self.cancel_event.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block until resumed, stepped, reset or cancelled (calling heartbeat every heartbeat_seconds);
        False when `timeout` seconds passed paused."""
        end = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            wait = min(left, self.heartbeat_seconds) if self.heartbeat else left
            with self._cond:
                if self._cond.wait_for(self._awake, None if wait == math.inf else max(0.0, wait)):
                    return True
            if time.monotonic() >= end:
                return False
            self.heartbeat()
