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
        self._listeners: list[Callable[[str, tuple], None]] = []   # relays of each call to a remote run

    def attach(self, listener: Callable[[str, tuple], None]) -> dict:
        """Relay every later call (name, args) to listener; returns the state now, for RunControl.restore."""
        with self._cond:
            self._listeners.append(listener)
            return {"paused": self._paused, "budget": self._budget, "reset": self._reset,
                    "cancelled": self.cancel_event.is_set()}

    def detach(self, listener: Callable[[str, tuple], None]) -> None:
        with self._cond:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def restore(self, state: dict) -> None:
        """Take over the state attach() returned (a remote copy of a control)."""
        with self._cond:
            self._paused, self._budget, self._reset = state["paused"], state["budget"], state["reset"]
            if state["cancelled"]:
                self.cancel_event.set()
            self._cond.notify_all()

    def _relay(self, name: str, *args) -> None:
        for listener in list(self._listeners):
            listener(name, args)

    def pause(self) -> None:
        """Pause before the next epoch."""
        with self._cond:
            self._paused, self._budget = True, None
            self._cond.notify_all()
        self._relay("pause")

    def resume(self) -> None:
        """Train on until the run ends."""
        with self._cond:
            self._paused, self._budget = False, None
            self._cond.notify_all()
        self._relay("resume")

    def step(self, n: int = 1) -> None:
        """Train n more epochs, then pause."""
        if n < 1:
            raise ValueError(f"step: n must be >= 1, not {n}")
        with self._cond:
            self._paused, self._budget = False, n
            self._cond.notify_all()
        self._relay("step", n)

    def reset(self) -> None:
        """Re-initialise the run (same seed) before the next epoch; paused stays paused."""
        with self._cond:
            self._reset = True
            self._cond.notify_all()
        self._relay("reset")

    def cancel(self) -> None:
        """End the run (it ends "cancelled"), paused or not."""
        with self._cond:
            self.cancel_event.set()
            self._cond.notify_all()
        self._relay("cancel")

    def rebase(self, epochs: int) -> int:
        """For a run that starts over from epoch 0 to reach `epochs` again (a member leaving a merged batch): the
        pending pause becomes "train `epochs` epochs, then pause", a pending step n "epochs + n"; a pending reset
        starts it over, running. Returns the epoch up to which the run only retraces its steps (0 after a reset)."""
        with self._cond:
            if self._reset:
                self._reset, self._paused, self._budget = False, False, None
                return 0
            if self._paused:
                self._paused, self._budget = False, epochs
            elif self._budget is not None:
                self._budget += epochs
            return epochs

    @property
    def pristine(self) -> bool:
        """Never paused, stepped, reset or cancelled: free to train inside a merged batch."""
        with self._cond:
            return not (self._paused or self._budget is not None or self._reset or self.cancel_event.is_set())

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
