"""Job manager and run store: dedupe, runs served and replayed from the store, recovery after a
dead process, per-owner caps, failures and cancel."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from nonlin_core import RunConfig, datasets
from nonlin_core.errors import DataError
from nonlin_core.flow import stored_history
from nonlin_core.jobs import BusyError, JobHandle, JobManager
from nonlin_core.store import HOST_ID, PROCESS_TOKEN, STALE_SECONDS, RunRecord, SQLiteStore, history_lists
from nonlin_core.training import METRICS, train

QUICK = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=25, hidden_layers=(6,), device="cpu")
LONG = RunConfig(dataset="moons", n_samples=2000, noise=0.2, epochs=5000, hidden_layers=(32, 32), device="cpu")
TIMEOUT = 60


class RecordingStore:
    """A SQLiteStore that counts begin/finish calls and can hold a worker inside begin()."""

    def __init__(self, inner: SQLiteStore, hold: threading.Event | None = None):
        self.inner, self.hold = inner, hold
        self.begins: list[str] = []
        self.finishes: list[tuple[str, str]] = []
        self.entered = threading.Event()

    def begin(self, config):
        self.begins.append(config.key)
        self.entered.set()
        if self.hold is not None and not self.hold.wait(TIMEOUT):
            raise RuntimeError("the test never released the worker")
        self.inner.begin(config)

    def finish(self, record):
        self.finishes.append((record.key, record.status))
        self.inner.finish(record)

    def touch(self, key):
        self.inner.touch(key)

    def get(self, key):
        return self.inner.get(key)

    def list_runs(self, limit=100, status=None, *, offset=0):
        return self.inner.list_runs(limit, status, offset=offset)

    def count_runs(self, status=None):
        return self.inner.count_runs(status)


@pytest.fixture
def factory(store_path):
    """make_store() / make_manager(store, ...) / hold(); everything is released and shut down after the test."""
    made_managers: list[JobManager] = []
    made_stores: list[SQLiteStore] = []
    holds: list[threading.Event] = []

    class Factory:
        path = store_path

        @staticmethod
        def store() -> SQLiteStore:
            made_stores.append(SQLiteStore(store_path))
            return made_stores[-1]

        @staticmethod
        def manager(store, **kwargs) -> JobManager:
            kwargs = {"snapshot_seconds": 0.05, "grid_resolution": 10, **kwargs}
            made_managers.append(JobManager(store, **kwargs))
            return made_managers[-1]

        @staticmethod
        def hold() -> threading.Event:
            holds.append(threading.Event())
            return holds[-1]

    yield Factory
    for event in holds:
        event.set()
    for manager in made_managers:
        manager.shutdown()
    for store in made_stores:
        store.close()


def finished(handle: JobHandle) -> JobHandle:
    assert handle.wait(TIMEOUT), f"job {handle.key} did not finish"
    return handle


def wait_for_snapshot(handle: JobHandle) -> None:
    deadline = time.monotonic() + TIMEOUT
    while handle.snapshot is None:
        assert not handle.wait(0.01), "the job ended before its first snapshot"
        assert time.monotonic() < deadline, "no snapshot in time"


def assert_same_run(a, b):
    for m in METRICS:
        np.testing.assert_array_equal(a.history[m], b.history[m], err_msg=m)
    assert a.final == b.final
    assert a.status == b.status
    for sa, sb in zip(a.state_dicts, b.state_dicts):
        assert sa.keys() == sb.keys()
        for name in sa:
            assert torch.equal(sa[name], sb[name]), name
    assert a.timelapse is not None and b.timelapse is not None       # a stored run replays its time-lapse
    assert a.timelapse.epochs == b.timelapse.epochs and np.array_equal(a.timelapse.frames, b.timelapse.frames)


# --- dedupe and the store ------------------------------------------------------------------------
def test_two_submits_of_one_config_train_once(factory):
    store = RecordingStore(factory.store(), hold=factory.hold())
    manager = factory.manager(store)
    first = manager.submit(QUICK)
    assert store.entered.wait(TIMEOUT)               # the worker is inside begin(), the job is active
    second = manager.submit(QUICK)
    assert second is first and manager.get(QUICK.key) is first
    store.hold.set()
    finished(first)
    assert first.status == "done" and not first.from_cache
    assert store.begins == [QUICK.key]
    assert store.finishes == [(QUICK.key, "done")]
    assert [r.key for r in store.list_runs()] == [QUICK.key]
    third = manager.submit(QUICK)
    assert third is not first and third.from_cache and third.finished
    assert store.begins == [QUICK.key]               # served, not trained again
    assert manager.active() == []


def test_finished_config_is_served_from_the_store(factory):
    manager = factory.manager(factory.store())
    original = finished(manager.submit(QUICK))
    served = manager.submit(QUICK)
    assert served.from_cache and served.finished and served.status == "done"
    assert_same_run(served.snapshot, original.snapshot)
    assert served.snapshot.grid.shape == original.snapshot.grid.shape
    np.testing.assert_allclose(served.snapshot.grid, original.snapshot.grid, atol=1e-5)   # redrawn from the weights


def test_replayed_run_equals_the_original(factory):
    config = QUICK.replace(optimizer="adamw", lr=0.01, weight_decay=0.01, batch_size=16)
    store = factory.store()
    original = finished(factory.manager(store).submit(config)).snapshot
    record = store.get(config.key)
    assert record.status == "done" and record.config == config
    assert record.history == stored_history(history_lists({m: original.history[m][0] for m in METRICS}), original)
    assert {"grad_norm", "saturated", "dead"} < set(record.history)
    assert record.history["epoch"] == list(range(1, config.epochs + 1))
    assert record.final == original.final[0]
    assert record.state_dict.keys() == original.state_dicts[0].keys()
    for name, tensor in original.state_dicts[0].items():
        assert torch.equal(record.state_dict[name], tensor), name
    again = train(record.config)                     # the stored config reproduces the stored numbers
    assert stored_history(history_lists({m: again.history[m][0] for m in METRICS}), again) == record.history
    assert again.final[0] == record.final


def test_second_manager_on_the_same_file_serves_the_run(factory):
    first_store = factory.store()
    original = finished(factory.manager(first_store).submit(QUICK)).snapshot
    store = RecordingStore(SQLiteStore(factory.path))
    try:
        served = factory.manager(store).submit(QUICK)
        assert served.from_cache and store.begins == []
        assert_same_run(served.snapshot, original)
    finally:
        store.inner.close()


def test_batch_job_stores_every_member(factory):
    store = factory.store()
    manager = factory.manager(store)
    members = [QUICK.replace(seed=1), QUICK.replace(seed=2, activation="tanh")]
    batch = finished(manager.submit_batch(members))
    assert batch.status == "done" and batch.key not in (members[0].key, members[1].key)
    for k, config in enumerate(members):
        record = store.get(config.key)
        assert record.status == "done"
        assert record.history["test_loss"] == list(batch.snapshot.history["test_loss"][k])
        alone = manager.submit(config)
        assert alone.from_cache
        assert_same_run(alone.snapshot, batch.snapshot.member(k))
    again = manager.submit_batch(members)
    assert again.from_cache
    assert_same_run(again.snapshot, batch.snapshot)


DIVERGES = RunConfig(dataset="spiral", optimizer="sgd", lr=10.0, momentum=0.99, hidden_layers=(64, 64, 64),
                     activation="none", epochs=30, device="cpu")


def test_diverged_member_is_stored_and_replayed(factory):
    store = factory.store()
    manager = factory.manager(store)
    members = [DIVERGES.replace(lr=0.01), DIVERGES]
    batch = finished(manager.submit_batch(members))
    assert [batch.member_status(k) for k in range(2)] == ["done", "diverged"]
    record = store.get(DIVERGES.key)
    assert record.status == "diverged" and "learning rate" in record.message and record.final is None
    n = len(record.history["epoch"])
    assert 0 < n < DIVERGES.epochs
    assert all(np.isfinite(record.history[m]).all() and len(record.history[m]) == n for m in METRICS)
    replay = manager.submit_batch(members)
    assert replay.from_cache and replay.snapshot.status == ["done", "diverged"]
    for m in METRICS:
        np.testing.assert_array_equal(replay.snapshot.history[m], batch.snapshot.history[m], err_msg=m)
    alone = manager.submit(DIVERGES)                 # a diverged run counts as finished
    assert alone.from_cache and alone.status == "diverged" and alone.message == record.message


@pytest.mark.parametrize("members", [[QUICK], [DIVERGES], [DIVERGES.replace(lr=0.01), DIVERGES]],
                         ids=["done", "diverged", "batch"])
def test_served_handle_reports_what_the_trained_one_did(factory, members):
    manager = factory.manager(factory.store())
    fresh = finished(manager.submit_batch(members))
    served = manager.submit_batch(members)
    assert served.from_cache and not fresh.from_cache
    assert (served.status, served.message) == (fresh.status, fresh.message)
    assert [served.member_status(k) for k in range(len(members))] == [fresh.member_status(k) for k in range(len(members))]
    for m in METRICS:   # a diverged run's NaN tail is not stored: compare up to the replay's length
        n = served.snapshot.history[m].shape[1]
        np.testing.assert_array_equal(served.snapshot.history[m], fresh.snapshot.history[m][:, :n], err_msg=m)
        assert np.isnan(fresh.snapshot.history[m][:, n:]).all()


# --- recovery after a dead process ---------------------------------------------------------------
def insert_row(path, config: RunConfig, status: str, owner: str, updated_at: float) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO runs(key, config, status, owner, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                   (config.key, config.to_json(), status, owner, updated_at, updated_at))
    db.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(TIMEOUT)
    return proc.pid


def test_recover_marks_dead_processes_rows_interrupted(factory):
    factory.store().close()                          # creates the schema
    host, now = HOST_ID, time.time()             # this host's pid space (hostname, boot, pid namespace)
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        rows = {
            "dead running": (QUICK.replace(seed=1), "running", f"{host}:{dead_pid()}:deadbeef", now),
            "dead queued": (QUICK.replace(seed=2), "queued", f"{host}:{dead_pid()}:deadbeef", now),
            "dead but done": (QUICK.replace(seed=3), "done", f"{host}:{dead_pid()}:deadbeef", now),
            "live other process": (QUICK.replace(seed=4), "running", f"{host}:{live.pid}:cafe", now),
            "other host, fresh": (QUICK.replace(seed=5), "running", "elsewhere.example:1:abc", now),
            "other host, stale": (QUICK.replace(seed=6), "running", "elsewhere.example:1:abc", now - STALE_SECONDS - 60),
            "this process": (QUICK.replace(seed=7), "running", f"{host}:{os.getpid()}:{PROCESS_TOKEN}", now),
        }
        for config, status, owner, updated in rows.values():
            insert_row(factory.path, config, status, owner, updated)
        store = factory.store()
        expected = {"dead running": "interrupted", "dead queued": "interrupted", "dead but done": "done",
                    "live other process": "running", "other host, fresh": "running",
                    "other host, stale": "interrupted", "this process": "running"}
        assert store.recovered == 3
        for name, (config, *_rest) in rows.items():
            record = store.get(config.key)
            assert record.status == expected[name], name
            if expected[name] == "interrupted":
                assert "again" in record.message
        assert store.recover() == 0                  # idempotent
        rerun = finished(factory.manager(store).submit(rows["dead running"][0]))
        assert not rerun.from_cache and rerun.status == "done"
    finally:
        live.kill()
        live.wait(TIMEOUT)


def test_history_lists_drops_the_non_finite_tail():
    history = {"train_loss": np.array([0.7, 0.6, np.nan, np.nan]), "test_acc": np.array([0.5, 0.75, 0.5, np.nan])}
    assert history_lists(history) == {"train_loss": [0.7, 0.6], "test_acc": [0.5, 0.75], "epoch": [1, 2]}


def test_store_round_trips_a_record(factory):
    store = factory.store()
    state = {"0.weight": torch.arange(6, dtype=torch.float64).reshape(2, 3), "0.bias": torch.tensor([1.5, -2.0])}
    record = RunRecord(QUICK.key, QUICK, "done", "fine", {"train_loss": [0.5, 0.25], "epoch": [1, 2]},
                       {"test_acc": 0.75, "confusion": [[1, 0], [0, 2]]}, "cpu", 1.5, state_dict=state)
    store.finish(record)
    back = store.get(QUICK.key)
    assert (back.key, back.config, back.status, back.message, back.history, back.final, back.device, back.seconds) == (
        record.key, record.config, record.status, record.message, record.history, record.final, record.device,
        record.seconds)
    assert all(torch.equal(back.state_dict[n], t) for n, t in state.items())
    assert store.get("0" * 16) is None
    assert [r.key for r in store.list_runs(status="done")] == [QUICK.key] and store.list_runs(status="failed") == []


# --- caps, failures, cancel ----------------------------------------------------------------------
def test_per_owner_cap(factory):
    store = RecordingStore(factory.store(), hold=factory.hold())
    manager = factory.manager(store, max_per_owner=1)
    alice = manager.submit(QUICK.replace(seed=1), owner="alice")
    assert store.entered.wait(TIMEOUT)
    assert manager.submit(QUICK.replace(seed=1), owner="alice") is alice       # a duplicate is not a new job
    with pytest.raises(BusyError, match="cap 1"):
        manager.submit(QUICK.replace(seed=2), owner="alice")
    bob = manager.submit(QUICK.replace(seed=2), owner="bob")
    anonymous = manager.submit(QUICK.replace(seed=3))
    store.hold.set()
    for handle in (alice, bob, anonymous):
        assert finished(handle).status == "done"
    assert finished(manager.submit(QUICK.replace(seed=4), owner="alice")).status == "done"


def test_global_queue_cap(factory):
    store = RecordingStore(factory.store(), hold=factory.hold())
    manager = factory.manager(store, max_queued=1)
    first = manager.submit(QUICK.replace(seed=1))
    assert store.entered.wait(TIMEOUT)
    with pytest.raises(BusyError, match="busy"):
        manager.submit(QUICK.replace(seed=2))
    store.hold.set()
    assert finished(first).status == "done"


def test_queued_jobs_know_how_many_wait_before_them(factory):
    store = RecordingStore(factory.store(), hold=factory.hold())
    manager = factory.manager(store, max_workers=1)
    running = manager.submit(QUICK.replace(seed=1))
    assert store.entered.wait(TIMEOUT)               # held inside the only worker
    waiting = [manager.submit(QUICK.replace(seed=s)) for s in (2, 3, 4)]
    assert manager.queued_ahead(running) == 0
    assert [manager.queued_ahead(h) for h in waiting] == [0, 1, 2]
    waiting[0].cancel()                              # leaves the line (closed when a worker reaches it)
    assert manager.queued_ahead(waiting[2]) == 1
    store.hold.set()
    assert finished(waiting[2]).status == "done"
    assert manager.queued_ahead(waiting[2]) == 0
    assert finished(running).status == "done" and finished(waiting[1]).status == "done"


def test_failing_job_ends_failed_with_the_data_error(factory, tmp_path):
    config = RunConfig(dataset="csv", csv_path=str(tmp_path / "missing.csv"), target="y", device="cpu")
    with pytest.raises(DataError) as expected:
        datasets.load(config)
    store = factory.store()
    manager = factory.manager(store, max_workers=1)
    failed = finished(manager.submit(config))
    assert failed.status == "failed"
    assert failed.message == str(expected.value) and "missing.csv" in failed.message
    record = store.get(config.key)
    assert record.status == "failed" and record.message == failed.message
    retry = manager.submit(config)                   # failures are not served from the store
    assert retry is not failed and not retry.from_cache
    assert finished(retry).status == "failed"
    assert finished(manager.submit(QUICK)).status == "done"      # the worker survived


def test_cancel_a_running_job(factory):
    store = factory.store()
    manager = factory.manager(store)
    handle = manager.submit(LONG)
    wait_for_snapshot(handle)
    handle.cancel()
    finished(handle)
    assert handle.status == "cancelled" and handle.member_status() == "cancelled"
    snap = handle.snapshot
    assert snap.done and snap.epoch < LONG.epochs
    record = store.get(LONG.key)
    assert record.status == "cancelled" and len(record.history["epoch"]) == snap.epoch
    again = manager.submit(LONG)                     # a cancelled run is not served from the store
    assert not again.from_cache
    again.cancel()
    assert finished(again).status == "cancelled"


def test_shutdown_cancels_running_and_queued_jobs(factory):
    manager = factory.manager(factory.store(), max_workers=1)
    running = manager.submit(LONG)
    queued = manager.submit(LONG.replace(seed=1))
    wait_for_snapshot(running)
    manager.shutdown(wait=True)
    assert running.finished and running.status == "cancelled"
    assert queued.finished and queued.status == "cancelled"
    assert manager.active() == []
