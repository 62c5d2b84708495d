"""Job manager shared by every session: a fair queue and a bounded set of workers on an executor (threads,
processes or Ray), dedupe by config key, runs served from the store when already finished, cancel, per-owner
limits, a work budget and a time limit per job. A worker that frees up takes the next job in round-robin order by
session together with the queued jobs that share its merge key (merging.py): they train as one batched job
(cross-session batching), each member's handle streaming and storing its own run."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
import traceback
from dataclasses import dataclass

from .adoption import store_location
from .budget import check_request
from .config import ConfigError, RunConfig
from .errors import DataError
from .executors import Executor, ThreadExecutor, TrainSpec, executor_from_env
from .groups import Group, as_stopped, deadline_after, member_records, stopped_message
from .handles import JobHandle, SweepHandle, batch_handle_key
from .limits import max_job_seconds, pause_seconds
from .merging import merge_key
from .queueing import FairQueue
from .replay import snapshot_from_records
from .store import FINISHED, RunRecord, RunStore, heartbeat_seconds
from .training import Snapshot, check_batch


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"env {name}={raw!r} must be a whole number >= 1")
    return int(raw)


class BusyError(RuntimeError):
    """Too many jobs queued overall or for one owner; the message says which cap."""


class JobManager:
    """submit() returns a JobHandle; identical running configs share one handle."""

    def __init__(self, store: RunStore, *, max_workers: int = 2, max_queued: int = 64, max_per_owner: int = 3,
                 grid_resolution: int = 60, snapshot_seconds: float = 0.2, executor: Executor | None = None,
                 max_batch: int = 64):
        self.store, self.grid_resolution, self.snapshot_seconds = store, grid_resolution, snapshot_seconds
        self.max_queued, self.max_per_owner, self.max_batch = max_queued, max_per_owner, max_batch
        self.executor = executor or ThreadExecutor(max_workers)
        self.jobs_started = 0                   # training jobs begun (a merged batch counts once)
        self._queue = FairQueue()
        self._lock = threading.Lock()
        self._active: dict[str, JobHandle] = {}
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"nonlin-train-{i}")
                         for i in range(self.executor.slots)]
        for worker in self._workers:
            worker.start()

    @classmethod
    def from_env(cls, store: RunStore, **kwargs) -> JobManager:
        """Caps from the environment: NONLIN_WORKERS (jobs training at once, 2), NONLIN_MAX_JOBS (queued or
        running overall, 64), NONLIN_MAX_JOBS_PER_SESSION (3), NONLIN_MERGE_MAX (members of a merged job, 64);
        the executor from NONLIN_EXECUTOR (threads, processes or ray)."""
        limits = {"max_workers": _env_int("NONLIN_WORKERS", 2), "max_queued": _env_int("NONLIN_MAX_JOBS", 64),
                  "max_per_owner": _env_int("NONLIN_MAX_JOBS_PER_SESSION", 3),
                  "max_batch": _env_int("NONLIN_MERGE_MAX", 64)}
        limits = {**limits, **kwargs}
        if "executor" not in limits:
            limits["executor"] = executor_from_env(limits["max_workers"])
        return cls(store, **limits)

    def submit(self, config: RunConfig, *, owner: str = "") -> JobHandle:
        return self.submit_batch([config], owner=owner)

    def submit_batch(self, configs: list[RunConfig], *, owner: str = "") -> JobHandle:
        """Train configs (equal but for seed/activation/lr/...) as one job; served from the store when all are
        stored, whatever today's caps (a stored run is not a new request). Otherwise ConfigError over a server
        cap, OverBudget over NONLIN_MAX_WORK, BusyError over the job caps."""
        key = batch_handle_key(configs)
        with self._lock:
            handle = self._active.get(key)
            if handle is not None:
                return handle
        cached = self._from_store(configs)
        if cached is not None:
            return cached
        check_batch(configs)
        check_request([configs])
        time_limit = max_job_seconds()
        with self._lock:
            if key in self._active:
                return self._active[key]
            self._check_caps(owner)
            handle = JobHandle(list(configs), key, owner=owner, time_limit=time_limit)
            self._active[key] = handle
        self._queue.put(handle, owner, merge_key(configs))
        return handle

    def submit_sweep(self, groups: list[list[RunConfig]], *, owner: str = "") -> SweepHandle:
        """Train each group (a valid batch) in turn in one worker; stored groups come from the store and
        groups already training elsewhere are shared. Counts as one job against the caps, the work budget
        (the groups it trains, together) and the time limit (from its start to its last group's end)."""
        for configs in groups:
            check_batch(configs)
        key = "s" + hashlib.sha256(",".join(batch_handle_key(g) for g in groups).encode()).hexdigest()[:15]
        with self._lock:
            if key in self._active:
                return self._active[key].sweep
        handles, fresh = [], []
        for configs in groups:
            handle = self.get(batch_handle_key(configs)) or self._from_store(configs)
            if handle is None:
                handle = JobHandle(list(configs), batch_handle_key(configs), owner=owner, in_sweep=True)
                fresh.append(handle)
            handles.append(handle)
        sweep = SweepHandle(handles, key, owner)
        if not fresh:
            return sweep
        check_request([h.configs for h in fresh], sweep=True)
        time_limit = max_job_seconds()
        for handle in fresh:
            handle.time_limit = time_limit
        with self._lock:
            self._check_caps(owner)
            for handle in fresh:
                self._active.setdefault(handle.key, handle)
            self._active[key] = _SweepSlot(sweep)
        self._queue.put(_QueuedSweep(key, fresh, sweep), owner)
        return sweep

    def _run_sweep(self, key: str, handles: list[JobHandle]) -> None:
        """The groups in turn until one fails (the others would fail alike: same data) or time is up."""
        deadline = deadline_after(handles[0].time_limit)
        try:
            for i, handle in enumerate(handles):
                if time.monotonic() > deadline:
                    self._close(handle, "stopped", stopped_message(handle.time_limit))
                    continue
                self._run_group([handle], deadline)
                if handle.status == "failed":
                    for rest in handles[i + 1:]:
                        self._close(rest, "failed", handle.message)
                    break
        finally:
            with self._lock:
                self._active.pop(key, None)

    def _check_caps(self, owner: str) -> None:
        """Raise BusyError over the overall or per-owner cap (a sweep counts once). Hold self._lock."""
        jobs = [h for h in self._active.values() if not getattr(h, "in_sweep", False)]   # a _SweepSlot counts
        if len(jobs) >= self.max_queued:
            raise BusyError(f"the server is busy: {len(jobs)} jobs are queued or running "
                            f"(cap {self.max_queued}, NONLIN_MAX_JOBS); try again in a moment")
        mine = sum(1 for h in jobs if owner and h.owner == owner)
        if owner and mine >= self.max_per_owner:
            raise BusyError(f"you already have {mine} jobs queued or running (cap {self.max_per_owner} per "
                            "session, NONLIN_MAX_JOBS_PER_SESSION); wait for one to finish or stop it")

    def get(self, key: str) -> JobHandle | None:
        with self._lock:
            handle = self._active.get(key)
        return None if isinstance(handle, _SweepSlot) else handle

    def queued_ahead(self, handle: JobHandle) -> int:
        """How many jobs (a sweep counts once) a worker takes before this queued one: the line is served
        round-robin by session. 0 for a job that is not queued."""
        if handle.status != "queued" or handle.finished:
            return 0
        ahead = 0
        for entry in self._queue.order():
            if entry is handle:
                return ahead
            jobs = entry.handles if isinstance(entry, _QueuedSweep) else [entry]
            ahead += not all(j._cancel.is_set() for j in jobs)                     # a cancelled one is skipped
        return 0

    def active(self) -> list[JobHandle]:
        with self._lock:
            return [h for h in self._active.values() if not isinstance(h, _SweepSlot)]

    def shutdown(self, wait: bool = True) -> None:
        """Cancel everything and stop the workers and the executor."""
        for handle in self.active():
            handle.cancel()
        for entry in self._queue.close():            # never started: closed as cancelled
            for handle in entry.handles if isinstance(entry, _QueuedSweep) else [entry]:
                self._close(handle, "cancelled", "the server is shutting down")
            if isinstance(entry, _QueuedSweep):
                with self._lock:
                    self._active.pop(entry.key, None)
        if wait:
            for worker in self._workers:
                worker.join()
        self.executor.shutdown()
        for handle in self.active():
            self._close(handle, "cancelled", "the server is shutting down")

    # --- internals -------------------------------------------------------------------------------
    def _from_store(self, configs: list[RunConfig]) -> JobHandle | None:
        records = [self.store.get(c.key) for c in configs]
        if not all(r is not None and r.status in FINISHED for r in records):
            return None
        try:
            snap = snapshot_from_records(records, self.grid_resolution)
        except (DataError, ConfigError):
            return None
        status = records[0].status if len(records) == 1 else "done"   # as _run reports a fresh job
        handle = JobHandle(list(configs), batch_handle_key(configs), status=status, snapshot=snap, from_cache=True,
                           message=next((r.message for r in records if r.message), ""))
        handle._done.set()
        return handle

    def _work(self) -> None:
        """A worker: take the next job in fair order (with the queued jobs that can train with it) and train it."""
        while (entries := self._queue.take(self.max_batch, self._joins)) is not None:
            if isinstance(entries[0], _QueuedSweep):
                self._run_sweep(entries[0].key, entries[0].handles)
            else:
                self._run_group(entries)

    def _joins(self, handle, group: list) -> bool:
        """May this queued job train with `group` as one batch? Not a sweep, not cancelled, not driven by its
        lab controls (a paused or stepped job trains alone), no config in common, under max_batch members."""
        if isinstance(handle, _QueuedSweep) or handle._cancel.is_set() or not handle.control.pristine:
            return False
        if len(group) == 1 and group[0] is handle:
            return True
        keys = {k for h in group for k in h.keys}
        return not keys.intersection(handle.keys) and len(keys) + len(handle.keys) <= self.max_batch

    def _run_group(self, handles: list[JobHandle], deadline: float | None = None) -> None:
        """Train jobs as one batch; each handle streams and stores its own members. A member job cancelled
        mid-way ends alone (stored with its history so far); at the deadline all end "stopped"."""
        for handle in [h for h in handles if h._cancel.is_set()]:
            self._close(handle, "cancelled", "cancelled before it started")
        handles = [h for h in handles if not h._cancel.is_set()]
        if not handles:
            return
        group = Group(handles)
        for handle in handles:
            handle.publish(status="running")
        time_limit = min(h.time_limit for h in handles)
        deadline = deadline_after(time_limit) if deadline is None else deadline
        timed_out = begun = False
        self.jobs_started += 1
        control = group.control
        # also while paused: other processes' (and hosts') recover() must not see these rows dead
        control.heartbeat = lambda: [self.store.touch(c.key) for h in group.live for c in h.configs]
        control.heartbeat_seconds = heartbeat_seconds()
        spec = TrainSpec(grid=True, grid_resolution=self.grid_resolution, snapshot_seconds=self.snapshot_seconds,
                         timelapse=True, pause_seconds=pause_seconds(), store_url=store_location(self.store),
                         time_limit=time_limit)
        snap = None
        try:
            last_touch, paused_since = time.monotonic(), None
            for snap in self.executor.stream(group.configs, spec, control):
                if not begun:                       # the data loaded: a DataError before this stores no running rows
                    for c in group.configs:
                        self.store.begin(c)
                    begun = True
                now = time.monotonic()
                if paused_since is not None:        # time paused does not count against the time limit
                    deadline, paused_since = deadline + now - paused_since, None
                paused = "paused" in snap.status and not snap.done
                for handle, part in group.live_parts(snap):
                    if handle._cancel.is_set() and not group.solo:
                        self._finish_member(group, handle, part)
                    elif not group.solo and not handle.control.pristine:
                        self._detach(group, handle, part)
                    elif paused or snap.done or snap.epoch >= handle.replay_to:    # not while retracing its steps
                        handle.publish(part, "paused" if paused else "running")
                if not group.live and not control.cancel_event.is_set():
                    control.cancel()                # every member cancelled: stop training
                if paused:
                    paused_since = now
                if now > deadline and not control.cancel_event.is_set():
                    timed_out = True
                    control.cancel()
                if now - last_touch > control.heartbeat_seconds:
                    control.heartbeat()
                    last_touch = now
            if timed_out:
                snap = as_stopped(snap, stopped_message(time_limit))
            for handle, part in group.live_parts(snap):
                self._finish_member(group, handle, part)
        except (DataError, ConfigError) as exc:
            for handle in group.live:
                self._fail(handle, str(exc), begun)
        except Exception as exc:  # noqa: BLE001 - a job must never take the worker down silently
            traceback.print_exc()
            for handle in group.live:
                self._fail(handle, f"internal error: {type(exc).__name__}: {exc}", begun)

    def _detach(self, group: Group, handle: JobHandle, part: Snapshot) -> None:
        """A member of a merged batch driven by its lab controls (pause, step, reset) leaves the batch and goes first
        in line to train alone: from epoch 0 again (the same numbers) up to where it was, then as the controls say."""
        group.live.remove(handle)
        handle.replay_to = handle.control.rebase(part.epoch)
        handle.publish(status="queued")
        self._queue.put_front(handle, handle.owner)

    def _finish_member(self, group: Group, handle: JobHandle, part: Snapshot) -> None:
        """Store a member job's runs and close its handle (a job cancelled inside a running batch: "cancelled")."""
        if not part.done:
            cancelled = ["cancelled" if s in ("running", "paused") else s for s in part.status]
            part = dataclasses.replace(part, status=cancelled, messages=[
                "cancelled by the user" if s == "cancelled" and not m else m for s, m in zip(cancelled, part.messages)])
        group.live.remove(handle)
        handle.snapshot = part
        for record in member_records(handle.configs, part):
            self.store.finish(record)
        overall = next((s for s in ("stopped", "cancelled", "paused") if s in part.status), "done")
        msg = next((m for m in part.messages if m), "")
        self._close(handle, overall if len(handle.configs) > 1 else part.status[0], msg)

    def _fail(self, handle: JobHandle, message: str, begun: bool) -> None:
        """A failed run is stored, to be seen and re-run; a sweep's group that never began training is not
        (its sweep reports the reason once)."""
        if begun or not handle.in_sweep:
            for c in handle.configs:
                self.store.finish(RunRecord(c.key, c, "failed", message))
        self._close(handle, "failed", message)

    def _close(self, handle: JobHandle, status: str, message: str) -> None:
        handle.publish(status=status, message=message)
        with self._lock:
            if self._active.get(handle.key) is handle:
                del self._active[handle.key]
        handle._done.set()
        handle.publish()


@dataclass(eq=False)
class _QueuedSweep:
    """A sweep's place in the queue: its groups train in turn in one worker."""
    key: str
    handles: list[JobHandle]
    sweep: SweepHandle


@dataclass(eq=False)
class _SweepSlot:
    """A running sweep's place in the active table (for dedupe and the caps)."""
    sweep: SweepHandle

    @property
    def owner(self) -> str:
        return self.sweep.owner
