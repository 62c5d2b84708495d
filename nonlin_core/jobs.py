"""Job manager shared by every session: a bounded worker pool, dedupe by config key, runs served
from the store when already finished, cancel, and per-owner limits."""
from __future__ import annotations

import hashlib
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import datasets
from .config import ConfigError, RunConfig
from .errors import DataError
from .grid import decision_grid
from .models import build_mlp, output_width
from .store import FINISHED, RunRecord, RunStore, history_lists
from .training import METRICS, Snapshot, Trainer, check_batch

ACTIVE = ("queued", "running")


class BusyError(RuntimeError):
    """Too many jobs queued overall or for one owner; the message says which cap."""


@dataclass(eq=False)
class JobHandle:
    """A submitted job: one run or a batch of K runs trained together."""
    configs: list[RunConfig]
    key: str
    status: str = "queued"                 # queued, running, done, failed, cancelled (member states: snapshot)
    message: str = ""
    snapshot: Snapshot | None = None       # latest; history so far, grid, finals when done
    from_cache: bool = False
    owner: str = ""
    submitted: float = field(default_factory=time.time)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.configs]

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def member_status(self, k: int = 0) -> str:
        """Status of member k: queued/running until its result exists."""
        if self.snapshot is not None and self.snapshot.status[k] != "running":
            return self.snapshot.status[k]
        return self.status


def batch_handle_key(configs: list[RunConfig]) -> str:
    if len(configs) == 1:
        return configs[0].key
    return "b" + hashlib.sha256(",".join(c.key for c in configs).encode()).hexdigest()[:15]


class JobManager:
    """submit() returns a JobHandle; identical running configs share one handle."""

    def __init__(self, store: RunStore, *, max_workers: int = 2, max_queued: int = 64, max_per_owner: int = 3,
                 grid_resolution: int = 60, snapshot_seconds: float = 0.2):
        self.store, self.grid_resolution, self.snapshot_seconds = store, grid_resolution, snapshot_seconds
        self.max_queued, self.max_per_owner = max_queued, max_per_owner
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nonlin-train")
        self._lock = threading.Lock()
        self._active: dict[str, JobHandle] = {}

    def submit(self, config: RunConfig, *, owner: str = "") -> JobHandle:
        return self.submit_batch([config], owner=owner)

    def submit_batch(self, configs: list[RunConfig], *, owner: str = "") -> JobHandle:
        """Train configs (equal but for seed/activation/lr/...) as one job; cached when all are stored."""
        key = batch_handle_key(configs)
        with self._lock:
            handle = self._active.get(key)
            if handle is not None:
                return handle
        cached = self._from_store(configs)
        if cached is not None:
            return cached
        check_batch(configs)
        with self._lock:
            if key in self._active:
                return self._active[key]
            if len(self._active) >= self.max_queued:
                raise BusyError(f"the server is busy: {len(self._active)} jobs are queued or running "
                                f"(cap {self.max_queued}); try again in a moment")
            mine = sum(1 for h in self._active.values() if owner and h.owner == owner)
            if owner and mine >= self.max_per_owner:
                raise BusyError(f"you already have {mine} jobs queued or running (cap {self.max_per_owner} "
                                "per session); wait for one to finish or stop it")
            handle = JobHandle(list(configs), key, owner=owner)
            self._active[key] = handle
        self._pool.submit(self._run, handle)
        return handle

    def get(self, key: str) -> JobHandle | None:
        with self._lock:
            return self._active.get(key)

    def active(self) -> list[JobHandle]:
        with self._lock:
            return list(self._active.values())

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

    def _run(self, handle: JobHandle) -> None:
        if handle._cancel.is_set():
            self._close(handle, "cancelled", "cancelled before it started")
            return
        handle.status = "running"
        try:
            for c in handle.configs:
                self.store.begin(c)
            trainer = Trainer(handle.configs)
            last_touch = time.monotonic()
            for snap in trainer.steps(grid=True, grid_resolution=self.grid_resolution, cancel=handle._cancel,
                                      snapshot_seconds=self.snapshot_seconds):
                handle.snapshot = snap
                if time.monotonic() - last_touch > 10:
                    for c in handle.configs:
                        self.store.touch(c.key)
                    last_touch = time.monotonic()
            for k, c in enumerate(handle.configs):
                m = snap.member(k)
                self.store.finish(RunRecord(c.key, c, m.status[0], m.messages[0], history_lists(
                    {name: m.history[name][0] for name in METRICS}), m.final[0], m.device, m.seconds,
                    state_dict=m.state_dicts[0]))
            overall = "cancelled" if "cancelled" in snap.status else "done"
            msg = next((m for m in snap.messages if m), "")
            self._close(handle, overall if len(handle.configs) > 1 else snap.status[0], msg)
        except (DataError, ConfigError) as exc:
            self._fail(handle, str(exc))
        except Exception as exc:  # noqa: BLE001 - a job must never take the worker down silently
            traceback.print_exc()
            self._fail(handle, f"internal error: {type(exc).__name__}: {exc}")

    def _fail(self, handle: JobHandle, message: str) -> None:
        for c in handle.configs:
            self.store.finish(RunRecord(c.key, c, "failed", message))
        self._close(handle, "failed", message)

    def _close(self, handle: JobHandle, status: str, message: str) -> None:
        handle.status, handle.message = status, message
        with self._lock:
            if self._active.get(handle.key) is handle:
                del self._active[handle.key]
        handle._done.set()


def snapshot_from_records(records: list[RunRecord], grid_resolution: int = 60) -> Snapshot:
    """A final Snapshot rebuilt from stored runs: history, finals, state dicts and a fresh grid."""
    import torch

    c0 = records[0].config
    data = datasets.load(c0)
    n = max(len(r.history.get("epoch", [])) for r in records)   # a diverged member's history is shorter
    hist = {m: np.array([r.history[m] + [np.nan] * (n - len(r.history[m])) for r in records],
                        dtype=np.float64).reshape(len(records), n) for m in METRICS}
    grids = []
    for r in records:
        model = build_mlp(data.n_features, r.config.hidden_layers, output_width(r.config.loss, data.n_classes),
                          r.config.activation, seed=r.config.seed,
                          dtype=torch.float64 if r.config.dtype == "float64" else torch.float32)
        model.load_state_dict(r.state_dict)
        grids.append(decision_grid(model, data, loss=r.config.loss, resolution=grid_resolution)[1])
    return Snapshot(n, c0.epochs, hist, [r.status for r in records], [r.message for r in records],
                    np.stack(grids), [r.final for r in records], [r.state_dict for r in records],
                    seconds=sum(r.seconds for r in records), device=records[0].device)
