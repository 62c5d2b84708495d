"""Job manager shared by every session: a bounded worker pool, dedupe by config key, runs served
from the store when already finished, cancel, per-owner limits, a work budget and a time limit per job."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import datasets
from .budget import check_request
from .config import ConfigError, RunConfig
from .errors import DataError
from .flow import restored, stored_history
from .grid import decision_grid
from .handles import JobHandle, SweepHandle, batch_handle_key
from .limits import max_job_seconds, pause_seconds
from .models import load_mlp
from .snapshot import padded_history
from .store import FINISHED, RunRecord, RunStore, history_lists
from .timelapse import Timelapse
from .training import METRICS, Snapshot, Trainer, check_batch


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
                 grid_resolution: int = 60, snapshot_seconds: float = 0.2):
        self.store, self.grid_resolution, self.snapshot_seconds = store, grid_resolution, snapshot_seconds
        self.max_queued, self.max_per_owner = max_queued, max_per_owner
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nonlin-train")
        self._lock = threading.Lock()
        self._active: dict[str, JobHandle] = {}

    @classmethod
    def from_env(cls, store: RunStore, **kwargs) -> JobManager:
        """Caps from the environment: NONLIN_WORKERS (training threads, 2), NONLIN_MAX_JOBS (queued or
        running overall, 64), NONLIN_MAX_JOBS_PER_SESSION (3)."""
        limits = {"max_workers": _env_int("NONLIN_WORKERS", 2), "max_queued": _env_int("NONLIN_MAX_JOBS", 64),
                  "max_per_owner": _env_int("NONLIN_MAX_JOBS_PER_SESSION", 3)}
        return cls(store, **{**limits, **kwargs})

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
        self._pool.submit(self._run, handle)
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
        self._pool.submit(self._run_sweep, key, fresh)
        return sweep

    def _run_sweep(self, key: str, handles: list[JobHandle]) -> None:
        """The groups in turn until one fails (the others would fail alike: same data) or time is up."""
        deadline = _deadline(handles[0].time_limit)
        try:
            for i, handle in enumerate(handles):
                if time.monotonic() > deadline:
                    self._close(handle, "stopped", _stopped_message(handle.time_limit))
                    continue
                self._run(handle, deadline)
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
        """How many jobs (a sweep counts once) wait for a worker before this queued one: the pool serves
        first come, first served. 0 for a job that is not queued."""
        if handle.status != "queued" or handle.finished:
            return 0
        with self._lock:
            entries = list(self._active.values())
        ahead = 0
        for entry in entries:
            jobs = entry.sweep.groups if isinstance(entry, _SweepSlot) else [entry]
            if entry is handle or getattr(entry, "in_sweep", False):
                continue
            waiting = all(j.status == "queued" and not j._cancel.is_set() for j in jobs)    # a cancelled one is skipped
            if waiting and min(j.order for j in jobs) < handle.order:
                ahead += 1
        return ahead

    def active(self) -> list[JobHandle]:
        with self._lock:
            return [h for h in self._active.values() if not isinstance(h, _SweepSlot)]

    def shutdown(self, wait: bool = True) -> None:
        """Cancel everything and stop the workers."""
        for handle in self.active():
            handle.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        for handle in self.active():  # never started: close them as cancelled
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

    def _run(self, handle: JobHandle, deadline: float | None = None) -> None:
        """Train a job; at its deadline it is cancelled and its members end "stopped" with their history so far."""
        if handle._cancel.is_set():
            self._close(handle, "cancelled", "cancelled before it started")
            return
        handle.publish(status="running")
        deadline = _deadline(handle.time_limit) if deadline is None else deadline
        timed_out = begun = False
        try:
            trainer = Trainer(handle.configs)           # loads the data: a DataError here stores no running rows
            for c in handle.configs:
                self.store.begin(c)
            begun = True

            def touch_rows() -> None:   # also while paused: other processes' recover() must not see it dead
                for c in handle.configs:
                    self.store.touch(c.key)

            handle.control.heartbeat = touch_rows
            last_touch, paused_since = time.monotonic(), None
            for snap in trainer.steps(grid=True, grid_resolution=self.grid_resolution, timelapse=True,
                                      control=handle.control, pause_seconds=pause_seconds(),
                                      snapshot_seconds=self.snapshot_seconds):
                now = time.monotonic()
                if paused_since is not None:            # time paused does not count against the time limit
                    deadline, paused_since = deadline + now - paused_since, None
                paused = "paused" in snap.status and not snap.done
                handle.publish(snap, "paused" if paused else "running")
                if paused:
                    paused_since = now
                if now > deadline and not handle._cancel.is_set():
                    timed_out = True
                    handle._cancel.set()
                if now - last_touch > 10:
                    touch_rows()
                    last_touch = now
            if timed_out:
                snap = handle.snapshot = _as_stopped(snap, _stopped_message(handle.time_limit))
            for k, c in enumerate(handle.configs):
                m = snap.member(k)
                self.store.finish(RunRecord(c.key, c, m.status[0], m.messages[0], stored_history(history_lists(
                    {name: m.history[name][0] for name in METRICS}), m), m.final[0], m.device, m.seconds,
                    state_dict=m.state_dicts[0], timelapse=m.timelapse))
            overall = next((s for s in ("stopped", "cancelled", "paused") if s in snap.status), "done")
            msg = next((m for m in snap.messages if m), "")
            self._close(handle, overall if len(handle.configs) > 1 else snap.status[0], msg)
        except (DataError, ConfigError) as exc:
            self._fail(handle, str(exc), begun)
        except Exception as exc:  # noqa: BLE001 - a job must never take the worker down silently
            traceback.print_exc()
            self._fail(handle, f"internal error: {type(exc).__name__}: {exc}", begun)

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


def _deadline(time_limit: float) -> float:
    return time.monotonic() + time_limit if time_limit else float("inf")


def _stopped_message(time_limit: float) -> str:
    return f"stopped at the time limit of {time_limit:g} s (NONLIN_MAX_JOB_SECONDS)"


def _as_stopped(snap: Snapshot, message: str) -> Snapshot:
    """The final snapshot of a job cancelled at its time limit: its cancelled members are "stopped"."""
    stopped = [s == "cancelled" for s in snap.status]
    return dataclasses.replace(snap, status=["stopped" if x else s for x, s in zip(stopped, snap.status)],
                               messages=[message if x else m for x, m in zip(stopped, snap.messages)])


@dataclass(eq=False)
class _SweepSlot:
    """A running sweep's place in the active table (for dedupe and the caps)."""
    sweep: SweepHandle

    @property
    def owner(self) -> str:
        return self.sweep.owner


def snapshot_from_records(records: list[RunRecord], grid_resolution: int = 60) -> Snapshot:
    """A final Snapshot rebuilt from stored runs: history, finals, state dicts, time-lapse (None unless every
    member has one) and a fresh grid."""
    c0 = records[0].config
    data = datasets.load(c0)
    hist = padded_history([r.history for r in records])   # a diverged member's history is shorter
    grids = [decision_grid(load_mlp(r.config, data.n_features, data.n_classes, r.state_dict), data,
                           loss=r.config.loss, resolution=grid_resolution)[1] for r in records]
    epochs_done = hist["train_loss"].shape[1]
    return Snapshot(epochs_done, c0.epochs, hist, [r.status for r in records], [r.message for r in records],
                    np.stack(grids), [r.final for r in records], [r.state_dict for r in records],
                    seconds=sum(r.seconds for r in records), device=records[0].device,
                    timelapse=Timelapse.stack([r.timelapse for r in records]),
                    **restored([r.history for r in records], epochs_done))
