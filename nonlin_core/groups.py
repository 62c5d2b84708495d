"""A job's training as the manager sees it: the jobs of one batch (one job, or several merged), their time limit."""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .config import RunConfig
from .control import RunControl
from .flow import stored_history
from .handles import JobHandle
from .snapshot import Snapshot
from .store import RunRecord, history_lists
from .training import METRICS


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


def member_records(configs: list[RunConfig], snap: Snapshot) -> list[RunRecord]:
    """The run records of a (batched) job's final snapshot, one per config, as the store keeps them."""
    records = []
    for k, c in enumerate(configs):
        m = snap.member(k)
        history = stored_history(history_lists({name: m.history[name][0] for name in METRICS}), m)
        records.append(RunRecord(c.key, c, m.status[0], m.messages[0], history, m.final[0] if m.final else None,
                                 m.device, m.seconds, state_dict=m.state_dicts[0] if m.state_dicts else None,
                                 timelapse=m.timelapse))
    return records
