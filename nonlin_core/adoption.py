"""A job whose server died while a remote worker (a Ray actor) trained it: the worker adopts it. It claims the
job's rows in the run store (its own process owns them now and its heartbeat keeps them alive, so no replica
takes them for interrupted), trains on to the end or the job's time limit, and stores each run as the server
would have; a replica then serves them finished."""
from __future__ import annotations

import time

from .config import RunConfig
from .control import RunControl
from .groups import as_stopped, deadline_after, member_records, stopped_message
from .snapshot import Snapshot
from .store import RunRecord, RunStore, heartbeat_seconds, open_store

# rows the dead server had not ended; "interrupted": another replica saw the server die before this worker did
UNENDED = ("queued", "running", "interrupted")


def store_location(store: RunStore) -> str | None:
    """The URL (or SQLite file) another process opens this store by; None when it has neither."""
    url = getattr(store, "url", None)
    if url:
        return str(url)
    path = getattr(store, "path", None)
    return None if path is None else str(path)


class Adoption:
    """The rows of `configs` not finished yet, claimed in the store at store_url; step() per snapshot, then finish()."""

    def __init__(self, configs: list[RunConfig], store_url: str, time_limit: float):
        self.store = open_store(store_url)
        self.keys = {c.key for c in configs if (r := self.store.get(c.key)) is None or r.status in UNENDED}
        for c in configs:
            if c.key in self.keys:
                self.store.begin(c)                  # owner: this process, on this host
        self.time_limit, self.deadline = time_limit, deadline_after(time_limit)
        self.timed_out, self.last_touch = False, time.monotonic()

    def step(self, control: RunControl) -> None:
        """Keep the rows alive every heartbeat; stop the job at its time limit."""
        now = time.monotonic()
        if now - self.last_touch > heartbeat_seconds():
            for key in self.keys:
                self.store.touch(key)
            self.last_touch = now
        if now > self.deadline and not control.cancel_event.is_set():
            self.timed_out = True
            control.cancel()

    def finish(self, configs: list[RunConfig], snap: Snapshot | None, error: str = "") -> None:
        """Store the adopted runs from the final snapshot (failed with `error` when there is none), then close."""
        try:
            if snap is not None and self.timed_out:
                snap = as_stopped(snap, stopped_message(self.time_limit))
            if snap is None:
                records = [RunRecord(c.key, c, "failed", error or "the job ended without a result") for c in configs]
            else:
                records = member_records(configs, snap)
            for record in records:
                if record.key in self.keys:
                    self.store.finish(record)
        finally:
            self.store.close()
