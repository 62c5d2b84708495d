"""Job handles: what a page holds while a run, a batch of runs or a sweep trains, and after."""
from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import RunConfig
from .control import RunControl
from .training import Snapshot


@dataclass(eq=False)
class JobHandle:
    """A submitted job: one run or a batch of K runs trained together; pause/resume/step/reset drive it
    while it trains (a paused job keeps its worker until NONLIN_PAUSE_SECONDS, then ends "paused")."""
    configs: list[RunConfig]
    key: str
    status: str = "queued"                 # queued, running, paused, then done, failed, cancelled, stopped, paused
    message: str = ""
    snapshot: Snapshot | None = None       # latest; history so far, grid, finals when done
    from_cache: bool = False
    owner: str = ""
    in_sweep: bool = False                 # counted once, through its sweep, against the caps
    time_limit: float = 0.0                # seconds it may run (NONLIN_MAX_JOB_SECONDS when submitted); 0 = none
    replay_to: int = 0                     # left a merged batch: snapshots before this epoch retrace known steps
    order: int = field(default_factory=itertools.count().__next__)   # submission order (the pool is FIFO)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def __post_init__(self) -> None:
        self.control = RunControl(self._cancel)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.configs]

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        self.control.cancel()

    def pause(self) -> None:
        """Pause before the next epoch, keeping model, optimizer and shuffling state."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def step(self, n: int = 1) -> None:
        """Train n more epochs, then pause."""
        self.control.step(n)

    def reset(self) -> None:
        """Start again from the untrained model (same seed); a paused job stays paused."""
        self.control.reset()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def wait_until(self, predicate: Callable[[JobHandle], bool], timeout: float | None = None) -> bool:
        """Block until predicate(handle) holds, checked at each new snapshot and when the job ends."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def publish(self, snapshot: Snapshot | None = None, status: str | None = None, message: str | None = None) -> None:
        """For the job manager: a new snapshot and/or status; wakes wait_until."""
        with self._changed:
            if snapshot is not None:
                self.snapshot = snapshot
            if status is not None:
                self.status = status
            if message is not None:
                self.message = message
            self._changed.notify_all()

    def member_status(self, k: int = 0) -> str:
        """Status of member k: queued/running until its result exists."""
        if self.snapshot is not None and self.snapshot.status[k] != "running":
            return self.snapshot.status[k]
        return self.status


@dataclass(eq=False)
class SweepHandle:
    """Several batches trained one after another in one worker slot (a sweep: one batch per shape)."""
    groups: list[JobHandle]
    key: str
    owner: str = ""

    @property
    def finished(self) -> bool:
        return all(g.finished for g in self.groups)

    @property
    def status(self) -> str:
        """queued, running, then failed, stopped, cancelled or done (the first that any group ended with)."""
        if not self.finished:
            return "running" if any(g.status != "queued" for g in self.groups) else "queued"
        return next((s for s in ("failed", "stopped", "cancelled") if any(g.status == s for g in self.groups)), "done")

    @property
    def message(self) -> str:
        """Why the sweep ended as it did (once): its first failed, stopped or cancelled group's message."""
        ended = self.status
        return next((g.message for g in self.groups if g.status == ended and g.message), "")

    @property
    def progress(self) -> float:
        """0..1 over all members' epochs."""
        total = sum(len(g.configs) * g.configs[0].epochs for g in self.groups)
        done = sum(len(g.configs) * (g.configs[0].epochs if g.finished else g.snapshot.epoch if g.snapshot else 0)
                   for g in self.groups)
        return done / total if total else 1.0

    def cancel(self) -> None:
        for g in self.groups:
            g.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        for g in self.groups:
            if not g.wait(None if end is None else max(0.0, end - time.monotonic())):
                return False
        return True


def batch_handle_key(configs: list[RunConfig]) -> str:
    if len(configs) == 1:
        return configs[0].key
    return "b" + hashlib.sha256(",".join(c.key for c in configs).encode()).hexdigest()[:15]
