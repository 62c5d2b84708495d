"""A job's training as the manager sees it: the jobs of one batch (one job, or several merged), their time limit."""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .control import RunControl
from .handles import JobHandle
from .snapshot import Snapshot


class Group:
    """Jobs training as one batch: their configs in order, each job's slice of members, the live ones."""

    def __init__(self, handles: list[JobHandle]):
        self.handles, self.live = handles, list(handles)
        self.configs = [c for h in handles for c in h.configs]
        self.solo = len(handles) == 1
        # one job: its own control (pause, step, reset); a merged batch: the batch's own (cancel per member)
        self.control = handles[0].control if self.solo else RunControl()
        ends = np.cumsum([len(h.configs) for h in handles])
        self.spans = {id(h): (int(e) - len(h.configs), int(e)) for h, e in zip(handles, ends)}

    def live_parts(self, snap: Snapshot) -> list[tuple[JobHandle, Snapshot]]:
        """(job, its members' snapshot) for every job still live."""
        return [(h, snap if self.solo else snap.members(*self.spans[id(h)])) for h in list(self.live)]


def deadline_after(time_limit: float) -> float:
    return time.monotonic() + time_limit if time_limit else float("inf")


def stopped_message(time_limit: float) -> str:
    return f"stopped at the time limit of {time_limit:g} s (NONLIN_MAX_JOB_SECONDS)"


def as_stopped(snap: Snapshot, message: str) -> Snapshot:
    """The final snapshot of a job cancelled at its time limit: its cancelled members are "stopped"."""
    stopped = [s == "cancelled" for s in snap.status]
    return dataclasses.replace(snap, status=["stopped" if x else s for x, s in zip(stopped, snap.status)],
                               messages=[message if x else m for x, m in zip(stopped, snap.messages)])
